"""An officer opens a sealed response in Debian's chromium with their identity file.

The page downloads the sealed file with the session, decrypts it with age-encryption,
reads the ZIP, verifies the portal's signature with WebCrypto and shows the answer; the
identity file is read by the page and never sent. Each refusal (an identity of someone
else, a file that is no identity, a corrupted download, a signature that does not
verify) is a clear message and shows nothing of the answer.
"""

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from portal import crypto
from portal.models import AuditEvent
from requests_app.delivery.models import SealedResponse
from requests_app.delivery.sealing import response_seal
from requests_app.demo_source.directory import platform_file_store
from requests_app.demo_source.models import PlatformAccount
from requests_app.policy.defaults import policy_defaults_load
from requests_app.policy.models import PolicyRule
from tests.browser.conftest import log_in_with_totp as log_in
from tests.requests_app.delivery_helpers import Delivery, approved_disclosure, tmp_storage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCUMENT = b"at,ip,port\n2026-02-01T10:00:00Z,198.51.100.7,40112\n"
DOCUMENT_PATH = "files/1-username-suspect_one/connections-2026-02-01.csv"


def seal(client, *, sign=None) -> Delivery:
    """A response with records and one document, sealed to a fresh identity of the officer."""
    delivery = approved_disclosure(client)
    platform_file_store(
        account=PlatformAccount.objects.get(username="suspect_one"),
        name="connections-2026-02-01.csv",
        media_type="text/csv",
        category="ip_addresses",
        data=DOCUMENT,
        at=datetime(2026, 2, 1, 10, tzinfo=UTC),
    )
    if sign is None:
        delivery.sealed = response_seal(disclosure_id=delivery.disclosure.pk)
    else:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(crypto, "portal_sign", sign)
            delivery.sealed = response_seal(disclosure_id=delivery.disclosure.pk)
    assert delivery.sealed is not None
    return delivery


def identity_file(tmp_path: Path, identity: pyrage.x25519.Identity) -> Path:
    """An identity file as age-keygen writes it."""
    path = tmp_path / "identity.txt"
    path.write_text(
        f"# created: 2026-11-01T10:00:00Z\n# public key: {identity.to_public()}\n{identity}\n"
    )
    return path


def plaintext_of(delivery: Delivery) -> zipfile.ZipFile:
    with delivery.sealed.file.open("rb") as sealed:
        return zipfile.ZipFile(io.BytesIO(pyrage.decrypt(sealed.read(), [delivery.identity])))


def open_decrypt_page(page, delivery: Delivery) -> None:
    log_in(page, delivery.officer.user)
    page.goto("/responses/")
    page.get_by_role(
        "link", name=f"Open in this browser the response to {delivery.reference}"
    ).click()
    page.wait_for_url(f"**/responses/{delivery.sealed.pk}/decrypt/")


def downloads() -> list[str]:
    return [
        event.data["channel"]
        for event in AuditEvent.objects.filter(action="response.downloaded").order_by("seq")
    ]


@pytest.fixture(autouse=True)
def sealed_storage(settings, tmp_path):
    return tmp_storage(settings, tmp_path / "storage")


@pytest.fixture(autouse=True)
def default_policy(transactional_db) -> None:
    """The default policy rows, which a flushed transactional test database has lost."""
    policy_defaults_load(PolicyRule)


def test_an_officer_opens_a_response_in_the_page_and_the_identity_never_leaves_it(
    page, client, tmp_path
):
    delivery = seal(client)
    identity_path = identity_file(tmp_path, delivery.identity)
    requests = []
    page.on("request", lambda request: requests.append(request))
    open_decrypt_page(page, delivery)

    # The identity is chosen with a file input that no form posts.
    chooser = page.get_by_label("Age identity file")
    assert chooser.get_attribute("name") is None
    assert page.locator("form input[type=file]").count() == 0
    chooser.set_input_files(identity_path)
    page.get_by_role("button", name="Open the response").click()

    # The answer, checked and readable.
    page.get_by_text("Signature valid.").wait_for()
    key_id = crypto.portal_public_key_document()["key_id"]
    assert page.locator("#signature-status").get_by_text(key_id).is_visible()
    summary = page.locator("#response-summary")
    assert summary.get_by_text("Approve in full").is_visible()
    assert summary.get_by_text("Records attached.").is_visible()
    assert summary.get_by_text("certificate.pdf: Matches its listing").is_visible()
    records = page.locator("#response-records")
    assert records.get_by_role("heading", name="Username: suspect_one").is_visible()
    ips = records.get_by_role("table", name="IP addresses with timestamps (2)")
    assert ips.get_by_role("columnheader", name="IP address").is_visible()
    assert ips.get_by_role("cell", name="198.51.100.1", exact=True).is_visible()
    phone = records.get_by_role("table", name="Phone number")
    assert phone.get_by_role("cell", name="+4915100000042").is_visible()
    files = page.locator("#response-files")
    row = files.get_by_role("row").filter(has_text=DOCUMENT_PATH)
    assert row.get_by_text("Matches its listing").is_visible()
    raw = json.loads(page.locator("#response-raw").text_content())
    assert raw["reference"] == delivery.reference

    # Each part is saved from the page's memory, byte for byte what was sealed.
    archive = plaintext_of(delivery)
    for label, expected in [
        ("Save response.json", archive.read("response.json")),
        ("Save response.json.sig", archive.read("response.json.sig")),
        ("Save certificate.pdf", archive.read("certificate.pdf")),
        ("Save connections-2026-02-01.csv", DOCUMENT),
    ]:
        with page.expect_download() as saved:
            page.get_by_role("link", name=label, exact=True).click()
        assert Path(saved.value.path()).read_bytes() == expected, label

    # One download of the sealed file, on the record like any other; and no request the
    # page sent carried the identity or the identity file, in its URL, headers or body.
    assert downloads() == ["web"]
    assert SealedResponse.objects.get(pk=delivery.sealed.pk).download_count == 1
    secret = str(delivery.identity).upper().encode()
    file_bytes = identity_path.read_bytes()
    assert any(r.url.endswith(f"/responses/{delivery.sealed.pk}/download/") for r in requests)
    for request in requests:
        sent = (
            request.url.encode()
            + json.dumps(request.all_headers()).encode()
            + (request.post_data_buffer or b"")
        )
        assert secret not in sent.upper(), request.url
        assert b"AGE-SECRET-KEY" not in sent.upper(), request.url
        assert file_bytes not in sent, request.url
    page.watch.assert_clean()


def test_an_identity_that_does_not_open_the_response_is_refused_before_any_download(
    page, client, tmp_path
):
    delivery = seal(client)
    open_decrypt_page(page, delivery)
    stranger = pyrage.x25519.Identity.generate()
    error = page.get_by_role("alert")

    page.get_by_label("Age identity file").set_input_files(identity_file(tmp_path, stranger))
    page.get_by_role("button", name="Open the response").click()

    error.get_by_text("This identity file does not open this response").wait_for()
    assert str(stranger.to_public()) in error.text_content()
    assert str(delivery.identity.to_public()) in error.text_content()
    assert page.locator("#decrypt-result").is_hidden()

    # A file that holds no identity at all (the recipient, say) is named for what it is.
    not_identity = tmp_path / "recipient.txt"
    not_identity.write_text(f"{delivery.identity.to_public()}\n")
    page.get_by_label("Age identity file").set_input_files(not_identity)
    page.get_by_role("button", name="Open the response").click()
    error.get_by_text("This is not an age identity file").wait_for()

    assert downloads() == []
    page.watch.assert_clean()


def test_a_corrupted_download_is_refused_and_nothing_is_shown(page, client, tmp_path):
    delivery = seal(client)
    open_decrypt_page(page, delivery)

    def corrupt(route) -> None:
        response = route.fetch()
        body = bytearray(response.body())
        body[-100] ^= 0x01  # one bit of the last chunk, in transit
        route.fulfill(response=response, body=bytes(body))

    page.route(f"**/responses/{delivery.sealed.pk}/download/", corrupt)
    page.get_by_label("Age identity file").set_input_files(
        identity_file(tmp_path, delivery.identity)
    )
    page.get_by_role("button", name="Open the response").click()

    page.get_by_role("alert").get_by_text("The download is corrupted").wait_for()
    assert page.locator("#decrypt-result").is_hidden()
    assert page.get_by_role("link", name="Save response.json").count() == 0
    page.watch.assert_clean()


def test_a_response_whose_signature_does_not_verify_is_refused(page, client, tmp_path):
    impostor = Ed25519PrivateKey.generate()
    delivery = seal(client, sign=impostor.sign)
    open_decrypt_page(page, delivery)

    page.get_by_label("Age identity file").set_input_files(
        identity_file(tmp_path, delivery.identity)
    )
    page.get_by_role("button", name="Open the response").click()

    page.get_by_role("alert").get_by_text("The signature does not verify").wait_for()
    assert page.locator("#decrypt-result").is_hidden()
    assert page.get_by_text("198.51.100.1").count() == 0
    page.watch.assert_clean()
