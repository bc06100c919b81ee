"""Step 3: the signature verifies over the canonical payload (RFC 8785 bytes)."""

from django.utils.translation import gettext as _

from accounts.models import SigningKey
from portal import crypto
from portal.problems import Problem
from requests_app.intake.parse import ParsedEnvelope


def ed25519_signature_check(*, envelope: ParsedEnvelope, key: SigningKey | None) -> None:
    """Verify an API submission's Ed25519 signature, or raise ``bad_signature``."""
    if key is None:
        raise Problem("unknown_key", 401, _("No signing key with this id is enrolled for you."))
    try:
        signature = crypto.b64decode_strict(envelope.signature["value"])
    except ValueError:
        raise Problem(
            "bad_signature", 401, _("The signature value is not canonical base64.")
        ) from None
    if len(signature) != 64:
        raise Problem("bad_signature", 401, _("An Ed25519 signature is 64 bytes."))
    public_key = crypto.ed25519_public_key_from_pem(key.public_key_pem)
    try:
        crypto.ed25519_verify(public_key, signature, envelope.payload_jcs)
    except crypto.BadSignature:
        raise Problem(
            "bad_signature", 401, _("The signature does not verify over the canonical payload.")
        ) from None
