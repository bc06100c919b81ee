"""A clarification reply with documents, signed exactly as a submission is (PROTOCOL §4.5).

The reviewers asked for page 2 of the order; the authority's case system sends it in a
signed reply. Accepted: the message keeps what was signed, the document is stored only
as age ciphertext, and the reviewer downloads it from the thread. Each attack (a tampered
document, a replayed nonce, a wrong signature, another request's reply, a stale one, an
oversized or wrong-type file, a stranger, a closed request) is refused with its problem
code, and nothing is stored: no message, no document, no file, no audit event, no change
of state.
"""

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import KeyStatus
from portal.models import AuditEvent
from requests_app.delivery.orphans import ORPHAN_AGE, orphan_files_purge
from requests_app.lifecycle.models import LegalRequest, Message, MessageAttachment
from requests_app.review.selectors import attachment_plaintext
from requests_app.review.services import request_withdraw
from tests.factories import log_in, make_api_token, make_officer, make_user
from tests.requests_app.officer_helpers import PAGE_2, submitted
from tests.requests_app.signing import Signer, enrol_signing_key, now_rfc3339, pdf_bytes

# officer, signer, token, asked, page_2: tests/requests_app/officer/conftest.py.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("storage")]


# --- Building a signed reply as a case system does -------------------------------------------


def declared(files: list[tuple[str, bytes, str]]) -> list[dict[str, Any]]:
    return [
        {
            "filename": name,
            "media_type": media,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }
        for name, data, media in files
    ]


def reply_payload(
    reference: str,
    files: list[tuple[str, bytes, str]],
    *,
    body: str = "Page 2 of the order, as you asked.",
    **overrides: Any,
) -> dict[str, Any]:
    payload = {
        "portal": django_settings.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(24),
        "signed_at": now_rfc3339(),
        "message": {"reference": reference, "body": body, "attachments": declared(files)},
    }
    payload.update(overrides)
    return payload


def signed(
    payload: dict[str, Any], signer: Signer, *, private: Ed25519PrivateKey | None = None
) -> dict[str, Any]:
    signature = (private or signer.private_key).sign(rfc8785.dumps(payload))
    return {
        "payload": payload,
        "signature": {
            "alg": "ed25519",
            "key_id": signer.key_id,
            "value": base64.b64encode(signature).decode(),
        },
    }


def post_reply(
    client: Client,
    reference: str,
    envelope: dict[str, Any] | bytes,
    uploads: list[tuple[str, bytes, str]],
    token: str,
):
    raw = envelope if isinstance(envelope, bytes) else json.dumps(envelope).encode()
    data: dict[str, Any] = {
        "envelope": SimpleUploadedFile("envelope.json", raw, "application/json")
    }
    if uploads:
        data["attachment"] = [SimpleUploadedFile(n, b, t) for n, b, t in uploads]
    return client.post(
        f"/api/v1/submissions/{reference}/messages",
        data=data,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def stored_documents() -> list[str]:
    try:
        return default_storage.listdir("message-documents")[1]
    except FileNotFoundError:
        return []


def state(request: LegalRequest) -> tuple:
    """Everything a refused reply must leave as it was."""
    request.refresh_from_db()
    return (
        request.status,
        request.due_at,
        Message.objects.count(),
        MessageAttachment.objects.count(),
        stored_documents(),
        AuditEvent.objects.count(),
    )


def assert_problem(response, code: str, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["status"]) == (code, status)
    return problem


# --- Accepted ----------------------------------------------------------------------------------


def test_a_signed_reply_with_a_document_is_accepted_and_the_document_stored_encrypted(
    client, asked, signer, token, page_2
) -> None:
    payload = reply_payload(asked.reference, page_2)
    envelope = signed(payload, signer)

    response = post_reply(client, asked.reference, envelope, page_2, token)

    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["side"] == "authority"
    assert answer["body"] == "Page 2 of the order, as you asked."
    assert answer["key_id"] == signer.key_id
    assert answer["attachments"] == declared(page_2)
    message = Message.objects.get(pk=answer["id"])
    assert message.payload == payload
    assert message.payload_sha256 == hashlib.sha256(rfc8785.dumps(payload)).hexdigest()
    assert message.nonce == payload["nonce"]
    assert message.verification_key == signer.key.public_key_pem
    # The document: only ciphertext in the storage, and it opens to the bytes sent.
    document = message.documents.get()
    with default_storage.open(document.file.name, "rb") as stored:
        ciphertext = stored.read()
    assert ciphertext.startswith(b"age-encryption.org/v1")
    assert page_2[0][1] not in ciphertext
    assert attachment_plaintext(document).read() == page_2[0][1]
    # The answer the reviewers waited for: back in review, the clock runs again.
    asked.refresh_from_db()
    assert asked.status == LegalRequest.Status.IN_REVIEW
    event = AuditEvent.objects.filter(action="legal_request.authority_replies").get()
    assert event.data["message_id"] == message.pk
    assert event.data["key_id"] == signer.key_id
    assert event.data["documents"] == [hashlib.sha256(page_2[0][1]).hexdigest()]


def test_the_thread_lists_the_documents_and_the_signing_key(
    client, asked, signer, token, page_2
) -> None:
    post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )

    thread = client.get(
        f"/api/v1/submissions/{asked.reference}/messages", HTTP_AUTHORIZATION=f"Bearer {token}"
    ).json()

    question, answer = thread
    assert (question["attachments"], question["key_id"]) == ([], None)
    assert answer["attachments"] == declared(page_2)
    assert answer["key_id"] == signer.key_id


def test_a_byte_identical_retry_gets_the_same_message_and_stores_nothing_new(
    client, asked, signer, token, page_2
) -> None:
    envelope = json.dumps(signed(reply_payload(asked.reference, page_2), signer)).encode()
    first = post_reply(client, asked.reference, envelope, page_2, token)
    before = state(asked)

    again = post_reply(client, asked.reference, envelope, page_2, token)

    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert state(asked) == before


# --- Refused, and nothing stored ---------------------------------------------------------------


def test_a_tampered_document_is_refused_and_nothing_stored(
    client, asked, signer, token, page_2
) -> None:
    envelope = signed(reply_payload(asked.reference, page_2), signer)
    tampered = [(PAGE_2[0], pdf_bytes("Order, page 2, altered"), PAGE_2[1])]
    before = state(asked)

    response = post_reply(client, asked.reference, envelope, tampered, token)

    assert_problem(response, "attachment_mismatch", 422)
    assert state(asked) == before


def test_a_declared_document_that_was_not_sent_is_refused(
    client, asked, signer, token, page_2
) -> None:
    before = state(asked)

    response = post_reply(
        client, asked.reference, signed(reply_payload(asked.reference, page_2), signer), [], token
    )

    assert_problem(response, "attachment_mismatch", 422)
    assert state(asked) == before


def test_a_replayed_nonce_is_refused_and_nothing_stored(
    client, asked, signer, token, page_2
) -> None:
    payload = reply_payload(asked.reference, page_2)
    assert (
        post_reply(client, asked.reference, signed(payload, signer), page_2, token).status_code
        == 201
    )
    # The same payload with another body, signed again: a second reply under the used nonce.
    replayed = {**payload, "message": {**payload["message"], "body": "Sent twice."}}
    before = state(asked)

    response = post_reply(client, asked.reference, signed(replayed, signer), page_2, token)

    assert_problem(response, "replay", 409)
    assert state(asked) == before


def test_the_nonce_of_an_accepted_submission_is_a_replay_too(
    client, asked, signer, token, page_2
) -> None:
    payload = reply_payload(asked.reference, page_2, nonce=asked.nonce)
    before = state(asked)

    response = post_reply(client, asked.reference, signed(payload, signer), page_2, token)

    assert_problem(response, "replay", 409)
    assert state(asked) == before


def test_a_wrong_signature_is_refused_and_nothing_stored(
    client, asked, signer, token, page_2
) -> None:
    envelope = signed(
        reply_payload(asked.reference, page_2), signer, private=Ed25519PrivateKey.generate()
    )
    before = state(asked)

    response = post_reply(client, asked.reference, envelope, page_2, token)

    assert_problem(response, "bad_signature", 401)
    assert state(asked) == before


def test_a_body_changed_after_signing_is_a_bad_signature(
    client, asked, signer, token, page_2
) -> None:
    envelope = signed(reply_payload(asked.reference, page_2), signer)
    envelope["payload"]["message"]["body"] = "We withdraw the order."
    before = state(asked)

    response = post_reply(client, asked.reference, envelope, page_2, token)

    assert_problem(response, "bad_signature", 401)
    assert state(asked) == before


def test_a_key_that_is_not_approved_signs_no_reply(client, asked, officer, token, page_2) -> None:
    pending = enrol_signing_key(officer, status=KeyStatus.PENDING)
    before = state(asked)

    response = post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), pending),
        page_2,
        token,
    )

    assert_problem(response, "key_not_active", 403)
    assert state(asked) == before


def test_a_reply_signed_for_another_request_is_refused(
    client, officer, asked, signer, token, page_2
) -> None:
    other = submitted(officer)
    envelope = signed(reply_payload(other.reference, page_2), signer)
    before = state(asked)

    response = post_reply(client, asked.reference, envelope, page_2, token)

    assert_problem(response, "wrong_audience", 400)
    assert state(asked) == before


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"signed_at": "2020-01-01T00:00:00Z"}, "stale"),
        ({"portal": "https://another-portal.example"}, "wrong_audience"),
    ],
    ids=["stale", "another portal"],
)
def test_a_stale_or_misaddressed_reply_is_refused(
    client, asked, signer, token, page_2, overrides, code
) -> None:
    envelope = signed(reply_payload(asked.reference, page_2, **overrides), signer)
    before = state(asked)

    response = post_reply(client, asked.reference, envelope, page_2, token)

    assert_problem(response, code, 400)
    assert state(asked) == before


def test_an_oversized_document_is_refused_and_nothing_stored(
    client, asked, signer, token, settings
) -> None:
    big = [("scan.pdf", pdf_bytes("x" * 4000), "application/pdf")]
    settings.INTAKE_MAX_ATTACHMENT_BYTES = len(big[0][1]) - 1
    before = state(asked)

    response = post_reply(
        client, asked.reference, signed(reply_payload(asked.reference, big), signer), big, token
    )

    assert_problem(response, "too_large", 413)
    assert state(asked) == before


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(
    client, asked, signer, token, page_2, settings
) -> None:
    settings.INTAKE_MAX_REQUEST_BYTES = 1000
    before = state(asked)

    response = post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )

    assert_problem(response, "too_large", 413)
    assert state(asked) == before


@pytest.mark.parametrize(
    "document",
    [
        ("photo.gif", b"GIF89a" + bytes(64), "image/gif"),
        ("order.pdf", b"\x89PNG\r\n\x1a\n" + bytes(64), "application/pdf"),
        ("order.pdf", b"%PDF-1.7 but not a document", "application/pdf"),
    ],
    ids=["a type not accepted", "a PNG declared as a PDF", "a broken PDF"],
)
def test_a_document_of_the_wrong_type_is_refused_and_nothing_stored(
    client, asked, signer, token, document
) -> None:
    files = [document]
    before = state(asked)

    response = post_reply(
        client, asked.reference, signed(reply_payload(asked.reference, files), signer), files, token
    )

    assert_problem(response, "attachment_mismatch", 422)
    assert state(asked) == before


def test_a_signed_reply_without_documents_is_malformed(client, asked, signer, token) -> None:
    before = state(asked)

    response = post_reply(
        client, asked.reference, signed(reply_payload(asked.reference, []), signer), [], token
    )

    problem = assert_problem(response, "malformed", 400)
    assert problem["errors"][0]["field"] == "payload.message.attachments"
    assert state(asked) == before


def test_a_stranger_meets_not_found_and_stores_nothing(client, asked, page_2) -> None:
    stranger = make_officer()
    their_key = enrol_signing_key(stranger)
    their_token = make_api_token(officer=stranger)[1]
    before = state(asked)

    response = post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), their_key),
        page_2,
        their_token,
    )

    assert_problem(response, "not_found", 404)
    assert state(asked) == before


def test_a_withdrawn_request_takes_no_reply_and_its_documents_are_not_stored(
    client, officer, asked, signer, token, page_2
) -> None:
    request_withdraw(request=asked, officer=officer, reason="No longer needed.")
    before = state(asked)

    response = post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )

    problem = assert_problem(response, "invalid_state", 409)
    assert problem["request_status"] == "withdrawn"
    assert state(asked) == before


# --- Kept, and read by reviewers -------------------------------------------------------------


def test_the_sweeper_keeps_a_replys_documents_and_deletes_an_orphan(
    client, asked, signer, token, page_2
) -> None:
    post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )
    kept = MessageAttachment.objects.get().file.name
    orphan = default_storage.save("message-documents/orphan.age", SimpleUploadedFile("x", b"x"))

    removed = orphan_files_purge(now=datetime.now(UTC) + ORPHAN_AGE + timedelta(minutes=1))

    assert removed == {"message-documents": [orphan]}
    assert default_storage.exists(kept)


def test_a_reviewer_downloads_the_document_from_the_thread_and_it_is_recorded(
    client, asked, signer, token, page_2
) -> None:
    post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )
    document = MessageAttachment.objects.get()
    handler = make_user(role="reviewer")
    browser = Client()
    log_in(browser, handler)

    page = browser.get(f"/review/{asked.reference}/").content.decode()
    url = f"/review/{asked.reference}/messages/{document.message_id}/documents/{document.pk}/"
    assert f'href="{url}"' in page
    response = browser.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == page_2[0][1]
    assert response["Content-Disposition"].startswith("attachment")
    event = AuditEvent.objects.filter(action="attachment.downloaded").get()
    assert event.actor == handler
    assert event.data["message_id"] == document.message_id
    assert event.data["sha256"] == document.sha256


def test_a_document_is_reached_only_through_its_own_request_and_message(
    client, officer, asked, signer, token, page_2
) -> None:
    post_reply(
        client,
        asked.reference,
        signed(reply_payload(asked.reference, page_2), signer),
        page_2,
        token,
    )
    document = MessageAttachment.objects.get()
    other = submitted(officer)
    handler = make_user(role="reviewer")
    browser = Client()
    log_in(browser, handler)
    officer_browser = Client()
    log_in(officer_browser, officer.user)

    wrong_request = browser.get(
        f"/review/{other.reference}/messages/{document.message_id}/documents/{document.pk}/"
    )
    wrong_message = browser.get(
        f"/review/{asked.reference}/messages/{document.message_id + 99}/documents/{document.pk}/"
    )
    not_a_reviewer = officer_browser.get(
        f"/review/{asked.reference}/messages/{document.message_id}/documents/{document.pk}/"
    )

    assert (wrong_request.status_code, wrong_message.status_code) == (404, 404)
    assert not_a_reviewer.status_code == 403
    assert not AuditEvent.objects.filter(action="attachment.downloaded").exists()


# --- The OpenAPI description -----------------------------------------------------------------


def test_the_schema_describes_a_signed_reply_and_the_documents_of_a_message(client) -> None:
    schema = client.get("/api/v1/schema?format=json").json()
    operation = schema["paths"]["/api/v1/submissions/{reference}/messages"]["post"]
    content = operation["requestBody"]["content"]
    assert set(content) >= {"application/json", "multipart/form-data"}
    upload = content["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][upload]["properties"]) == {"envelope", "attachment"}
    assert {"413", "415", "422"} <= set(operation["responses"])
    message = schema["components"]["schemas"]["MessageOut"]["properties"]
    assert {"attachments", "key_id"} <= set(message)
    document = message["attachments"]["items"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][document]["properties"]) == {
        "filename",
        "media_type",
        "sha256",
        "size",
    }
