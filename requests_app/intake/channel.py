"""Step 2: the channel is recognised, and the signing key is the officer's own, active key."""

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import Officer, SigningKey
from portal.problems import Problem
from requests_app.lifecycle.models import Channel


@dataclass(frozen=True)
class Sender:
    """Who submitted, through which channel, with which key."""

    officer: Officer
    channel: str
    signing_key: SigningKey | None  # API channel
    webauthn_credential: Any = None  # web channel


def officer_standing_check(officer: Officer | None) -> Officer:
    """Refuse anyone who is not an active officer of a verified agency."""
    if officer is None:
        raise Problem("unauthenticated", 401, _("Only officers of vetted agencies may submit."))
    if officer.agency.status != "verified":
        raise Problem("agency_not_verified", 403, _("Your agency is not verified."))
    if officer.status != Officer.Status.ACTIVE or not officer.user.is_active:
        raise Problem("officer_not_active", 403, _("Your account is not active."))
    return officer


def api_sender(*, officer: Officer | None, signature: dict[str, Any]) -> Sender:
    """Resolve the sender of an API submission: the token's officer and their key."""
    officer = officer_standing_check(officer)
    if signature["alg"] != "ed25519":
        raise Problem("unknown_key", 401, _("The API channel takes ed25519 signatures."))
    key = (
        SigningKey.objects.filter(key_id=signature["key_id"], officer=officer)
        .select_related("officer")
        .first()
    )
    if key is None:
        # Another officer's key id is answered like an unknown one.
        raise Problem("unknown_key", 401, _("No signing key with this id is enrolled for you."))
    if not key.is_active:
        raise Problem(
            "key_not_active",
            403,
            _("This key’s state is “%(state)s”.") % {"state": key.get_status_display()},
        )
    return Sender(officer=officer, channel=Channel.API, signing_key=key)
