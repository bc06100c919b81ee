"""A reply with documents from the officer's request page, confirmed with a passkey.

The page asks the portal for the payload to sign (``messages/preview/``), the passkey
signs its SHA-256 (a software passkey here, ``tests.factories.SoftPasskey``), and the
envelope goes to ``messages/signed/`` with the documents. The web variants of the checks
refuse what the API refuses, and the page's plain form never carries a document.
"""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import KeyStatus
from requests_app.lifecycle.models import LegalRequest, MessageAttachment
from tests.factories import SoftPasskey, log_in, make_officer, make_signing_passkey
from tests.requests_app.intake.test_web_channel import passkey_signature
from tests.requests_app.officer.test_signed_replies import (
    assert_problem,
    declared,
    reply_payload,
    signed,
    state,
)
from tests.requests_app.officer_helpers import PAGE_2
from tests.requests_app.signing import enrol_signing_key, pdf_bytes

# officer, passkey, session, asked, page_2: tests/requests_app/officer/conftest.py.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]


def preview_url(reference: str) -> str:
    return f"/requests/mine/{reference}/messages/preview/"


def signed_url(reference: str) -> str:
    return f"/requests/mine/{reference}/messages/signed/"


def post_signed(client: Client, reference: str, envelope: dict[str, Any] | bytes, files) -> Any:
    raw = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    data: dict[str, Any] = {
        "envelope": SimpleUploadedFile("envelope.json", raw, "application/json")
    }
    if files:
        data["attachment"] = [SimpleUploadedFile(n, b, t) for n, b, t in files]
    return client.post(signed_url(reference), data=data)


def test_the_page_offers_documents_with_the_passkeys_that_may_confirm_them(
    session, asked, passkey
) -> None:
    page = session.get(f"/requests/mine/{asked.reference}/").content.decode()

    assert 'id="reply-files"' in page
    assert 'src="/static/dist/reply.js"' in page
    config = json.loads(page.split('id="reply-config" type="application/json">')[1].split("<")[0])
    assert config["previewUrl"] == preview_url(asked.reference)
    assert config["submitUrl"] == signed_url(asked.reference)
    assert len(config["credentials"]) == 1


def test_the_preview_answers_the_payload_to_sign(session, asked, passkey, page_2, settings) -> None:
    response = session.post(
        preview_url(asked.reference),
        {"body": "Page 2, as asked.", "attachments": json.dumps(declared(page_2))},
    )

    assert response.status_code == 200
    payload = response.json()["payload"]
    assert payload["portal"] == settings.PORTAL_AUDIENCE
    assert payload["message"] == {
        "reference": asked.reference,
        "body": "Page 2, as asked.",
        "attachments": declared(page_2),
    }
    assert len(payload["nonce"]) >= 43


@pytest.mark.parametrize(
    ("body", "attachments", "field"),
    [
        ("  ", None, "body"),
        ("Page 2.", "[]", "attachments"),
        ("Page 2.", "not json", "attachments"),
    ],
    ids=["no text", "no document", "unreadable declarations"],
)
def test_the_preview_says_what_to_correct(
    session, asked, passkey, page_2, body, attachments, field
) -> None:
    response = session.post(
        preview_url(asked.reference),
        {"body": body, "attachments": attachments or json.dumps(declared(page_2))},
    )

    problem = assert_problem(response, "malformed", 400)
    assert {error["field"] for error in problem["errors"]} == {field}


def test_a_reply_confirmed_with_the_passkey_is_accepted_with_its_document(
    session, asked, passkey, page_2
) -> None:
    payload = session.post(
        preview_url(asked.reference),
        {"body": "Page 2, as asked.", "attachments": json.dumps(declared(page_2))},
    ).json()["payload"]
    envelope = {"payload": payload, "signature": passkey_signature(passkey, payload)}

    response = post_signed(session, asked.reference, envelope, page_2)

    assert response.status_code == 201, response.content
    document = MessageAttachment.objects.get()
    assert document.message.key_id.startswith("webauthn:")
    assert document.sha256 == declared(page_2)[0]["sha256"]
    asked.refresh_from_db()
    assert asked.status == LegalRequest.Status.IN_REVIEW
    thread = session.get(f"/requests/mine/{asked.reference}/").content.decode()
    assert "order-page-2.pdf" in thread


def test_a_passkey_waiting_for_approval_confirms_no_reply(session, officer, asked, page_2) -> None:
    waiting = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=waiting, status=KeyStatus.PENDING)
    payload = reply_payload(asked.reference, page_2)
    before = state(asked)

    response = post_signed(
        session,
        asked.reference,
        {"payload": payload, "signature": passkey_signature(waiting, payload)},
        page_2,
    )

    assert_problem(response, "key_not_active", 403)
    assert state(asked) == before


def test_the_page_takes_no_ed25519_signature(session, officer, asked, passkey, page_2) -> None:
    before = state(asked)

    response = post_signed(
        session,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), enrol_signing_key(officer)),
        page_2,
    )

    assert_problem(response, "unknown_key", 401)
    assert state(asked) == before


def test_a_tampered_document_is_refused_on_the_page_too(session, asked, passkey, page_2) -> None:
    payload = reply_payload(asked.reference, page_2)
    before = state(asked)

    response = post_signed(
        session,
        asked.reference,
        {"payload": payload, "signature": passkey_signature(passkey, payload)},
        [(PAGE_2[0], pdf_bytes("Another page"), PAGE_2[1])],
    )

    assert_problem(response, "attachment_mismatch", 422)
    assert state(asked) == before


def test_a_signed_reply_without_the_csrf_token_is_refused(session, asked, passkey, page_2) -> None:
    session.handler.enforce_csrf_checks = True  # a cross-site form would send no token
    payload = reply_payload(asked.reference, page_2)
    before = state(asked)

    response = post_signed(
        session,
        asked.reference,
        {"payload": payload, "signature": passkey_signature(passkey, payload)},
        page_2,
    )

    assert response.status_code == 403
    assert "That form could not be sent" in response.content.decode()
    assert state(asked) == before


def test_the_size_is_checked_before_anything_is_read(
    session, asked, passkey, page_2, settings
) -> None:
    settings.INTAKE_MAX_REQUEST_BYTES = 1000
    payload = reply_payload(asked.reference, page_2)
    before = state(asked)

    response = post_signed(
        session,
        asked.reference,
        {"payload": payload, "signature": passkey_signature(passkey, payload)},
        page_2,
    )

    assert_problem(response, "too_large", 413)
    assert state(asked) == before


def test_another_officers_request_is_not_found_on_the_page(asked, page_2) -> None:
    stranger = make_officer()
    theirs = SoftPasskey()
    make_signing_passkey(officer=stranger, passkey=theirs)
    browser = Client()
    log_in(browser, stranger.user)
    payload = reply_payload(asked.reference, page_2)
    before = state(asked)

    preview = browser.post(
        preview_url(asked.reference), {"body": "x", "attachments": json.dumps(declared(page_2))}
    )
    response = post_signed(
        browser,
        asked.reference,
        {"payload": payload, "signature": passkey_signature(theirs, payload)},
        page_2,
    )

    assert (preview.status_code, response.status_code) == (404, 404)
    assert state(asked) == before


def test_the_plain_reply_form_never_carries_a_document(session, asked, page_2) -> None:
    before = state(asked)

    response = session.post(
        f"/requests/mine/{asked.reference}/messages/",
        {"body": "Page 2 attached.", "documents": SimpleUploadedFile(*page_2[0][:2])},
    )

    assert response.status_code == 400
    assert "confirmed with your passkey" in response.content.decode()
    assert state(asked) == before
