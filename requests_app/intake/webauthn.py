"""Steps 2 and 3 for the web channel: the officer's own passkey confirmed this exact payload.

PROTOCOL §2.5: the WebAuthn challenge is the SHA-256 of the payload's JCS bytes, so the
passkey assertion is a signature over the submission itself, not a login. A session
cookie, stolen or not, cannot make one: it takes the officer's authenticator and their
user verification (PIN or biometric) for each submission.

This is the one module that verifies web-channel signatures. It calls the ``webauthn``
library (py_webauthn, which django-otp-webauthn already uses to check logins) rather
than ``portal.crypto``: an assertion is not a bare signature but a structure whose
client data, relying party hash, flags and counter must all be checked, and the library
does exactly that in ``verify_authentication_response``. Nothing here imports a crypto
primitive; every failure becomes ``bad_signature`` with a sentence that says what to do.
"""

import base64
import binascii
import hashlib
import logging
import re
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp_webauthn.models import WebAuthnCredential
from webauthn import verify_authentication_response
from webauthn.helpers import parse_authenticator_data, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorAssertionResponse,
    ClientDataType,
)

from accounts.models import SigningPasskey
from accounts.services.keys import passkey_public_key_sha256
from portal.problems import Problem
from requests_app.intake.channel import Lookups, Sender, officer_standing_check
from requests_app.intake.parse import ParsedEnvelope
from requests_app.lifecycle.access import officer_of
from requests_app.lifecycle.models import Channel

logger = logging.getLogger(__name__)

KEY_ID_PREFIX = "webauthn:"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def b64url_decode_strict(text: str) -> bytes:
    """Decode unpadded base64url (RFC 4648 §5), refusing any other character."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unknown_key(detail: str = "No passkey with this id is registered for you.") -> Problem:
    return Problem("unknown_key", 401, detail)


def _bad_signature(detail: str) -> Problem:
    return Problem("bad_signature", 401, detail)


def web_sender(
    *,
    user: Any,
    verified: bool,
    signature: dict[str, Any],
    lookups: Lookups | None = None,
) -> Sender:
    """Resolve the sender of a web submission: the session's officer and their passkey.

    The session must have passed a second factor; the passkey named by ``key_id`` must be
    one of that officer's own, confirmed credentials, and approved as a signing key. Another
    officer's passkey is answered like an unknown one; the officer's own passkey that is
    pending, rejected or revoked is ``key_not_active``, as an Ed25519 key in that state is
    on the API channel. A passkey logs in while pending; it signs only once approved.
    ``lookups`` are read in the same query as the credential, as ``api_sender``'s are.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        raise Problem("unauthenticated", 401, _("Log in to submit a request."))
    if not verified:
        raise Problem("unauthenticated", 401, _("A verified second factor is required."))
    officer = officer_standing_check(officer_of(user))
    if signature["alg"] != "webauthn":
        raise _unknown_key("The web channel takes confirmations with a passkey (alg webauthn).")
    key_id = signature["key_id"]
    if not key_id.startswith(KEY_ID_PREFIX):
        raise _unknown_key("A passkey's key id is webauthn: and its credential id.")
    try:
        credential_id = b64url_decode_strict(key_id.removeprefix(KEY_ID_PREFIX))
    except ValueError:
        raise _unknown_key("A passkey's key id is webauthn: and its credential id.") from None
    extra = lookups.expressions(officer) if lookups else {}
    credential = (
        WebAuthnCredential.objects.filter(
            credential_id_sha256=WebAuthnCredential.get_credential_id_sha256(credential_id),
            user_id=officer.user_id,
            confirmed=True,
        )
        .annotate(**extra)
        .first()
    )
    if credential is None or bytes(credential.credential_id) != credential_id:
        raise _unknown_key()
    signing = SigningPasskey.objects.filter(credential=credential, officer=officer).first()
    if signing is None:
        raise _unknown_key()
    if not signing.is_active:
        if signing.status == "pending":
            detail = _(
                "This passkey’s state is “%(state)s”: it cannot confirm requests until an "
                "administrator approves it."
            )
        else:
            detail = _("This passkey’s state is “%(state)s”: it cannot confirm requests.")
        raise Problem("key_not_active", 403, detail % {"state": signing.get_status_display()})
    if passkey_public_key_sha256(credential) != signing.public_key_sha256:
        raise Problem("key_not_active", 403, _("This passkey is not the one that was approved."))
    return Sender(
        officer=officer,
        channel=Channel.WEB,
        signing_key=None,
        webauthn_credential=credential,
        looked_up={name: getattr(credential, name) for name in extra},
    )


# Each way a passkey confirmation can fail, as a sentence that says what to do. The
# library's own words (e.g. "Response sign count of 2 was not greater than current count
# of 2") are logged for the operators and never reach the officer or the rejection log.
def _damaged() -> str:
    return _(
        "The passkey's confirmation arrived damaged. Confirm the request again with your passkey."
    )


def _not_a_confirmation() -> str:
    return _(
        "The passkey answered with something other than a confirmation of a request. "
        "Check the request again and confirm it with your passkey."
    )


def _other_payload() -> str:
    return _(
        "The passkey confirmed a different version of this request. "
        "Check the request again, then confirm it with your passkey."
    )


def _other_origin() -> str:
    return _(
        "The passkey confirmed the request on another web address (origin) than this "
        "portal's. Open the portal at %(address)s and confirm the request there."
    ) % {"address": settings.PORTAL_AUDIENCE}


def _framed() -> str:
    return _(
        "The passkey was used inside another site's frame. Open the portal at %(address)s "
        "directly and confirm the request there."
    ) % {"address": settings.PORTAL_AUDIENCE}


def _other_site() -> str:
    return _(
        "This passkey belongs to another web site. Confirm with the passkey you registered "
        "with this portal."
    )


def _not_present() -> str:
    return _(
        "The passkey did not register your touch. Confirm again, and touch or unlock your "
        "passkey when the browser asks."
    )


def _not_verified() -> str:
    return _(
        "Your passkey did not verify you (PIN, fingerprint or face). Confirm again, and "
        "unlock the passkey when the browser asks."
    )


def counter_message() -> str:
    return _(
        "Your passkey's signature counter did not move forward. This happens when one "
        "confirmation is sent twice, or when a passkey was copied. Check the request and "
        "confirm it with your passkey once more; if this happens again, tell the platform's "
        "vetting team, because your passkey may have been copied."
    )


def _signature_wrong() -> str:
    return _(
        "The passkey's signature does not match this request. Check the request and confirm "
        "it with your passkey again; if it fails again, register your passkey anew on your "
        "account page."
    )


def _assertion_precheck(
    *,
    client_data_json: bytes,
    authenticator_data: bytes,
    challenge: bytes,
    stored_count: int,
) -> None:
    """The checks of ``verify_authentication_response``, each with its own sentence.

    The same checks in the same order, made here first so that each failure can say what
    to do; the library then checks everything again and verifies the signature.
    """
    try:
        client_data = parse_client_data_json(client_data_json)
    except Exception:  # the library raises whatever its JSON reading met
        raise _bad_signature(_damaged()) from None
    if client_data.type != ClientDataType.WEBAUTHN_GET:
        raise _bad_signature(_not_a_confirmation())
    if client_data.challenge != challenge:
        raise _bad_signature(_other_payload())
    if client_data.origin != settings.PORTAL_AUDIENCE:
        raise _bad_signature(_other_origin())
    # The library does not look at crossOrigin: an assertion made inside a frame on
    # another site is refused here (the portal itself is never framed).
    if client_data.cross_origin:
        raise _bad_signature(_framed())
    try:
        data = parse_authenticator_data(authenticator_data)
    except Exception:
        raise _bad_signature(_damaged()) from None
    if data.rp_id_hash != hashlib.sha256(settings.OTP_WEBAUTHN_RP_ID.encode()).digest():
        raise _bad_signature(_other_site())
    if not data.flags.up:
        raise _bad_signature(_not_present())
    if not data.flags.uv:
        raise _bad_signature(_not_verified())
    if (data.sign_count > 0 or stored_count > 0) and data.sign_count <= stored_count:
        raise _bad_signature(counter_message())


def webauthn_signature_check(*, envelope: ParsedEnvelope, credential: WebAuthnCredential) -> None:
    """Verify the passkey assertion over the payload, or raise ``bad_signature``.

    Checked: client data type ``webauthn.get``, origin PORTAL_AUDIENCE and not
    cross-origin, challenge = SHA-256 of the payload's JCS bytes, relying party id hash,
    user present and verified, the signature over authenticatorData || SHA-256(clientData)
    with the stored public key, and a sign count that moved forward (then stored). Each
    failure's detail is a sentence that says what to do (``_assertion_precheck``).
    """
    signature = envelope.signature
    try:
        client_data_json = b64url_decode_strict(signature["client_data_json"])
        authenticator_data = b64url_decode_strict(signature["authenticator_data"])
        value = b64url_decode_strict(signature["value"])
    except ValueError:
        raise _bad_signature(_damaged()) from None
    challenge = hashlib.sha256(envelope.payload_jcs).digest()
    _assertion_precheck(
        client_data_json=client_data_json,
        authenticator_data=authenticator_data,
        challenge=challenge,
        stored_count=credential.sign_count,
    )
    credential_id = bytes(credential.credential_id)
    assertion = AuthenticationCredential(
        id=b64url_encode(credential_id),
        raw_id=credential_id,
        response=AuthenticatorAssertionResponse(
            client_data_json=client_data_json,
            authenticator_data=authenticator_data,
            signature=value,
        ),
    )
    try:
        verified = verify_authentication_response(
            credential=assertion,
            expected_challenge=challenge,
            expected_rp_id=settings.OTP_WEBAUTHN_RP_ID,
            expected_origin=settings.PORTAL_AUDIENCE,
            credential_public_key=bytes(credential.public_key),
            credential_current_sign_count=credential.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        logger.info("A web confirmation did not verify: %s", exc)
        raise _bad_signature(_signature_wrong()) from None
    _sign_count_record(credential=credential, new_count=verified.new_sign_count)


def _sign_count_record(*, credential: WebAuthnCredential, new_count: int) -> None:
    """Store the authenticator's counter, refusing one that a concurrent use overtook.

    Authenticators that keep no counter report 0 every time; the library lets those
    through, and there is nothing to store but the time.
    """
    now = timezone.now()
    credentials = WebAuthnCredential.objects.filter(pk=credential.pk)
    if new_count == 0:
        credentials.update(last_used_at=now)
        return
    if not credentials.filter(sign_count__lt=new_count).update(
        sign_count=new_count, last_used_at=now
    ):
        raise _bad_signature(counter_message())
