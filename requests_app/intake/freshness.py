"""Step 4: the payload names this portal, was signed just now, and its nonce is new."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext as _

from portal.problems import Problem
from requests_app.intake.parse import ParsedEnvelope

WINDOW = timedelta(minutes=5)


def freshness_check(*, envelope: ParsedEnvelope, now: datetime, nonce_used: bool) -> None:
    """Refuse another portal's payload, a stale ``signed_at``, or a nonce seen before.

    ``nonce_used`` is what the pipeline's look-up of the nonce found (it asks once, for
    the retry check and for this one); the unique constraint on the nonce is the guard
    when two submissions race past both.
    """
    if envelope.payload["portal"].rstrip("/") != settings.PORTAL_AUDIENCE:
        raise Problem(
            "wrong_audience",
            400,
            _("This portal is %(portal)s; the payload names another.")
            % {"portal": settings.PORTAL_AUDIENCE},
        )
    if abs(now - envelope.signed_at) > WINDOW:
        raise Problem(
            "stale",
            400,
            _("signed_at is more than 5 minutes away from the portal's clock."),
            portal_time=now.isoformat().replace("+00:00", "Z"),
        )
    if nonce_used:
        raise Problem("replay", 409, _("This nonce was used before."))
