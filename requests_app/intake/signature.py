"""Step 3: the signature verifies over the canonical payload (RFC 8785 bytes)."""

import functools

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.utils.translation import gettext as _

from accounts.models import SigningKey
from portal import crypto
from portal.problems import Problem
from requests_app.intake.parse import ParsedEnvelope


@functools.lru_cache(maxsize=1024)
def _public_key(pem: str) -> Ed25519PublicKey:
    """The key object of a PEM text, parsed once per process: the text is the key (the row
    that holds it, and whether it may sign, is read afresh for every submission)."""
    return crypto.ed25519_public_key_from_pem(pem)


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
    public_key = _public_key(key.public_key_pem)
    try:
        crypto.ed25519_verify(public_key, signature, envelope.payload_jcs)
    except crypto.BadSignature:
        raise Problem(
            "bad_signature", 401, _("The signature does not verify over the canonical payload.")
        ) from None
