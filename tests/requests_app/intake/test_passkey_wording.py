"""Each way a passkey confirmation fails is told in a sentence that says what to do.

The WebAuthn library's own words ("Response sign count of 2 was not greater than current
count of 2", "Unexpected client data origin ...") must reach neither the officer (the
problem's ``detail``) nor the administrators' rejection log. Each case is a forged or
replayed assertion, refused as ``bad_signature`` with nothing stored.
"""

import base64
import hashlib
import json
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_otp_webauthn.models import WebAuthnCredential

from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import Attachment, LegalRequest
from tests.factories import SoftPasskey, log_in, make_officer, make_signing_passkey
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.signing import submission

pytestmark = pytest.mark.django_db

# Phrases of py_webauthn's exceptions: none may be shown.
LIBRARY_WORDS = [
    "Response sign count",
    "was not greater than",
    "Unexpected client data",
    "Unexpected RP ID hash",
    "Could not verify authentication signature",
    "was not expected challenge",
    "User verification is required",
    "User was not present",
    "clientDataJSON was malformed",
    "authenticatorData was malformed",
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(
    passkey: SoftPasskey,
    payload: dict[str, Any],
    *,
    origin: str | None = None,
    flags: int = 0x05,
    rp_id: str | None = None,
    count_step: int = 1,
    sign_other: bytes = b"",
    kind: str = "webauthn.get",
) -> dict[str, str]:
    """What a browser sends when the passkey confirms ``payload``, with one thing forged."""
    passkey.sign_count += count_step
    rp_hash = hashlib.sha256((rp_id or django_settings.OTP_WEBAUTHN_RP_ID).encode()).digest()
    auth_data = rp_hash + bytes([flags]) + passkey.sign_count.to_bytes(4, "big")
    challenge = b64url(hashlib.sha256(rfc8785.dumps(payload)).digest())
    client_data = json.dumps(
        {
            "type": kind,
            "challenge": challenge,
            "origin": origin or django_settings.PORTAL_AUDIENCE,
            "crossOrigin": False,
        }
    ).encode()
    value = passkey.key.sign(
        auth_data + hashlib.sha256(client_data).digest() + sign_other, ec.ECDSA(hashes.SHA256())
    )
    return {
        "alg": "webauthn",
        "key_id": "webauthn:" + b64url(passkey.credential_id),
        "authenticator_data": b64url(auth_data),
        "client_data_json": b64url(client_data),
        "value": b64url(value),
    }


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path):
    tmp_storage(settings, tmp_path / "storage")


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Any:
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def officer():
    return make_officer()


@pytest.fixture
def passkey(officer) -> SoftPasskey:
    key = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=key)
    return key


@pytest.fixture
def session(client, officer):
    log_in(client, officer.user)
    return client


def refused(session, sub, signature) -> str:
    envelope = json.dumps({"payload": sub.payload, "signature": signature}).encode()
    response = session.post(
        "/requests/new/submit/",
        {
            "envelope": SimpleUploadedFile("envelope.json", envelope, "application/json"),
            "attachment": [SimpleUploadedFile(n, b, t) for n, b, t in sub.files],
        },
    )
    assert response.status_code == 401, response.content
    problem = response.json()
    assert problem["code"] == "bad_signature"
    rejection = IntakeRejection.objects.get()
    for words in LIBRARY_WORDS:
        assert words not in problem["detail"]
        assert words not in rejection.detail
    assert rejection.detail == problem["detail"][:300]
    assert LegalRequest.objects.count() == 0
    assert Attachment.objects.count() == 0
    assert not AuditEvent.objects.filter(action="legal_request.received").exists()
    return problem["detail"]


def test_a_replayed_sign_count_says_to_confirm_again_and_to_report_a_repeat(
    session, officer, passkey
):
    # The portal saw the counter at 2; the assertion says 2 again (a replay or a clone).
    WebAuthnCredential.objects.filter(user=officer.user).update(sign_count=2)
    passkey.sign_count = 1
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload))
    assert detail.startswith("Your passkey's signature counter did not move forward.")
    assert "confirm it with your passkey once more" in detail
    assert "tell the platform's vetting team" in detail


def test_a_wrong_origin_names_the_portals_address(session, passkey):
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload, origin="https://evil.example"))
    assert "another web address (origin)" in detail
    assert f"Open the portal at {django_settings.PORTAL_AUDIENCE}" in detail
    assert "evil.example" not in detail


def test_no_user_verification_says_to_unlock_the_passkey(session, passkey):
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload, flags=0x01))
    assert "did not verify you" in detail
    assert "unlock the passkey" in detail


def test_a_passkey_of_another_site_says_which_passkey_to_use(session, passkey):
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload, rp_id="evil.example"))
    assert detail.startswith("This passkey belongs to another web site.")


def test_an_assertion_over_another_payload_says_to_check_and_confirm_again(session, passkey):
    sub, other = submission(), submission()
    detail = refused(session, sub, assertion(passkey, other.payload))
    assert detail.startswith("The passkey confirmed a different version of this request.")


def test_a_registration_is_not_a_confirmation(session, passkey):
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload, kind="webauthn.create"))
    assert "something other than a confirmation" in detail


def test_a_signature_that_does_not_verify_says_what_to_do(session, passkey):
    sub = submission()
    detail = refused(session, sub, assertion(passkey, sub.payload, sign_other=b"x"))
    assert detail.startswith("The passkey's signature does not match this request.")
    assert "register your passkey anew" in detail


def test_damaged_fields_say_to_confirm_again(session, passkey):
    sub = submission()
    signature = assertion(passkey, sub.payload)
    signature["client_data_json"] = b64url(b"{not json")
    detail = refused(session, sub, signature)
    assert detail.startswith("The passkey's confirmation arrived damaged.")
