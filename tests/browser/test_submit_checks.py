"""The officer's side at volume, in chromium: early checks, the readable preview, drafts.

- A bad PDF, a phone number that is no number and an email address that is no address are
  refused by the check step, each named next to its field, before any passkey prompt, and
  nothing is stored.
- The preview is a short table in words; the signed JSON and its SHA-256 are folded away,
  and the page does not scroll sideways at 390 px.
- A draft is saved, listed, reopened with its document, and sent with the passkey; the
  confirmation names the state as every page does and links to the request.
- A cancelled passkey prompt is told in the portal's words, not the browser's.

The passkey is a software key stored as the officer's approved signing passkey and added
to chromium's virtual authenticator, so the browser signs with exactly the key the portal
holds.
"""

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from requests_app.intake.models import DraftDocument, IntakeRejection, SubmissionDraft
from requests_app.lifecycle.models import Attachment, LegalRequest
from tests.browser.conftest import log_in_with_totp
from tests.factories import SoftPasskey, make_officer, make_signing_passkey
from tests.requests_app.signing import pdf_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Counts the page's calls for a passkey, whatever answers them.
COUNT_PASSKEY_PROMPTS = """
window.__passkeyPrompts = 0;
if (navigator.credentials) {
  const original = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    window.__passkeyPrompts += 1;
    return original(options);
  };
}
"""

# The next prompt is closed by the officer: what the browser then raises.
CANCEL_NEXT_PROMPT = """() => {
  const original = navigator.credentials.get;
  navigator.credentials.get = () => {
    navigator.credentials.get = original;
    return Promise.reject(new DOMException(
      "The operation either timed out or was not allowed.", "NotAllowedError"));
  };
}"""


@pytest.fixture(autouse=True)
def storage(policy_storage_and_limits: Path) -> Path:
    """Where the portal stores files in these tests (conftest's policy_storage_and_limits)."""
    return policy_storage_and_limits


def stored(location: Path) -> list[str]:
    return sorted(str(p.relative_to(location)) for p in location.rglob("*") if p.is_file())


@pytest.fixture
def officer(passkey_page):
    """An officer logged in with TOTP whose approved passkey is on the virtual authenticator."""
    officer = make_officer(full_name="Olga Officer")
    passkey = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=passkey)
    private = passkey.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    authenticator = passkey_page.authenticator
    authenticator.cdp.send(
        "WebAuthn.addCredential",
        {
            "authenticatorId": authenticator.id,
            "credential": {
                "credentialId": base64.b64encode(passkey.credential_id).decode(),
                "isResidentCredential": False,
                "rpId": "localhost",
                "privateKey": base64.b64encode(private).decode(),
                "signCount": 0,
            },
        },
    )
    passkey_page.add_init_script(COUNT_PASSKEY_PROMPTS)
    log_in_with_totp(passkey_page, officer.user)
    return officer


def today():
    return datetime.now(UTC).date()


def fill_case(page) -> None:
    page.get_by_label("Case reference").fill("PF-2026-0412")
    page.get_by_label("Offence").select_option("fraud")
    page.get_by_label("Legal basis").fill("Art. 5 Regulation (EU) 2023/1543")
    page.get_by_label("Name of the issuing authority").fill("Judge A. Example")
    page.get_by_label("Role", exact=True).select_option("judge")
    page.get_by_label("Contact", exact=True).fill("+4930123456")
    page.get_by_label("IP addresses with timestamps").check()
    page.get_by_label("From", exact=True).fill((today() - timedelta(days=60)).isoformat())
    page.get_by_label("To", exact=True).fill(today().isoformat())


def choose_file(page, name: str, data: bytes) -> None:
    page.locator("#attachment-files").set_input_files(
        files=[{"name": name, "mimeType": "application/pdf", "buffer": data}]
    )


def no_sideways_scroll(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_what_would_be_refused_is_refused_before_the_passkey_is_asked(
    passkey_page, officer, storage
):
    page = passkey_page
    page.goto("/requests/new/subscriber_data/")
    page.wait_for_load_state("load")
    fill_case(page)
    page.get_by_label("Type of target 1").select_option("phone")
    page.get_by_label("Identifier of target 1").fill("call me maybe")
    page.get_by_role("button", name="Add a target").click()
    page.get_by_label("Type of target 2").select_option("email")
    page.get_by_label("Identifier of target 2").fill("not-an-address")
    choose_file(page, "order.pdf", b"%PDF-1.7 a scan that never became a PDF")
    page.get_by_text("1 file ready.").wait_for()

    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Some fields need your attention").wait_for()

    assert (
        page.locator("#attachments_error").text_content().startswith("order.pdf is not a valid PDF")
    )
    assert (
        page.locator("#targets-0-value_error").text_content().startswith("Not a valid phone number")
    )
    assert (
        page.locator("#targets-1-value_error")
        .text_content()
        .startswith("Not a valid email address")
    )
    summary = page.locator("#submission-errors").text_content()
    assert "order.pdf is not a valid PDF" in summary
    assert page.get_by_label("Identifier of target 1").get_attribute("aria-invalid") == "true"
    assert page.locator("#submission-preview").is_hidden()
    assert page.evaluate("window.__passkeyPrompts") == 0
    assert LegalRequest.objects.count() == Attachment.objects.count() == 0
    assert IntakeRejection.objects.count() == 0
    assert stored(storage) == []
    assert page.watch.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]


def test_the_preview_is_a_table_in_words_with_the_signed_bytes_folded_away(passkey_page, officer):
    page = passkey_page
    page.goto("/requests/new/subscriber_data/")
    page.wait_for_load_state("load")
    fill_case(page)
    page.get_by_label("Type of target 1").select_option("ip_address")
    page.get_by_label("Identifier of target 1").fill("2001:DB8::7")
    day = (today() - timedelta(days=10)).isoformat()
    page.get_by_label("Used from (UTC) for target 1").fill(f"{day}T08:00")
    page.get_by_label("Used until (UTC) for target 1").fill(f"{day}T09:30")
    page.get_by_role("button", name="Add a target").click()
    page.get_by_label("Identifier of target 2").fill("suspect_one")
    # The window belongs to IP addresses only: the second row has none to fill.
    assert page.get_by_label("Used from (UTC) for target 2").is_hidden()
    document = pdf_bytes("Production order")
    choose_file(page, "production order 4711.pdf", document)
    page.get_by_text("1 file ready.").wait_for()

    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Check what you will sign").wait_for()
    table = page.locator("#preview-summary")
    assert table.get_by_role("rowheader").all_text_contents() == [
        "Kind",
        "Case reference",
        "Offence",
        "Legal basis",
        "Issuing authority",
        "Targets",
        "Data requested",
        "Period",
        "Files",
    ]
    row = table.get_by_role("row", name="Targets")
    assert f"IP address: 2001:db8::7 (used {day} 08:00:00 to {day} 09:30:00 UTC)" in (
        row.text_content()
    )
    assert "Username: suspect_one" in row.text_content()
    assert row.locator("time").first.get_attribute("datetime") == f"{day}T08:00:00Z"
    files = table.get_by_role("row", name="Files").text_content()
    assert "production order 4711.pdf (" in files
    assert (
        table.get_by_role("row", name="Legal basis")
        .text_content()
        .endswith("Art. 5 Regulation (EU) 2023/1543")
    )

    # The JSON and its hash: folded away until asked for, and wrapped when shown.
    assert page.locator("#preview-payload").is_hidden()
    assert page.locator("#preview-hash").is_hidden()
    page.get_by_text("The signed payload (JSON) and its SHA-256").click()
    assert page.locator("#preview-hash").is_visible()
    assert "2001:db8::7" in page.locator("#preview-payload").text_content()
    assert len(page.locator("#preview-hash").text_content()) == 64

    page.set_viewport_size({"width": 390, "height": 844})
    assert no_sideways_scroll(page)
    page.get_by_role("button", name="Change the request").click()
    assert no_sideways_scroll(page)
    assert page.evaluate("window.__passkeyPrompts") == 0
    page.watch.assert_clean()


def test_a_draft_is_saved_reopened_and_sent_and_the_confirmation_links_the_request(
    passkey_page, officer, storage
):
    page = passkey_page
    document = pdf_bytes("Production order 4712")
    page.goto("/requests/new/subscriber_data/")
    page.wait_for_load_state("load")
    page.get_by_label("Case reference").fill("PF-DRAFT-1")
    page.get_by_label("Identifier of target 1").fill("suspect_one")
    choose_file(page, "order.pdf", document)
    page.get_by_text("1 file ready.").wait_for()
    page.get_by_role("button", name="Save as draft").click()
    page.get_by_text("Draft saved.").wait_for()
    draft = SubmissionDraft.objects.get()
    page.wait_for_url(f"**/requests/drafts/{draft.pk}/")
    assert [d.filename for d in draft.documents.all()] == ["order.pdf"]
    (ciphertext,) = stored(storage)
    assert (storage / ciphertext).read_bytes().startswith(b"age-encryption.org/v1")

    # Listed on the new-request page and on the officer's requests; reopened from there.
    page.goto("/requests/mine/")
    assert page.get_by_role("link", name="PF-DRAFT-1", exact=True).is_visible()
    page.goto("/requests/new/")
    page.get_by_role("link", name="PF-DRAFT-1", exact=True).click()
    page.wait_for_url(f"**/requests/drafts/{draft.pk}/")
    page.get_by_text("1 file ready.").wait_for()  # the document, fetched back
    assert page.get_by_label("Case reference").input_value() == "PF-DRAFT-1"
    assert page.get_by_label("Identifier of target 1").input_value() == "suspect_one"

    fill_case(page)
    page.get_by_role("button", name="Preview the request").click()
    page.get_by_role("heading", name="Check what you will sign").wait_for()

    # The officer closes the passkey prompt: the portal's sentence, nothing sent.
    page.evaluate(CANCEL_NEXT_PROMPT)
    page.get_by_role("button", name="Confirm with your passkey").click()
    status = page.locator("#confirm-status")
    status.get_by_text("The passkey prompt was closed or timed out").wait_for()
    assert "not allowed" not in status.text_content()
    assert LegalRequest.objects.count() == 0

    page.get_by_role("button", name="Confirm with your passkey").click()
    page.get_by_role("heading", name="Request received").wait_for()
    request = LegalRequest.objects.get()
    assert page.locator("#result-reference").text_content() == request.reference
    assert page.locator("#result-status").text_content() == "Received"
    link = page.get_by_role("link", name="Open the request's page")
    assert link.get_attribute("href") == f"/requests/mine/{request.reference}/"
    assert request.attachments.get().sha256 == hashlib.sha256(document).hexdigest()
    assert SubmissionDraft.objects.count() == DraftDocument.objects.count() == 0
    assert all(not name.startswith("drafts/") for name in stored(storage))

    link.click()
    page.wait_for_url(f"**/requests/mine/{request.reference}/")
    assert request.reference in page.get_by_role("heading", level=1).text_content()
    page.watch.assert_clean()
