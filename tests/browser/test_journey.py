"""The whole journey in Debian's chromium, through the real pages and nothing else.

An officer registers, confirms the mailbox from the emailed link, enrols an authenticator
app (the code computed from the secret the page shows), backup codes and a passkey on
the virtual authenticator. A vetting administrator, in a browser of their own, records
the callback to the agency's number on file and approves the officer; the officer makes
an age key pair in the browser, keeps the identity file, and the administrator approves
the recipient and, after reading its fingerprint with the officer, the passkey as a
signing key (until then it logs in but confirms no request). The officer submits a
subscriber-data request through the web channel, confirmed with the passkey. One
reviewer claims, assesses and proposes; a second one looks at the records, confirms and
hands the approval to delivery, which seals the response on commit. The officer opens
it in the page with the identity file kept from the start and sees the records and a
valid signature.

Setup creates only what comes from outside the portal's pages: the verified agency with
its domain and callback number, the vetting administrator, the two reviewers, and the
platform's own data about the account the request names. That setup and the staff's steps
are tests/browser/journey_steps.py's, shared with the Brazilian journey.
"""

import re
from pathlib import Path

import pytest
from django.core import mail

from portal import crypto
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.delivery.models import SealedResponse
from requests_app.lifecycle.models import LegalRequest
from tests.browser import journey_steps as steps
from tests.browser.conftest import ARTIFACTS
from tests.browser.journey_steps import (
    CONNECTIONS_FILE,
    Journey,
    clean,
    code_from_shown_secret,
    emails_to,
    go,
)
from tests.factories import PASSWORD, mailbox_link_path
from tests.requests_app.signing import pdf_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("policy_storage_and_limits"),
]

JOURNEY = Journey(
    officer_email="anna.schmidt@polizei.example.de",
    officer_name="Anna Schmidt",
    officer_title="Detective Inspector",
    agency_name="Landespolizei Example",
    agency_country="DE",
    agency_domain="polizei.example.de",
    callback_number="+4930123456",
    callback_shown="+49 30 123456",  # in international format, a tel: link
    callback_tel="tel:+49-30-123456",
    user_id="800001",
    username="suspect_one",
    ip_login="203.0.113.80",
    suspect_phone="+4915100000801",
)
OFFICER_EMAIL = JOURNEY.officer_email
IP_LOGIN = JOURNEY.ip_login
SUSPECT_PHONE = JOURNEY.suspect_phone


def test_an_officer_goes_from_registration_to_a_response_opened_in_the_browser(
    passkey_page, other_browser, webauthn_origin, tmp_path: Path, request
) -> None:
    # --- Given: what exists outside the portal's pages -----------------------------------
    cast = steps.outside_the_portal(JOURNEY)
    officer = passkey_page
    vetting = other_browser("vetting")

    # --- The officer registers ---------------------------------------------------------
    officer.goto("/")
    officer.get_by_role("link", name="register as an officer").click()
    officer.get_by_role("heading", name="Register as an officer").wait_for()
    officer.get_by_label("Full name").fill("Anna Schmidt")
    officer.get_by_label("Title or rank").fill("Detective Inspector")
    officer.get_by_label("Badge or staff number").fill("B-4711")
    officer.get_by_label("Official email address").fill(OFFICER_EMAIL)
    officer.get_by_label("Password", exact=True).fill(PASSWORD)
    officer.get_by_label("Password again").fill(PASSWORD)
    officer.get_by_label("Your agency").select_option(label=cast.agency.name)
    clean(officer)
    officer.get_by_role("button", name="Register").click()
    officer.wait_for_url("**/register/mailbox/")
    officer.get_by_text("We have sent a message to the address you gave.").wait_for()
    clean(officer)

    # --- The mailbox link, from the email (sent on commit by the live server) ----------
    assert emails_to(OFFICER_EMAIL) == ["Confirm your mailbox for the authority portal"]
    link = mailbox_link_path(mail.outbox[-1])
    assert webauthn_origin + link in mail.outbox[-1].body
    officer.goto(link)
    officer.get_by_role("heading", name="Confirm your mailbox").wait_for()
    assert officer.get_by_text(OFFICER_EMAIL).is_visible()
    officer.get_by_label("Password").fill(PASSWORD)
    officer.get_by_role("button", name="Confirm my mailbox").click()
    officer.get_by_role("heading", name="Your mailbox is confirmed").wait_for()
    clean(officer)

    # --- Log in: without factors, the portal leads to their enrolment ------------------
    officer.get_by_role("main").get_by_role("link", name="Log in").click()
    officer.get_by_label("Email address").fill(OFFICER_EMAIL)
    officer.get_by_label("Password").fill(PASSWORD)
    officer.get_by_label("Password").press("Enter")
    officer.wait_for_url("**/account/factors/")
    assert officer.get_by_text("Your second factors are not complete yet").is_visible()
    clean(officer)

    # An authenticator app: the code computed from the key the page shows.
    officer.get_by_role("link", name="Set up an authenticator app").click()
    officer.get_by_role("heading", name="Set up an authenticator app").wait_for()
    shown_secret = officer.locator("code.secret").text_content()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", shown_secret)
    officer.get_by_label("Six-digit code from the app").fill(code_from_shown_secret(shown_secret))
    clean(officer)
    officer.get_by_role("button", name="Confirm").click()

    # Backup codes, shown once, acknowledged.
    officer.get_by_role("heading", name="Your backup codes").wait_for()
    shown_codes = officer.get_by_role("list", name="Backup codes").get_by_role("listitem").count()
    assert shown_codes >= 8
    clean(officer)
    officer.get_by_role("link", name="I have saved them").click()
    officer.wait_for_url("**/account/factors/")
    factors = officer.get_by_role("table")
    app_row = factors.get_by_role("row", name="Authenticator app (TOTP)")
    assert app_row.get_by_text("enrolled").is_visible()
    codes_row = factors.get_by_role("row", name="Backup codes")
    assert codes_row.get_by_text(f"{shown_codes} left").is_visible()
    clean(officer)

    # A passkey on the virtual authenticator.
    officer.get_by_role("link", name="Register a passkey").click()
    officer.wait_for_url("**/account/factors/passkey/")
    officer.wait_for_load_state("load")
    officer.get_by_role("button", name="Register a passkey").click()
    officer.get_by_text("Registration successful!").wait_for()
    assert len(officer.authenticator.credentials()) == 1
    clean(officer)
    officer.get_by_role("link", name="Back to second factors").click()
    officer.get_by_text("Your second factors are complete.").wait_for()
    clean(officer)

    # Until vetted, the officer sees where things stand and nothing else.
    go(officer, "Your account")
    vetting_step = officer.get_by_role("listitem").filter(has_text="Vetting")
    assert "Waiting for vetting" in vetting_step.inner_text()
    assert "passkey and authenticator app enrolled" in officer.locator("ol.steps").inner_text()
    officer.goto("/account/keys/")
    officer.wait_for_url("**/account/status/")
    clean(officer)

    # --- Vetting, in the administrator's own browser: the callback, then approval ------
    steps.vet_the_officer(
        vetting, cast.admin, JOURNEY, "Duty desk confirmed Anna Schmidt works in unit K 11."
    )
    assert emails_to(OFFICER_EMAIL)[-1] == "Your authority portal account is approved"

    # --- The officer logs in afresh, with the passkey this time ------------------------
    officer.reload()
    officer.get_by_role("button", name="Log out").click()
    officer.wait_for_url("**/login/")
    officer.get_by_label("Email address").fill(OFFICER_EMAIL)
    officer.get_by_label("Password").fill(PASSWORD)
    officer.get_by_label("Password").press("Enter")
    officer.wait_for_url("**/login/verify/")
    officer.wait_for_load_state("load")
    officer.get_by_role("button", name="Use my passkey").click()
    officer.get_by_role("heading", name="Welcome, Anna Schmidt").wait_for()
    clean(officer)

    # --- An age key pair made in the browser; the identity file is kept for the end ----
    go(officer, "Keys")
    officer.get_by_role("link", name="Add an age recipient").click()
    officer.wait_for_url("**/account/keys/recipients/new/")
    officer.get_by_role("button", name="Generate a key pair").click()
    with officer.expect_download() as download_info:
        officer.get_by_role("link", name="Download the identity file").click()
    identity_file = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(identity_file)
    recipient = officer.get_by_label("Recipient").input_value()
    assert f"# public key: {recipient}" in identity_file.read_text()
    officer.get_by_label("I have saved the identity file").check()
    clean(officer)
    officer.get_by_role("button", name="Enrol the recipient").click()
    officer.wait_for_url("**/account/keys/")
    row = officer.get_by_role("row").filter(has_text=recipient)
    assert row.get_by_text("Pending approval").is_visible()
    clean(officer)

    # The administrator reads the recipient with the officer and approves it.
    steps.approve_the_recipient(vetting, recipient)

    officer.reload()
    assert officer.get_by_role("row").filter(has_text=recipient).get_by_text("Active").is_visible()
    clean(officer)

    # --- The passkey signs only once an administrator compared its fingerprint ----------
    go(officer, "New request")
    assert officer.get_by_text("yours is waiting for approval").is_visible()
    clean(officer)
    go(officer, "Keys")
    passkey_row = officer.get_by_role("row").filter(has_text="webauthn:")
    assert passkey_row.get_by_text("Pending approval").is_visible()
    read_out = passkey_row.locator("code.key-fingerprint").text_content()
    clean(officer)

    steps.approve_the_passkey(vetting, read_out)

    # --- A request through the web channel, confirmed with the passkey -----------------
    go(officer, "New request")
    officer.get_by_role("link", name="Subscriber data").click()
    officer.wait_for_url("**/requests/new/subscriber_data/")
    officer.wait_for_load_state("load")
    officer.get_by_label("Case reference").fill("PF-2026-0412")
    officer.get_by_label("Offence").select_option("fraud")
    officer.get_by_label("Legal basis").fill("Art. 5 Regulation (EU) 2023/1543")
    officer.get_by_label("Name of the issuing authority").fill("Judge A. Example")
    officer.get_by_label("Role", exact=True).select_option("judge")
    officer.get_by_label("Contact", exact=True).fill("+4930123456")
    officer.get_by_label("Identifier of target 1").fill("suspect_one")
    officer.get_by_label("IP addresses with timestamps").check()
    officer.get_by_label("Phone number").check()
    officer.get_by_label("From", exact=True).fill("2026-01-01")
    officer.get_by_label("To", exact=True).fill("2026-03-31")
    officer.locator("#attachment-files").set_input_files(
        files=[
            {
                "name": "order.pdf",
                "mimeType": "application/pdf",
                "buffer": pdf_bytes("Production order 4711"),
            }
        ]
    )
    officer.get_by_text("1 file ready.").wait_for()
    officer.get_by_role("button", name="Preview the request").click()
    officer.get_by_role("heading", name="Check what you will sign").wait_for()
    assert "suspect_one" in officer.locator("#preview-payload").text_content()
    clean(officer)
    officer.get_by_role("button", name="Confirm with your passkey").click()
    officer.get_by_role("heading", name="Request received").wait_for()
    reference = officer.locator("#result-reference").text_content()
    assert reference.startswith("LR-")
    clean(officer)

    go(officer, "My requests")
    request_row = officer.get_by_role("row").filter(has_text=reference)
    assert request_row.get_by_text("Received", exact=True).is_visible()
    clean(officer)

    # --- The first reviewer: claim, checklist, propose, see the records ----------------
    first = other_browser("first-reviewer")
    steps.first_reviewer_proposes(
        first, cast.first_reviewer, reference, JOURNEY, "Two categories, three months."
    )

    # --- The second reviewer: the same records, confirm, hand to delivery --------------
    second = other_browser("second-reviewer")
    steps.second_reviewer_hands_over(second, cast.second_reviewer, reference, JOURNEY)

    # --- The officer opens the response in the page, with the identity kept earlier ----
    assert emails_to(OFFICER_EMAIL)[-1] == "A response is ready"
    go(officer, "Responses")
    officer.get_by_role("link", name=f"Open in this browser the response to {reference}").click()
    officer.wait_for_url("**/decrypt/")
    officer.wait_for_load_state("load")
    assert officer.get_by_text(recipient).is_visible()
    officer.get_by_label("Age identity file").set_input_files(identity_file)
    officer.get_by_role("button", name="Open the response").click()
    officer.get_by_text("Signature valid.").wait_for()
    portal_key_id = crypto.portal_public_key_document()["key_id"]
    assert officer.locator("#signature-status").get_by_text(portal_key_id).is_visible()
    summary = officer.locator("#response-summary")
    assert summary.get_by_text("Approve in full").is_visible()
    answer = officer.locator("#response-records")
    assert answer.get_by_role("heading", name="Username: suspect_one").is_visible()
    ips = answer.get_by_role("table", name=re.compile(r"^IP addresses with timestamps"))
    assert ips.get_by_role("cell", name=IP_LOGIN, exact=True).is_visible()
    phone = answer.get_by_role("table", name="Phone number")
    assert phone.get_by_role("cell", name=SUSPECT_PHONE).is_visible()
    document = (
        officer.locator("#response-files").get_by_role("row").filter(has_text=CONNECTIONS_FILE)
    )
    assert document.get_by_text("Matches its listing").is_visible()
    clean(officer)
    ARTIFACTS.mkdir(exist_ok=True)
    officer.screenshot(path=str(ARTIFACTS / f"{request.node.name}-response.png"), full_page=True)

    go(officer, "My requests")
    request_row = officer.get_by_role("row").filter(has_text=reference)
    assert request_row.get_by_text("Disclosed", exact=True).is_visible()
    clean(officer)

    # --- What the record says ----------------------------------------------------------
    legal_request = LegalRequest.objects.get()
    assert legal_request.reference == reference
    assert legal_request.channel == "web"
    assert legal_request.officer.user.email == OFFICER_EMAIL
    sealed = SealedResponse.objects.get()
    assert sealed.request == legal_request
    assert recipient in sealed.recipients
    assert sealed.download_count == 1
    actions = list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))
    milestones = [
        "officer.registered",
        "officer.mailbox_verified",
        "signing_passkey.enrolled",
        "callback.recorded",
        "officer.approved",
        "age_recipient.enrolled",
        "callback.recorded",  # approving a key records the call that compared it
        "age_recipient.approved",
        "callback.recorded",
        "signing_passkey.approved",
        "legal_request.received",
        "decision.proposed",
        "legal_request.confirm_approval",
        "disclosure.created",
        "response.sealed",
        "response.downloaded",
    ]
    assert [action for action in actions if action in milestones] == milestones
    assert audit_chain_verify().ok
