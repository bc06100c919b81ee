"""Step 4: the payload names this portal, was signed just now, and its nonce is new."""

from datetime import datetime, timedelta

from django.conf import settings

from portal.problems import Problem

from ..models import LegalRequest
from .parse import ParsedEnvelope

WINDOW = timedelta(minutes=5)


def freshness_check(*, envelope: ParsedEnvelope, now: datetime) -> None:
    if envelope.payload["portal"].rstrip("/") != settings.PORTAL_AUDIENCE:
        raise Problem(
            "wrong_audience",
            400,
            f"This portal is {settings.PORTAL_AUDIENCE}; the payload names another.",
        )
    if abs(now - envelope.signed_at) > WINDOW:
        raise Problem(
            "stale",
            400,
            "signed_at is more than 5 minutes away from the portal's clock.",
            portal_time=now.isoformat().replace("+00:00", "Z"),
        )
    # A fast answer for the common case; the unique constraint on the nonce is the guard.
    if LegalRequest.objects.filter(nonce=envelope.payload["nonce"]).exists():
        raise Problem("replay", 409, "This nonce was used before.")
