"""The web channel of intake (PROTOCOL §2 "signature, web channel"), tried as an attack.

A software passkey (``tests.factories.SoftPasskey``) signs real WebAuthn assertions whose
challenge is the SHA-256 of the payload's JCS bytes. Each refusal is checked three ways:
the problem document and its code, the intake-rejection log entry (channel ``web``), and
that nothing was stored (no request, no attachment, no "received" audit event).
"""

import base64
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential
from webauthn import verify_authentication_response
from webauthn.helpers.structs import AuthenticationCredential, AuthenticatorAssertionResponse

from accounts.models import AgeRecipient, KeyStatus, SigningPasskey
from accounts.services import vetting
from accounts.services.factors import passkey_remove
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest
from tests.factories import (
    PASSWORD,
    SoftPasskey,
    log_in,
    make_agency,
    make_officer,
    make_signing_passkey,
    make_user,
    make_vetting_admin,
    passkey_register,
)
from tests.problems import assert_problem
from tests.requests_app.intake.refusals import assert_only_the_rejection_logged
from tests.requests_app.signing import enrol_signing_key, pdf_bytes, submission

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]

SUBMIT = "/requests/new/submit/"
USER_PRESENT_AND_VERIFIED = 0x05
USER_PRESENT_ONLY = 0x01


RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_of(payload: dict[str, Any]) -> str:
    return b64url(hashlib.sha256(rfc8785.dumps(payload)).digest())


def passkey_signature(
    passkey: SoftPasskey,
    payload: dict[str, Any],
    *,
    kind: str = "webauthn.get",
    origin: str | None = None,
    flags: int = USER_PRESENT_AND_VERIFIED,
    cross_origin: bool = False,
    count_step: int = 1,
) -> dict[str, str]:
    """The ``signature`` object a browser makes when the passkey confirms ``payload``.

    The keyword arguments forge what a genuine browser never sends, one field at a time.
    """
    passkey.sign_count += count_step
    auth_data = passkey._auth_data(flags)
    client_data = json.dumps(
        {
            "type": kind,
            "challenge": challenge_of(payload),
            "origin": origin or django_settings.PORTAL_AUDIENCE,
            "crossOrigin": cross_origin,
        }
    ).encode()
    value = passkey.key.sign(
        auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
    )
    return {
        "alg": "webauthn",
        "key_id": "webauthn:" + b64url(passkey.credential_id),
        "authenticator_data": b64url(auth_data),
        "client_data_json": b64url(client_data),
        "value": b64url(value),
    }


def browser_signature(passkey: SoftPasskey, payload: dict[str, Any]) -> dict[str, str]:
    """The same, through ``SoftPasskey.assertion_response`` as navigator.credentials.get."""
    answer = passkey.assertion_response({"challenge": challenge_of(payload)})
    return {
        "alg": "webauthn",
        "key_id": "webauthn:" + answer["rawId"],
        "authenticator_data": answer["response"]["authenticatorData"],
        "client_data_json": answer["response"]["clientDataJSON"],
        "value": answer["response"]["signature"],
    }


def post_web(client: Client, envelope: dict[str, Any] | bytes, files=()) -> Any:
    """POST an envelope and its files as the page's script does (multipart)."""
    raw = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    data: dict[str, Any] = {
        "envelope": SimpleUploadedFile("envelope.json", raw, "application/json")
    }
    if files:
        data["attachment"] = [SimpleUploadedFile(n, b, t) for n, b, t in files]
    return client.post(SUBMIT, data=data)


@pytest.fixture
def passkey(officer) -> SoftPasskey:
    """The officer's passkey, approved by an administrator to sign (status active)."""
    key = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=key)
    return key


@pytest.fixture
def session(client, officer) -> Client:
    """The officer's browser session: password and TOTP, as the login pages take them."""
    log_in(client, officer.user)
    return client


# --- Accepted ----------------------------------------------------------------------------


def test_a_passkey_confirmed_submission_is_accepted_with_its_provenance_and_audit_event(
    session, officer, passkey
):
    sub = submission()
    signature = browser_signature(passkey, sub.payload)
    response = post_web(session, {"payload": sub.payload, "signature": signature}, sub.files)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["reference"].startswith("LR-")
    assert answer["status"] == "received"
    request = LegalRequest.objects.get(reference=answer["reference"])
    assert request.channel == "web"
    assert request.officer == officer
    assert request.key_id == "webauthn:" + b64url(passkey.credential_id)
    assert request.signing_key is None
    assert request.signature == signature
    assert request.payload == sub.payload
    assert request.payload_sha256 == hashlib.sha256(rfc8785.dumps(sub.payload)).hexdigest()
    assert answer["receipt"]["payload_sha256"] == request.payload_sha256
    assert request.attachments.get().sha256 == hashlib.sha256(sub.files[0][1]).hexdigest()

    received = AuditEvent.objects.get(action="legal_request.received")
    assert received.actor == officer.user
    assert received.target_id == str(request.pk)
    assert received.data["channel"] == "web"
    assert received.data["key_id"] == request.key_id
    assert received.data["payload_sha256"] == request.payload_sha256
    assert IntakeRejection.objects.count() == 0

    credential = WebAuthnCredential.objects.get(user=officer.user)
    assert credential.sign_count == passkey.sign_count
    assert credential.last_used_at is not None


def test_the_confirmation_shows_the_due_time_in_the_officers_zone_and_keeps_utc_for_machines(
    session, officer, passkey
):
    officer.user.time_zone = "America/Sao_Paulo"
    officer.user.save(update_fields=["time_zone"])
    sub = submission()
    signature = browser_signature(passkey, sub.payload)

    answer = post_web(session, {"payload": sub.payload, "signature": signature}, sub.files).json()

    assert answer["due_at"].endswith("Z")  # the API's UTC instant, unchanged
    assert "-03" in answer["due_shown"]  # São Paulo's abbreviation, not UTC
    assert "UTC" not in answer["due_shown"]
    assert "<" not in answer["due_shown"]  # plain text: the page sets it as text
    assert answer["due_shown"].endswith(")")  # the relative time, "(in 1 day 23 h)"


def test_the_passkey_that_verified_a_request_is_pinned_and_outlives_the_passkey(
    session, officer, passkey, settings
):
    sub = submission()
    signature = browser_signature(passkey, sub.payload)
    response = post_web(session, {"payload": sub.payload, "signature": signature}, sub.files)
    assert response.status_code == 201, response.content
    request = LegalRequest.objects.get(reference=response.json()["reference"])
    credential = WebAuthnCredential.objects.get(user=officer.user)
    assert request.verification_key == b64url(bytes(credential.public_key))

    credential.delete()  # the officer replaces their device

    # The stored assertion still verifies, with the pinned key alone.
    request.refresh_from_db()
    decode = lambda text: base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))  # noqa: E731
    verify_authentication_response(
        credential=AuthenticationCredential(
            id=b64url(passkey.credential_id),
            raw_id=passkey.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data_json=decode(request.signature["client_data_json"]),
                authenticator_data=decode(request.signature["authenticator_data"]),
                signature=decode(request.signature["value"]),
            ),
        ),
        expected_challenge=hashlib.sha256(rfc8785.dumps(request.payload)).digest(),
        expected_rp_id=settings.OTP_WEBAUTHN_RP_ID,
        expected_origin=settings.PORTAL_AUDIENCE,
        credential_public_key=decode(request.verification_key),
        credential_current_sign_count=0,
        require_user_verification=True,
    )


def test_a_byte_identical_retry_gets_the_original_answer_and_no_second_request(session, passkey):
    sub = submission()
    raw = json.dumps({"payload": sub.payload, "signature": browser_signature(passkey, sub.payload)})
    first = post_web(session, raw.encode(), sub.files)
    second = post_web(session, raw.encode(), sub.files)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert LegalRequest.objects.count() == 1
    assert IntakeRejection.objects.count() == 0


def test_an_emergency_needs_no_document_and_is_due_in_eight_hours(session, passkey):
    sub = submission(
        files=[],
        kind="emergency",
        emergency={"justification": "A credible threat to kill, posted an hour ago."},
        data_categories=["ip_addresses"],
    )
    envelope = {"payload": sub.payload, "signature": browser_signature(passkey, sub.payload)}
    response = post_web(session, envelope)
    assert response.status_code == 201, response.content
    request = LegalRequest.objects.get()
    assert request.emergency is True
    assert request.due_at - request.received_at == timedelta(hours=8)


# --- Refused: the signature ------------------------------------------------------------


def test_an_assertion_over_a_different_payload_is_a_bad_signature(session, officer, passkey):
    sub = submission()
    other = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, other.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web", officer=officer)


def test_one_changed_field_after_the_passkey_signed_is_a_bad_signature(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload)
    sub.payload["request"]["targets"][0]["value"] = "someone_else"
    envelope = {"payload": sub.payload, "signature": signature}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web")


def test_an_assertion_made_on_another_origin_is_a_bad_signature(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload, origin="https://portal.evil.example")
    envelope = {"payload": sub.payload, "signature": signature}
    problem = assert_problem(
        post_web(session, envelope, sub.files), status=401, code="bad_signature"
    )
    assert_only_the_rejection_logged("bad_signature", channel="web")
    assert "origin" in problem["detail"]


def test_a_registration_response_is_not_a_confirmation(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload, kind="webauthn.create")
    envelope = {"payload": sub.payload, "signature": signature}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web")


def test_an_assertion_without_user_verification_is_a_bad_signature(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload, flags=USER_PRESENT_ONLY)
    envelope = {"payload": sub.payload, "signature": signature}
    problem = assert_problem(
        post_web(session, envelope, sub.files), status=401, code="bad_signature"
    )
    assert_only_the_rejection_logged("bad_signature", channel="web")
    assert "verif" in problem["detail"]


def test_an_assertion_made_inside_another_sites_frame_is_a_bad_signature(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload, cross_origin=True)
    envelope = {"payload": sub.payload, "signature": signature}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web")


def test_a_signature_counter_that_did_not_move_forward_is_a_bad_signature(
    session, officer, passkey
):
    # A cloned authenticator: its counter is behind the one the portal last saw.
    WebAuthnCredential.objects.filter(user=officer.user).update(sign_count=50)
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web")


def test_assertion_fields_that_are_not_base64url_are_a_bad_signature(session, passkey):
    sub = submission()
    signature = passkey_signature(passkey, sub.payload)
    signature["value"] = "not base64url!"
    envelope = {"payload": sub.payload, "signature": signature}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web")


# --- Refused: the key and the channel ---------------------------------------------------


def test_another_officers_passkey_is_an_unknown_key_even_with_a_valid_signature(
    session, officer, passkey
):
    colleague = make_officer(agency=officer.agency)
    theirs = SoftPasskey()
    make_signing_passkey(officer=colleague, passkey=theirs)
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(theirs, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="unknown_key")
    assert_only_the_rejection_logged("unknown_key", channel="web", officer=officer)


def test_a_passkey_that_is_not_confirmed_is_an_unknown_key(session, officer, passkey):
    WebAuthnCredential.objects.filter(user=officer.user).update(confirmed=False)
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=401, code="unknown_key")
    assert_only_the_rejection_logged("unknown_key", channel="web")


def test_a_newly_registered_passkey_cannot_sign_until_an_administrator_approves_it(
    session, officer
):
    # The attack: a phished password and one live code let someone register their own
    # passkey in the officer's name. It logs in, but it signs nothing until approved.
    attackers = SoftPasskey()
    assert passkey_register(session, attackers).status_code == 200
    key = SigningPasskey.objects.get(officer=officer)
    assert key.status == KeyStatus.PENDING
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(attackers, sub.payload)}

    problem = assert_problem(
        post_web(session, envelope, sub.files), status=403, code="key_not_active"
    )
    assert_only_the_rejection_logged("key_not_active", channel="web", officer=officer)

    assert "until an administrator approves it" in problem["detail"]
    assert IntakeRejection.objects.get().key_id == key.key_id
    assert not AuditEvent.objects.filter(action="signing_passkey.approved").exists()

    # Once the administrator compared the fingerprint with the officer and approved it.
    vetting.signing_passkey_approve(key=key, actor=make_vetting_admin(), fingerprint_confirmed=True)
    again = submission()
    envelope = {"payload": again.payload, "signature": passkey_signature(attackers, again.payload)}
    response = post_web(session, envelope, again.files)
    assert response.status_code == 201, response.content
    assert LegalRequest.objects.get().key_id == key.key_id


@pytest.mark.parametrize("decision", ["revoke", "reject"])
def test_a_revoked_or_rejected_passkey_cannot_sign_and_nothing_is_stored(
    session, officer, decision
):
    own = SoftPasskey()
    status = KeyStatus.ACTIVE if decision == "revoke" else KeyStatus.PENDING
    key = make_signing_passkey(officer=officer, passkey=own, status=status)
    decide = getattr(vetting, f"signing_passkey_{decision}")
    decide(key=key, actor=make_vetting_admin(), reason="The officer did not add this passkey.")
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(own, sub.payload)}

    assert_problem(post_web(session, envelope, sub.files), status=403, code="key_not_active")
    assert_only_the_rejection_logged("key_not_active", channel="web", officer=officer)


def test_a_passkey_the_officer_removed_is_an_unknown_key_and_its_record_stays(
    session, officer, passkey
):
    key = SigningPasskey.objects.get(officer=officer)
    passkey_remove(user=officer.user, credential=key.credential, reason="Phone lost.")
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}

    assert_problem(post_web(session, envelope, sub.files), status=401, code="unknown_key")
    assert_only_the_rejection_logged("unknown_key", channel="web", officer=officer)

    key.refresh_from_db()
    assert (key.status, key.credential, key.reason) == (KeyStatus.REVOKED, None, "Phone lost.")


def test_an_approved_passkey_whose_public_key_changed_since_cannot_sign(session, officer, passkey):
    # The key approved is the key that signs: a stored public key swapped afterwards (by
    # whoever can write to the database) no longer counts.
    other = SoftPasskey()
    WebAuthnCredential.objects.filter(user=officer.user).update(public_key=other.cose_public_key())
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}

    assert_problem(post_web(session, envelope, sub.files), status=403, code="key_not_active")
    assert_only_the_rejection_logged("key_not_active", channel="web", officer=officer)


def test_a_stolen_session_cookie_alone_cannot_submit(session, officer, passkey):
    # The thief has the session but not the passkey: an assertion made up of nothing.
    sub = submission()
    envelope = {
        "payload": sub.payload,
        "signature": {
            "alg": "webauthn",
            "key_id": "webauthn:" + b64url(passkey.credential_id),
            "authenticator_data": b64url(b"\x00" * 37),
            "client_data_json": b64url(b"{}"),
            "value": b64url(b"\x00" * 64),
        },
    }
    assert_problem(post_web(session, envelope, sub.files), status=401, code="bad_signature")
    assert_only_the_rejection_logged("bad_signature", channel="web", officer=officer)


def test_the_web_channel_takes_no_api_signatures(session, officer, passkey):
    # Even a valid Ed25519 signature with the officer's own active API key: the session
    # channel needs the passkey's confirmation.
    signer = enrol_signing_key(officer)
    sub = submission()
    assert_problem(post_web(session, sub.sign(signer), sub.files), status=401, code="unknown_key")
    assert_only_the_rejection_logged("unknown_key", channel="web")


def test_a_session_without_a_second_factor_is_refused(client, officer, passkey):
    response = client.post("/login/", {"username": officer.user.email, "password": PASSWORD})
    assert response.status_code == 302
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    problem = assert_problem(
        post_web(client, envelope, sub.files), status=401, code="unauthenticated"
    )
    assert_only_the_rejection_logged("unauthenticated", channel="web")
    assert "second factor" in problem["detail"]
    assert IntakeRejection.objects.get().officer == officer


def test_a_reviewers_session_cannot_submit(client, passkey):
    reviewer = make_user()
    log_in(client, reviewer)
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(client, envelope, sub.files), status=401, code="unauthenticated")
    assert_only_the_rejection_logged("unauthenticated", channel="web")


def test_no_session_is_sent_to_the_login_page_and_nothing_is_stored(client, passkey):
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    response = post_web(client, envelope, sub.files)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert LegalRequest.objects.count() == 0


def test_a_post_without_the_csrf_token_is_refused(session, passkey):
    # Another site's page making the officer's browser post: the cookie, not the token.
    browser = Client(enforce_csrf_checks=True)
    browser.cookies = session.cookies
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert post_web(browser, envelope, sub.files).status_code == 403
    assert LegalRequest.objects.count() == 0

    # The page's own script sends the token from the page in a header.
    page = browser.get("/requests/new/subscriber_data/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    raw = json.dumps(envelope).encode()
    response = browser.post(
        SUBMIT,
        data={
            "envelope": SimpleUploadedFile("envelope.json", raw, "application/json"),
            "attachment": [SimpleUploadedFile(n, b, t) for n, b, t in sub.files],
        },
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 201, response.content


# --- Refused: steps 1 and 4 to 6, and the limits ------------------------------------------


def test_a_replayed_nonce_is_a_replay(session, officer, passkey):
    first = submission()
    envelope = {"payload": first.payload, "signature": passkey_signature(passkey, first.payload)}
    assert post_web(session, envelope, first.files).status_code == 201

    again = submission()
    again.payload["nonce"] = first.payload["nonce"]
    envelope = {"payload": again.payload, "signature": passkey_signature(passkey, again.payload)}
    response = post_web(session, envelope, again.files)
    assert response.status_code == 409
    assert response.json()["code"] == "replay"
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.channel, rejection.officer) == ("replay", "web", officer)
    assert LegalRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="legal_request.received").count() == 1


def test_a_payload_for_another_portal_is_the_wrong_audience(session, passkey):
    sub = submission()
    sub.payload["portal"] = "https://other-portal.example"
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=400, code="wrong_audience")
    assert_only_the_rejection_logged("wrong_audience", channel="web")


def test_an_unknown_field_is_malformed(session, passkey):
    sub = submission()
    sub.payload["request"]["priority"] = "high"
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=400, code="malformed")
    assert_only_the_rejection_logged("malformed", channel="web")


def test_a_missing_envelope_part_is_malformed(session, officer):
    response = session.post(SUBMIT, data={"attachment": SimpleUploadedFile("a.pdf", b"%PDF-")})
    assert_problem(response, status=400, code="malformed")
    assert_only_the_rejection_logged("malformed", channel="web", officer=officer)


def test_an_attachment_that_differs_from_its_declaration_is_refused(session, passkey):
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    other = [("order.pdf", pdf_bytes("another order"), "application/pdf")]
    assert_problem(post_web(session, envelope, other), status=422, code="attachment_mismatch")
    assert_only_the_rejection_logged("attachment_mismatch", channel="web")


def test_a_document_kind_without_its_document_is_a_policy_violation(session, passkey):
    sub = submission(files=[])
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    problem = assert_problem(post_web(session, envelope), status=422, code="policy_violation")
    assert_only_the_rejection_logged("policy_violation", channel="web")
    assert problem["rule"] == "document_required"


def test_a_body_over_the_size_limit_is_too_large(session, officer, passkey, settings):
    settings.INTAKE_MAX_REQUEST_BYTES = 1000
    sub = submission()
    envelope = {"payload": sub.payload, "signature": passkey_signature(passkey, sub.payload)}
    assert_problem(post_web(session, envelope, sub.files), status=413, code="too_large")
    assert_only_the_rejection_logged("too_large", channel="web", officer=officer)


def test_submitting_too_fast_is_rate_limited_with_retry_after(session, passkey, settings):
    settings.INTAKE_RATE_LIMITS = {**settings.INTAKE_RATE_LIMITS, "submission_officer": "1/min"}
    first = submission()
    envelope = {"payload": first.payload, "signature": passkey_signature(passkey, first.payload)}
    assert post_web(session, envelope, first.files).status_code == 201

    second = submission()
    envelope = {"payload": second.payload, "signature": passkey_signature(passkey, second.payload)}
    response = post_web(session, envelope, second.files)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert LegalRequest.objects.count() == 1
    rejection = IntakeRejection.objects.get()
    assert (rejection.code, rejection.channel) == ("rate_limited", "web")


# --- The pages: kinds, fields, preview ----------------------------------------------------


def test_the_kinds_offered_follow_the_country_policy(client):
    german = make_officer()
    log_in(client, german.user)
    page = client.get("/requests/new/").content.decode()
    assert "/requests/new/eu_epoc/" in page
    assert "/requests/new/emergency/" in page

    client.logout()
    us_officer = make_officer(agency=make_agency(country="US"))
    log_in(client, us_officer.user)
    page = client.get("/requests/new/").content.decode()
    assert "/requests/new/subscriber_data/" in page
    assert "/requests/new/eu_epoc/" not in page
    assert client.get("/requests/new/eu_epoc/").status_code == 404


@pytest.mark.parametrize("owner", [None, "officer", "agency", "pending"])
def test_an_officer_without_an_approved_age_recipient_is_warned_before_submitting(client, owner):
    officer = make_officer()
    if owner == "officer":
        AgeRecipient.objects.create(officer=officer, recipient=RECIPIENT, status=KeyStatus.ACTIVE)
    elif owner == "agency":
        AgeRecipient.objects.create(
            agency=officer.agency, recipient=RECIPIENT, status=KeyStatus.ACTIVE
        )
    elif owner == "pending":
        AgeRecipient.objects.create(officer=officer, recipient=RECIPIENT, status=KeyStatus.PENDING)
    log_in(client, officer.user)

    page = client.get("/requests/new/").content.decode()

    warned = "could not be delivered" in page
    assert warned == (owner in (None, "pending"))


def test_the_form_has_the_fields_of_its_kind_and_no_others(session, passkey):
    response = session.get("/requests/new/subscriber_data/")
    policy = response["Content-Security-Policy"]
    # The page uses no nonce, so Django sends none: only the portal's own files run.
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    page = response.content.decode()
    # Only the categories the policy allows for subscriber data.
    assert 'value="ip_addresses"' in page
    assert 'value="login_history"' not in page
    assert 'name="justification"' not in page
    assert 'id="attachment-files"' in page
    assert "required" in page.split('id="attachment-files"')[1].split(">")[0]
    assert 'src="/static/dist/submit.js"' in page
    assert "<script>" not in page  # nothing inline: the CSP allows none

    page = session.get("/requests/new/emergency/").content.decode()
    assert 'name="justification"' in page
    assert 'value="login_history"' in page
    assert "required" not in page.split('id="attachment-files"')[1].split(">")[0]


def test_the_form_without_a_passkey_asks_for_one_first(session):
    page = session.get("/requests/new/subscriber_data/").content.decode()
    assert "Register a passkey" in page
    assert 'id="submission-form"' not in page


def test_an_officer_whose_passkey_waits_for_approval_is_told_so_before_filling_anything(
    session, officer
):
    make_signing_passkey(officer=officer, status=KeyStatus.PENDING)

    kinds = session.get("/requests/new/").content.decode()
    form = session.get("/requests/new/subscriber_data/").content.decode()

    for page in (kinds, form):
        assert "yours is waiting for approval" in page
        assert "/account/keys/" in page
    assert 'id="submission-form"' not in form
    assert "dist/submit.js" not in form


def test_the_form_offers_the_browser_only_the_approved_passkeys(session, officer, passkey):
    pending = make_signing_passkey(officer=officer, status=KeyStatus.PENDING)

    page = session.get("/requests/new/subscriber_data/").content.decode()

    assert b64url(passkey.credential_id) in page
    assert pending.key_id.removeprefix("webauthn:") not in page


def test_the_pages_are_for_officers_only(client):
    reviewer = make_user()
    log_in(client, reviewer)
    assert client.get("/requests/new/").status_code == 403
    assert client.get("/requests/new/subscriber_data/").status_code == 403


def today() -> date:
    return datetime.now(UTC).date()


def form_data(pdf: bytes | None = None, **overrides: Any) -> dict[str, Any]:
    """The fields the page posts for a check (the files' declarations; ``check`` adds the files)."""
    day = today()
    data: dict[str, Any] = {
        "case_reference": "PF-2026-0412",
        "offence": "fraud",
        "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
        "authority_name": "Judge A. Example",
        "authority_role": "judge",
        "authority_contact": "+4930123",
        "targets-TOTAL_FORMS": "2",
        "targets-INITIAL_FORMS": "0",
        "targets-MIN_NUM_FORMS": "1",
        "targets-MAX_NUM_FORMS": "50",
        "targets-0-type": "username",
        "targets-0-value": "suspect_one",
        "targets-1-type": "phone",
        "targets-1-value": "+4915112345678",
        "data_categories": ["ip_addresses", "phone_number"],
        "period_from": (day - timedelta(days=60)).isoformat(),
        "period_to": day.isoformat(),
        "attachments": json.dumps(
            [
                {
                    "filename": "order.pdf",
                    "media_type": "application/pdf",
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                    "size": len(pdf),
                }
            ]
            if pdf
            else []
        ),
    }
    data.update(overrides)
    return data


def check(session: Client, kind: str, data: dict[str, Any], *files: bytes) -> Any:
    """POST the form to the check step with its files, as the page does (multipart)."""
    uploads = [SimpleUploadedFile("order.pdf", pdf, "application/pdf") for pdf in files]
    return session.post(f"/requests/new/{kind}/check/", {**data, "attachment": uploads})


def test_the_preview_answers_the_payload_that_intake_then_accepts(session, officer, passkey):
    pdf = pdf_bytes("Production order")
    response = check(session, "subscriber_data", form_data(pdf), pdf)
    assert response.status_code == 200, response.content
    payload = response.json()["payload"]
    assert payload["portal"] == django_settings.PORTAL_AUDIENCE
    assert len(payload["nonce"]) >= 22
    assert payload["signed_at"].endswith("Z")
    assert payload["request"] == {
        "kind": "subscriber_data",
        "case_reference": "PF-2026-0412",
        "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
        "issuing_authority": {"name": "Judge A. Example", "role": "judge", "contact": "+4930123"},
        "offence": "fraud",
        "targets": [
            {"type": "username", "value": "suspect_one"},
            {"type": "phone", "value": "+4915112345678"},
        ],
        "data_categories": ["ip_addresses", "phone_number"],
        "period": payload["request"]["period"],
        "attachments": [
            {
                "filename": "order.pdf",
                "media_type": "application/pdf",
                "sha256": hashlib.sha256(pdf).hexdigest(),
                "size": len(pdf),
            }
        ],
    }
    envelope = {"payload": payload, "signature": browser_signature(passkey, payload)}
    response = post_web(session, envelope, [("order.pdf", pdf, "application/pdf")])
    assert response.status_code == 201, response.content
    assert LegalRequest.objects.get().targets.count() == 2


def test_the_preview_of_an_emergency_carries_the_justification_and_non_disclosure(session):
    until = (today() + timedelta(days=90)).isoformat()
    data = form_data(
        justification="A credible threat to kill, posted an hour ago.",
        data_categories=["ip_addresses", "login_history"],
        non_disclosure="on",
        non_disclosure_until=until,
        non_disclosure_basis="Court order 12/2026",
    )
    response = check(session, "emergency", data)
    assert response.status_code == 200, response.content
    request = response.json()["payload"]["request"]
    assert request["emergency"] == {
        "justification": "A credible threat to kill, posted an hour ago."
    }
    assert request["non_disclosure"] == {"until": until, "basis": "Court order 12/2026"}
    assert "attachments" not in request


def errors_of(response) -> dict[str, str]:
    problem = assert_problem(response, status=400, code="malformed")
    return {error["field"]: error["message"] for error in problem["errors"]}


def test_the_preview_names_each_field_to_correct(session):
    pdf = pdf_bytes()
    data = form_data(pdf, case_reference="", **{"targets-1-value": ""})
    data["data_categories"] = ["login_history"]  # not disclosable for subscriber data
    errors = errors_of(check(session, "subscriber_data", data, pdf))
    assert set(errors) == {"case_reference", "targets-1-value", "data_categories"}


def test_the_preview_applies_the_policy(session):
    errors = errors_of(check(session, "subscriber_data", form_data(None)))
    assert set(errors) == {"attachments"}
    assert "PDF" in errors["attachments"]

    long_ago = (today() - timedelta(days=1000)).isoformat()
    pdf = pdf_bytes()
    data = form_data(pdf, period_from=long_ago)
    errors = errors_of(check(session, "subscriber_data", data, pdf))
    assert set(errors) == {"period_to"}


def test_the_preview_checks_the_declared_files(session):
    declared = [
        {
            "filename": "x.exe",
            "media_type": "application/x-msdownload",
            "sha256": "0" * 64,
            "size": 10,
        }
    ]
    data = form_data(None, attachments=json.dumps(declared))
    errors = errors_of(check(session, "subscriber_data", data))
    assert set(errors) == {"attachments"}


def test_a_non_disclosure_order_needs_its_date_and_basis(session):
    pdf = pdf_bytes()
    data = form_data(pdf, non_disclosure="on")
    errors = errors_of(check(session, "subscriber_data", data, pdf))
    assert set(errors) == {"non_disclosure_until", "non_disclosure_basis"}
