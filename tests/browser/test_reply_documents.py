"""A reply with a document in Debian's chromium: the officer's passkey confirms it, the
reviewer downloads the document from the thread.

The reviewer asked for page 2 of the order. The officer (password and TOTP, then a
passkey registered on the virtual authenticator and approved) writes the reply on the
request page, adds the PDF, checks what the passkey will sign and confirms it. The
reviewer, in a browser of their own, finds the document in the thread on the request page
and downloads exactly the bytes the officer chose. No page broke the strict CSP.
"""

import hashlib
from collections.abc import Iterator

import pytest
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import SigningPasskey
from accounts.services.vetting import signing_passkey_approve
from requests_app.lifecycle.models import LegalRequest, Message, MessageAttachment
from requests_app.review.services import clarification_ask, request_claim
from tests.browser.conftest import PageWatch, log_in_with_totp
from tests.factories import make_officer, make_user, make_vetting_admin
from tests.requests_app.officer_helpers import submitted
from tests.requests_app.signing import pdf_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("policy_storage_and_limits"),
]

PHONE = 390
WIDER_THAN_PHONE = (
    "selector => Array.from(document.querySelectorAll(selector))"
    f".filter(e => e.getBoundingClientRect().right > {PHONE}).map(e => e.outerHTML.slice(0, 80))"
)


@pytest.fixture
def reviewer_page(chromium, webauthn_origin) -> Iterator[object]:
    """The reviewer's own browser (its own cookies), on the same origin."""
    context = chromium.new_context(base_url=webauthn_origin, accept_downloads=True)
    page = context.new_page()
    page.watch = PageWatch(page, webauthn_origin)
    yield page
    context.close()


def test_an_officer_sends_page_2_with_a_passkey_and_the_reviewer_downloads_it(
    passkey_page, reviewer_page, webauthn_origin, tmp_path
) -> None:
    page = passkey_page
    officer = make_officer(full_name="Olga Officer")
    handler = make_user(role="reviewer", full_name="Rosa Reviewer")
    request = submitted(officer)
    request_claim(request=request, reviewer=handler)
    clarification_ask(request=request, reviewer=handler, body="Please send page 2 of the order.")
    page_2 = pdf_bytes("Production order, page 2")

    # The officer: password and code, a passkey, approved by an administrator.
    log_in_with_totp(page, officer.user)
    page.goto("/account/factors/passkey/")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Register a passkey").click()
    page.get_by_text("Registration successful!").wait_for()
    signing_passkey_approve(
        key=SigningPasskey.objects.get(credential=WebAuthnCredential.objects.get()),
        actor=make_vetting_admin(),
        fingerprint_confirmed=True,
    )

    # The reply, with the document; what the passkey signs is shown first.
    page.goto(f"/requests/mine/{request.reference}/")
    page.wait_for_load_state("load")
    page.get_by_label("Your message").fill("Page 2 of the order, as you asked.")
    page.locator("#reply-files").set_input_files(
        files=[{"name": "order-page-2.pdf", "mimeType": "application/pdf", "buffer": page_2}]
    )
    page.get_by_text(f"SHA-256 {hashlib.sha256(page_2).hexdigest()}").wait_for()
    page.get_by_role("button", name="Send to the platform").click()
    page.get_by_role("heading", name="Confirm your reply with your passkey").wait_for()
    assert page.locator("#reply-canonical").text_content().startswith('{"message":')

    # A refusal is shown in the page, with the portal's words and its code, and the focus
    # goes there; nothing is stored. Here the passkey was disabled after the page loaded.
    credential = WebAuthnCredential.objects.get()
    WebAuthnCredential.objects.filter(pk=credential.pk).update(confirmed=False)
    page.get_by_role("button", name="Confirm with your passkey").click()
    page.locator("#reply-problem").wait_for()
    assert page.locator("#reply-problem-code").text_content() == "unknown_key"
    assert page.locator("#reply-problem-detail").text_content().strip()
    assert page.evaluate("document.activeElement.id") == "reply-problem"
    assert (
        Message.objects.filter(side=Message.Side.AUTHORITY).count(),
        MessageAttachment.objects.count(),
    ) == (0, 0)
    # Chromium reports every 4xx answer of a fetch on the console; this one was expected.
    assert page.watch.console_errors == [
        "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
    ]
    page.watch.console_errors.clear()

    # Enabled again, the passkey signs afresh (a refused signature is never sent again).
    WebAuthnCredential.objects.filter(pk=credential.pk).update(confirmed=True)
    page.get_by_role("button", name="Confirm with your passkey").click()
    page.get_by_text("Your message and its documents were sent").wait_for()
    assert page.locator("#thread").get_by_text("order-page-2.pdf").is_visible()
    # The page fits a phone 390 px wide, the reply's documents included.
    page.set_viewport_size({"width": PHONE, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    page.set_viewport_size({"width": 1280, "height": 900})
    page.watch.assert_clean()

    document = MessageAttachment.objects.get()
    assert document.sha256 == hashlib.sha256(page_2).hexdigest()
    assert document.message.key_id.startswith("webauthn:")
    request.refresh_from_db()
    assert request.status == LegalRequest.Status.IN_REVIEW

    # The reviewer finds it in the thread on the request page, and downloads it.
    log_in_with_totp(reviewer_page, handler)
    reviewer_page.goto(f"/review/{request.reference}/")
    thread = reviewer_page.locator("#messages")
    assert thread.get_by_text("Page 2 of the order, as you asked.").is_visible()
    with reviewer_page.expect_download() as download:
        thread.get_by_role("link", name="Download order-page-2.pdf").click()
    # The thread, with the documents' names and hashes, fits a phone 390 px wide.
    reviewer_page.set_viewport_size({"width": PHONE, "height": 800})
    assert reviewer_page.evaluate(WIDER_THAN_PHONE, "#messages *") == []
    reviewer_page.set_viewport_size({"width": 1280, "height": 900})
    saved = tmp_path / "downloaded.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes() == page_2
    reviewer_page.watch.assert_clean()
