"""The web channel in a real browser: Debian's chromium with its virtual authenticator.

An officer logs in (password and TOTP), registers a passkey, is told it waits for an
administrator's approval before it confirms requests; once it is approved, fills in a
subscriber-data request with a PDF, checks the preview and confirms it with the passkey.
The request is stored with its web provenance, and the page never broke the strict CSP.
"""

import base64
import hashlib
import json

import pytest
import rfc8785
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import SigningPasskey
from accounts.services.vetting import signing_passkey_approve
from portal.models import AuditEvent
from requests_app.intake.models import IntakeRejection
from requests_app.lifecycle.models import LegalRequest
from tests.factories import PASSWORD, make_officer, make_vetting_admin, totp_code
from tests.requests_app.signing import pdf_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("policy_storage_and_limits"),
]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_an_officer_submits_a_request_confirmed_with_a_passkey(passkey_page, webauthn_origin):
    page = passkey_page
    officer = make_officer(full_name="Olga Officer")
    pdf = pdf_bytes("Production order 4711")

    # Password and authenticator app.
    page.goto("/login/")
    page.get_by_label("Email address").fill(officer.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/login/verify/")
    page.get_by_label("Six-digit code").fill(totp_code(officer.user))
    page.get_by_label("Six-digit code").press("Enter")
    page.wait_for_url(webauthn_origin + "/")

    # A passkey on the virtual authenticator.
    page.goto("/account/factors/passkey/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Register a passkey").click()
    page.get_by_text("Registration successful!").wait_for()
    credential = WebAuthnCredential.objects.get(user=officer.user)

    # It logs in at once, but confirms no request until an administrator approves it.
    page.goto("/requests/new/subscriber_data/")
    page.get_by_text("yours is waiting for approval").wait_for()
    assert page.locator("#submission-form").count() == 0
    signing_passkey_approve(
        key=SigningPasskey.objects.get(credential=credential),
        actor=make_vetting_admin(),
        fingerprint_confirmed=True,
    )

    # Choose the kind.
    page.goto("/requests/new/")
    page.get_by_role("link", name="Subscriber data").click()
    page.wait_for_url("**/requests/new/subscriber_data/")
    page.wait_for_load_state("load")

    # Nothing filled in: the page says what is missing, next to each field.
    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Some fields need your attention").wait_for()
    case_reference = page.get_by_label("Case reference")
    assert case_reference.get_attribute("aria-invalid") == "true"
    assert page.locator("#attachments_error").is_visible()
    page.get_by_role("link", name="Identifier of target 1:").click()
    assert page.evaluate("document.activeElement.name") == "targets-0-value"

    # The request.
    case_reference.fill("PF-2026-0412")
    page.get_by_label("Offence").select_option("fraud")
    page.get_by_label("Legal basis").fill("Art. 5 Regulation (EU) 2023/1543")
    page.get_by_label("Name of the issuing authority").fill("Judge A. Example")
    page.get_by_label("Role", exact=True).select_option("judge")
    page.get_by_label("Contact", exact=True).fill("+4930123456")
    page.get_by_label("Identifier of target 1").fill("suspect_one")
    page.get_by_role("button", name="Add a target").click()
    page.get_by_label("Type of target 2").select_option("phone")
    page.get_by_label("Identifier of target 2").fill("+4915112345678")
    page.get_by_label("IP addresses with timestamps").check()
    page.get_by_label("Phone number").check()
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-03-31")
    page.locator("#attachment-files").set_input_files(
        files=[{"name": "order.pdf", "mimeType": "application/pdf", "buffer": pdf}]
    )
    page.get_by_text("1 file ready.").wait_for()
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    assert page.get_by_role("cell", name=pdf_sha256).is_visible()

    # The preview: exactly what will be signed, and its hash.
    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Check what you will sign").wait_for()
    payload = json.loads(page.locator("#preview-payload").text_content())
    canonical = rfc8785.dumps(payload)
    assert page.locator("#preview-canonical").text_content() == canonical.decode()
    assert page.locator("#preview-hash").text_content() == hashlib.sha256(canonical).hexdigest()
    assert payload["portal"] == webauthn_origin
    assert payload["request"]["targets"] == [
        {"type": "username", "value": "suspect_one"},
        {"type": "phone", "value": "+4915112345678"},
    ]
    assert payload["request"]["attachments"] == [
        {
            "filename": "order.pdf",
            "media_type": "application/pdf",
            "sha256": pdf_sha256,
            "size": len(pdf),
        }
    ]

    # A refusal shows the problem, and nothing is stored: here the passkey was disabled
    # after the page was loaded.
    WebAuthnCredential.objects.filter(pk=credential.pk).update(confirmed=False)
    page.get_by_role("button", name="Confirm with your passkey").click()
    page.get_by_role("heading", name="The portal did not accept the request").wait_for()
    assert page.locator("#confirm-problem-code").text_content() == "unknown_key"
    assert page.locator("#confirm-problem-detail").text_content().strip()  # the portal's words
    assert page.evaluate("document.activeElement.id") == "confirm-problem"  # read out first
    rejection = IntakeRejection.objects.get()
    assert (rejection.channel, rejection.code, rejection.officer) == ("web", "unknown_key", officer)
    assert LegalRequest.objects.count() == 0
    # Chromium reports every 4xx answer of a fetch on the console; this one was expected.
    assert page.watch.console_errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    page.watch.console_errors.clear()

    # Confirm with the passkey, checking a fresh preview.
    WebAuthnCredential.objects.filter(pk=credential.pk).update(confirmed=True)
    page.get_by_role("button", name="Change the request").click()
    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Check what you will sign").wait_for()
    second = json.loads(page.locator("#preview-payload").text_content())
    assert second["request"] == payload["request"]
    assert second["nonce"] != payload["nonce"]
    payload = second
    page.get_by_role("button", name="Confirm with your passkey").click()
    page.get_by_role("heading", name="Request received").wait_for()
    reference = page.locator("#result-reference").text_content()

    request = LegalRequest.objects.get(reference=reference)
    assert request.channel == "web"
    assert request.officer == officer
    assert request.payload == payload
    assert request.key_id == "webauthn:" + b64url(bytes(credential.credential_id))
    assert request.signature["alg"] == "webauthn"
    assert request.attachments.get().sha256 == pdf_sha256
    assert [t.value for t in request.targets.all()] == ["suspect_one", "+4915112345678"]
    received = AuditEvent.objects.get(action="legal_request.received")
    assert received.data["channel"] == "web"
    assert received.data["key_id"] == request.key_id
    receipt = json.loads(page.locator("#result-receipt").text_content())
    assert receipt == request.receipt
    # The due time as the portal writes it (Django's formats, the zone's abbreviation, how
    # long until then), the UTC instant kept for machines: not the browser's own format.
    due = page.locator("#result-due time")
    assert due.get_attribute("datetime").endswith("Z")
    assert "(in " in due.text_content()
    assert due.get_attribute("datetime") not in due.text_content()  # not the ISO string
    page.watch.assert_clean()
