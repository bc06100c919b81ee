"""An officer makes an age key pair in Debian's chromium: the identity is downloaded, never
sent; the recipient the portal stores is the one that identity opens."""

import subprocess
from pathlib import Path

import pytest

from accounts.models import AgeRecipient, KeyStatus
from portal import crypto
from portal.models import AuditEvent
from tests.browser.conftest import log_in_with_totp
from tests.factories import make_officer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def record_bodies(page) -> list[tuple[str, bytes]]:
    """Every request the page makes, with its body (empty for none)."""
    sent: list[tuple[str, bytes]] = []
    page.on("request", lambda request: sent.append((request.url, request.post_data_buffer or b"")))
    return sent


def test_a_key_pair_made_in_the_browser_keeps_the_identity_on_the_officers_machine(
    page, tmp_path: Path
) -> None:
    officer = make_officer()
    sent = record_bodies(page)
    log_in_with_totp(page, officer.user)
    page.goto("/account/keys/recipients/new/")

    page.get_by_role("button", name="Generate a key pair").click()
    download_link = page.get_by_role("link", name="Download the identity file")
    download_link.wait_for()
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    identity_file = tmp_path / download.suggested_filename
    download.save_as(identity_file)

    # The file is an age identity file, as age-keygen writes it.
    lines = identity_file.read_text().splitlines()
    identity = lines[-1]
    assert identity.startswith("AGE-SECRET-KEY-1")
    assert lines[0].startswith("# created: ")
    filled_in = page.get_by_label("Recipient").input_value()
    assert lines[1] == f"# public key: {filled_in}"
    assert download.suggested_filename == f"age-identity-{filled_in[4:12]}.txt"
    assert crypto.age_identity_recipient(identity) == filled_in

    page.get_by_label("I have saved the identity file").check()
    page.get_by_role("button", name="Enrol the recipient").click()
    page.wait_for_url("**/account/keys/")

    stored = AgeRecipient.objects.get(officer=officer)
    assert stored.recipient == crypto.age_identity_recipient(identity)
    assert stored.status == KeyStatus.PENDING
    assert AuditEvent.objects.get(action="age_recipient.enrolled").data["origin"] == "browser"
    assert page.get_by_text(stored.recipient).first.is_visible()

    # Nothing the browser sent carried the identity: not a body, not a URL.
    assert sent
    for url, body in sent:
        assert b"AGE-SECRET-KEY" not in body.upper(), url
        assert "AGE-SECRET-KEY" not in url.upper()
    form_posts = [
        body for url, body in sent if url.endswith("/account/keys/recipients/new/") and body
    ]
    assert len(form_posts) == 1
    assert stored.recipient.encode() in form_posts[0]

    page.watch.assert_clean()


@pytest.mark.needs_commands("age")
def test_the_downloaded_identity_opens_what_age_seals_to_the_stored_recipient(
    page, tmp_path: Path
) -> None:
    officer = make_officer()
    log_in_with_totp(page, officer.user)
    page.goto("/account/keys/recipients/new/")
    page.get_by_role("button", name="Generate a key pair").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the identity file").click()
    identity_file = tmp_path / "identity.txt"
    download_info.value.save_as(identity_file)
    page.get_by_label("I have saved the identity file").check()
    page.get_by_role("button", name="Enrol the recipient").click()
    page.wait_for_url("**/account/keys/")
    stored = AgeRecipient.objects.get(officer=officer).recipient

    # The stock tools agree: age-keygen derives the stored recipient from the file, and
    # a file sealed to the stored recipient opens with the downloaded identity.
    derived = subprocess.run(
        ["age-keygen", "-y", str(identity_file)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert derived == stored
    sealed = subprocess.run(
        ["age", "-r", stored], input=b"a response", capture_output=True, check=True
    ).stdout
    opened = subprocess.run(
        ["age", "-d", "-i", str(identity_file)], input=sealed, capture_output=True, check=True
    ).stdout
    assert opened == b"a response"


def test_enrolling_waits_until_the_officer_says_the_identity_is_saved(page) -> None:
    officer = make_officer()
    log_in_with_totp(page, officer.user)
    page.goto("/account/keys/recipients/new/")
    page.get_by_role("button", name="Generate a key pair").click()
    page.get_by_role("link", name="Download the identity file").wait_for()

    page.get_by_role("button", name="Enrol the recipient").click()

    assert page.get_by_role("status").filter(has_text="save the identity file first").is_visible()
    assert page.url.endswith("/account/keys/recipients/new/")
    assert not AgeRecipient.objects.exists()
    page.watch.assert_clean()
