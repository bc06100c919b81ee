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
platform's own data about the account the request names.
"""

import base64
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django_otp.oath import totp

from portal import crypto
from portal.audit import audit_chain_verify
from portal.models import AuditEvent
from requests_app.delivery.models import SealedResponse
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount, PlatformIpEvent
from requests_app.lifecycle.models import LegalRequest
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.browser.conftest import ARTIFACTS, PageWatch
from tests.browser.conftest import log_in_with_totp as log_in
from tests.factories import (
    PASSWORD,
    mailbox_link_path,
    make_agency,
    make_vetting_admin,
)
from tests.requests_app.factories import make_reviewer
from tests.requests_app.signing import pdf_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

OFFICER_EMAIL = "anna.schmidt@polizei.example.de"
CALLBACK_NUMBER = "+4930123456"
CALLBACK_NUMBER_SHOWN = "+49 30 123456"  # in international format, a tel: link
IP_LOGIN = "203.0.113.80"
SUSPECT_PHONE = "+4915100000801"
CONNECTIONS_CSV = b"at,ip,port\n2026-02-03T10:00:00Z,203.0.113.80,40112\n"


@pytest.fixture(autouse=True)
def _policy_storage_and_limits(settings, tmp_path) -> Iterator[None]:
    policy_defaults_load(PolicyRule)  # a flushed transactional database has lost them
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "storage")},
        },
    }
    cache.clear()  # the rate limits count per address, and every browser is 127.0.0.1
    yield
    cache.clear()


@pytest.fixture
def other_browser(chromium, webauthn_origin, request) -> Iterator[Callable[[str], object]]:
    """Open a page in a browser context of its own (its own cookies) on the passkey origin."""
    opened: list[tuple[str, object, object]] = []

    def open_page(name: str):
        context = chromium.new_context(base_url=webauthn_origin)
        page = context.new_page()
        page.watch = PageWatch(page, webauthn_origin)
        opened.append((name, context, page))
        return page

    yield open_page
    ARTIFACTS.mkdir(exist_ok=True)
    for name, context, page in opened:
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True)
        context.close()


def clean(page) -> None:
    """The page so far broke no CSP rule, logged no error and asked no other origin."""
    page.watch.assert_clean()


def go(page, label: str) -> None:
    """Follow a link of the main navigation, as a user does."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
    page.wait_for_load_state("load")


def log_in_with_totp(page, user) -> None:
    log_in(page, user)
    page.get_by_role("heading", name=f"Welcome, {user.full_name}").wait_for()
    clean(page)


def code_from_shown_secret(shown: str) -> str:
    """What an authenticator app shows for the key the page printed in groups of four."""
    secret = shown.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{totp(key):06d}"


def emails_to(address: str) -> list[str]:
    return [message.subject for message in mail.outbox if message.to == [address]]


def test_an_officer_goes_from_registration_to_a_response_opened_in_the_browser(
    passkey_page, other_browser, webauthn_origin, tmp_path: Path, request
) -> None:
    # --- Given: what exists outside the portal's pages -----------------------------------
    agency = make_agency(
        name="Landespolizei Example",
        country="DE",
        domain="polizei.example.de",
        callback_phone=CALLBACK_NUMBER,
    )
    admin = make_vetting_admin(full_name="Vera Vetting")
    first_reviewer = make_reviewer(full_name="Ada First")
    second_reviewer = make_reviewer(full_name="Bo Second")
    account = PlatformAccount.objects.create(
        user_id="800001",
        username="suspect_one",
        phone_number=SUSPECT_PHONE,
        registered_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    PlatformIpEvent.objects.create(
        account=account,
        kind=PlatformIpEvent.Kind.LOGIN,
        ip=IP_LOGIN,
        port=40112,
        at=datetime(2026, 2, 3, 10, tzinfo=UTC),
    )
    platform_file_store(
        account=account,
        name="connections-2026-02-03.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=CONNECTIONS_CSV,
        at=datetime(2026, 2, 3, 10, tzinfo=UTC),
    )
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
    officer.get_by_label("Your agency").select_option(label=agency.name)
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
    log_in_with_totp(vetting, admin)
    go(vetting, "Vetting")
    vetting.locator("#officers").get_by_role("link", name="Anna Schmidt").click()
    vetting.get_by_role("heading", name="Anna Schmidt").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Waiting for vetting").is_visible()
    assert vetting.get_by_text("Call the agency's number on file:").is_visible()
    dial = vetting.locator("#record-callback-heading").locator("..")
    assert dial.get_by_role("link", name=CALLBACK_NUMBER_SHOWN).get_attribute("href") == (
        "tel:+49-30-123456"
    )
    clean(vetting)
    vetting.get_by_label("Confirmed", exact=True).check()
    vetting.get_by_label("Note").fill("Duty desk confirmed Anna Schmidt works in unit K 11.")
    vetting.get_by_role("button", name="Record the call").click()
    vetting.get_by_text(f"The call to {CALLBACK_NUMBER_SHOWN} was recorded.").wait_for()
    callbacks = vetting.locator("#callbacks")
    assert callbacks.get_by_role("row").filter(has_text="Confirmed").get_by_text("Yes").is_visible()
    clean(vetting)
    vetting.get_by_role("button", name="Approve Anna Schmidt").click()
    vetting.get_by_text("Anna Schmidt is approved and was told by email.").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Active").is_visible()
    clean(vetting)
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
    go(vetting, "Vetting")
    vetting.locator("#age-recipients").get_by_role("link", name=recipient[:20]).click()
    vetting.get_by_role("heading", name="Recipient, to read out by phone").wait_for()
    groups = vetting.get_by_role("list", name="Recipient in groups of four").get_by_role("listitem")
    assert "".join(groups.all_inner_texts()) == recipient
    vetting.get_by_label("I read every group of the fingerprint with the owner").check()
    clean(vetting)
    vetting.get_by_role("button", name="Approve the age recipient").click()
    vetting.get_by_text("The age recipient is approved.").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Active").is_visible()
    assert vetting.get_by_text("Approved by Vera Vetting, on").is_visible()
    clean(vetting)

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

    go(vetting, "Vetting")
    vetting.locator("#signing-passkeys").get_by_role("link").first.click()
    vetting.get_by_role("heading", name="Fingerprint, to read out by phone").wait_for()
    groups = vetting.get_by_role("list", name="Fingerprint in groups of four").get_by_role(
        "listitem"
    )
    assert " ".join(groups.all_inner_texts()) == read_out
    vetting.get_by_label("I read every group of the fingerprint with the owner").check()
    clean(vetting)
    vetting.get_by_role("button", name="Approve the passkey").click()
    vetting.get_by_text("The passkey is approved.").wait_for()
    assert vetting.get_by_role("heading", level=1).get_by_text("Active").is_visible()
    clean(vetting)

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
    log_in_with_totp(first, first_reviewer)
    go(first, "Review queue")
    first.get_by_role("link", name=reference).click()
    first.get_by_role("heading", name=reference).wait_for()
    provenance = first.locator("#provenance")
    assert provenance.get_by_text("Web (confirmed with a passkey)").is_visible()
    assert provenance.get_by_text("Anna Schmidt, Detective Inspector").is_visible()
    clean(first)
    first.get_by_role("button", name="Claim this request").click()
    # The checklist and the proposal are one form, saved in one step.
    first.get_by_role("heading", name="Checklist and proposal").wait_for()
    items = first.locator("fieldset.checklist-item")
    assert items.count() == 5
    for index in range(items.count()):
        items.nth(index).get_by_label("Satisfied", exact=True).check()
    first.get_by_label("Note: scope proportionate").fill("Two categories, three months.")
    clean(first)
    first.get_by_role("button", name="Save and propose the approval").click()
    first.get_by_role("heading", name="What this approval would disclose").wait_for()
    records = first.locator("section.records")
    assert records.get_by_role("cell", name=IP_LOGIN, exact=True).is_visible()
    assert records.get_by_role("cell", name=SUSPECT_PHONE).is_visible()
    assert records.get_by_text("connections-2026-02-03.csv").is_visible()
    assert first.get_by_role("heading", name="Waiting for a second reviewer").is_visible()
    assert first.get_by_role("button", name="Confirm the approval").count() == 0
    clean(first)

    # --- The second reviewer: the same records, confirm, hand to delivery --------------
    second = other_browser("second-reviewer")
    log_in_with_totp(second, second_reviewer)
    go(second, "Review queue")
    second.get_by_role("link", name=reference).click()
    second.get_by_role("heading", name=reference).wait_for()
    clean(second)
    second.get_by_role("link", name="Review the records and decide").click()
    second.get_by_role("heading", name="What this approval would disclose").wait_for()
    records = second.locator("section.records")
    assert records.get_by_role("cell", name=IP_LOGIN, exact=True).is_visible()
    assert records.get_by_role("cell", name=SUSPECT_PHONE).is_visible()
    clean(second)
    second.get_by_role("button", name="Confirm the approval").click()
    second.get_by_role("heading", name="Hand to delivery").wait_for()
    assert second.get_by_text("The approval is confirmed.").is_visible()
    clean(second)
    # Sealing is a Celery task (eager in tests) that PortalTask enqueues only when the
    # hand-over's transaction commits. In a transactional test the live server's requests
    # commit for real, so the on-commit callback runs, and the sealing with it, before the
    # answer to this click: the page it leads to shows the sealed state, with no sweeper.
    second.get_by_role("button", name="Hand to delivery").click()
    second.get_by_text("Handed to delivery: the response is sealed").wait_for()
    handed = second.locator("#disclosures")
    assert handed.get_by_text("Sealed", exact=True).is_visible()
    assert SealedResponse.objects.count() == 1
    clean(second)

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
        officer.locator("#response-files")
        .get_by_role("row")
        .filter(has_text="connections-2026-02-03.csv")
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
