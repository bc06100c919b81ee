"""Drafts and copies: saved unsigned, seen by their author alone, documents kept encrypted.

Every draft page and endpoint is tried by another officer of the same agency, who must get
404 and change nothing; a copy is made only of the officer's own request, never of one
shared with them. Stored documents are age ciphertext: the bytes of a stolen bucket reveal
neither the document nor its hash.
"""

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from requests_app.intake.models import DraftDocument, SubmissionDraft
from requests_app.lifecycle.models import LegalRequest
from requests_app.lifecycle.storage import sealed_read
from requests_app.officer.sharing import request_share
from tests.factories import (
    SoftPasskey,
    log_in,
    make_api_token,
    make_officer,
    make_signing_passkey,
)
from tests.requests_app.delivery_helpers import tmp_storage
from tests.requests_app.signing import enrol_signing_key, pdf_bytes, post_envelope, submission

pytestmark = pytest.mark.django_db

AGE_HEADER = b"age-encryption.org/v1"


@pytest.fixture(autouse=True)
def storage(settings, tmp_path) -> Path:
    return tmp_storage(settings, tmp_path / "bucket")


@pytest.fixture
def officer():
    return make_officer(full_name="Olga Officer")


@pytest.fixture
def colleague(officer):
    """Another officer of the same agency: the closest stranger there is."""
    return make_officer(agency=officer.agency, full_name="Carl Colleague")


def session_for(officer) -> Client:
    make_signing_passkey(officer=officer, passkey=SoftPasskey())
    client = Client()
    log_in(client, officer.user)
    return client


@pytest.fixture
def mine(officer) -> Client:
    return session_for(officer)


@pytest.fixture
def theirs(colleague) -> Client:
    return session_for(colleague)


def stored_files(storage: Path) -> list[Path]:
    return sorted(p for p in storage.rglob("*") if p.is_file())


def draft_form(*files: tuple[str, bytes], draft: int | None = None, **fields: Any) -> dict:
    data: dict[str, Any] = {
        "case_reference": "PF-2026-0412",
        "offence": "fraud",
        "targets-TOTAL_FORMS": "1",
        "targets-INITIAL_FORMS": "0",
        "targets-0-type": "phone",
        "targets-0-value": "030 1234567",
        "data_categories": ["ip_addresses"],
        "attachments": json.dumps(
            [
                {
                    "filename": name,
                    "media_type": "application/pdf",
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "size": len(body),
                }
                for name, body in files
            ]
        ),
        "attachment": [SimpleUploadedFile(name, body, "application/pdf") for name, body in files],
    }
    if draft is not None:
        data["draft"] = str(draft)
    data.update(fields)
    return data


def save(client: Client, data: dict, kind: str = "subscriber_data"):
    return client.post(f"/requests/new/{kind}/draft/", data)


def test_an_unfinished_request_is_saved_as_a_draft_with_its_document_encrypted(mine, storage):
    document = pdf_bytes("Production order")
    response = save(mine, draft_form(("order.pdf", document), legal_basis=""))
    assert response.status_code == 200, response.content
    draft = SubmissionDraft.objects.get(pk=response.json()["draft"])
    assert response.json()["url"] == f"/requests/drafts/{draft.pk}/"
    assert draft.kind == "subscriber_data"
    assert draft.fields["case_reference"] == "PF-2026-0412"
    assert "legal_basis" not in draft.fields  # unfinished is fine
    assert draft.fields["targets"][0]["value"] == "030 1234567"  # as typed: checked later

    saved = draft.documents.get()
    assert (saved.filename, saved.size) == ("order.pdf", len(document))
    (path,) = stored_files(storage)
    assert path.parent.name == "drafts"
    ciphertext = path.read_bytes()
    assert ciphertext.startswith(AGE_HEADER)
    assert document not in ciphertext
    assert saved.sha256.encode() not in ciphertext
    assert saved.sha256 not in path.name
    assert sealed_read(saved.file.name) == document

    # Opened again: the fields in the form, the document served back to its author.
    page = mine.get(f"/requests/drafts/{draft.pk}/").content.decode()
    assert 'value="PF-2026-0412"' in page
    assert 'value="030 1234567"' in page
    config_json = page.split('id="submission-config" type="application/json">')[1]
    config = json.loads(config_json.split("</script>")[0])
    assert config["draftId"] == draft.pk
    (listed,) = config["draftDocuments"]
    assert mine.get(listed["url"]).content == document


def test_saving_again_updates_the_draft_and_keeps_only_the_chosen_documents(
    mine, storage, django_capture_on_commit_callbacks
):
    first, second = pdf_bytes("one"), pdf_bytes("two")
    draft_id = save(mine, draft_form(("one.pdf", first))).json()["draft"]
    with django_capture_on_commit_callbacks(execute=True):
        response = save(mine, draft_form(("two.pdf", second), draft=draft_id, case_reference="B-2"))
    assert response.json()["draft"] == draft_id
    draft = SubmissionDraft.objects.get()
    assert draft.fields["case_reference"] == "B-2"
    assert [d.filename for d in draft.documents.all()] == ["two.pdf"]
    (path,) = stored_files(storage)
    assert sealed_read(f"drafts/{path.name}") == second


def test_a_draft_with_a_document_that_is_not_a_pdf_is_not_saved(mine, storage):
    response = save(mine, draft_form(("order.pdf", b"%PDF-1.4 broken")))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "attachments"
    assert error["message"].startswith("order.pdf is not a valid PDF")
    assert SubmissionDraft.objects.count() == DraftDocument.objects.count() == 0
    assert stored_files(storage) == []


def test_another_officer_gets_404_for_every_draft_page_and_changes_nothing(mine, theirs, storage):
    document = pdf_bytes("secret order")
    draft_id = save(mine, draft_form(("order.pdf", document))).json()["draft"]
    draft = SubmissionDraft.objects.get()
    doc = draft.documents.get()
    before = (draft.fields, draft.updated_at, stored_files(storage))

    assert theirs.get(f"/requests/drafts/{draft_id}/").status_code == 404
    assert theirs.get(f"/requests/drafts/{draft_id}/documents/{doc.pk}/").status_code == 404
    assert theirs.get(f"/requests/drafts/{draft_id}/delete/").status_code == 404
    assert theirs.post(f"/requests/drafts/{draft_id}/delete/").status_code == 404
    # Saving over someone else's draft by naming its id.
    response = save(theirs, draft_form(draft=draft_id, case_reference="HIJACKED"))
    assert response.status_code == 404

    draft.refresh_from_db()
    assert (draft.fields, draft.updated_at, stored_files(storage)) == before
    assert SubmissionDraft.objects.count() == 1
    # Nor is it listed anywhere for them.
    for page in ("/requests/new/", "/requests/mine/"):
        assert "PF-2026-0412" not in theirs.get(page).content.decode()
        assert f"/requests/drafts/{draft_id}/" in mine.get(page).content.decode()


@pytest.mark.parametrize("draft_id", ["abc", "0", "-1", "9" * 30, "1 OR 1=1"])
def test_a_draft_id_that_names_no_draft_is_404_and_saves_nothing(mine, draft_id):
    data = draft_form()
    data["draft"] = draft_id
    assert save(mine, data).status_code == 404
    assert SubmissionDraft.objects.count() == 0


def test_a_draft_of_another_kind_cannot_be_saved_over(mine):
    draft_id = save(mine, draft_form()).json()["draft"]
    response = save(mine, draft_form(draft=draft_id), kind="preservation")
    assert response.status_code == 404


def test_deleting_a_draft_deletes_its_documents(mine, storage, django_capture_on_commit_callbacks):
    draft_id = save(mine, draft_form(("order.pdf", pdf_bytes()))).json()["draft"]
    assert "Delete the draft?" in mine.get(f"/requests/drafts/{draft_id}/delete/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = mine.post(f"/requests/drafts/{draft_id}/delete/")
    assert response.status_code == 302
    assert SubmissionDraft.objects.count() == DraftDocument.objects.count() == 0
    assert stored_files(storage) == []


def test_an_officer_keeps_at_most_fifty_drafts(mine, officer):
    SubmissionDraft.objects.bulk_create(
        [SubmissionDraft(officer=officer, kind="preservation") for _ in range(50)]
    )
    response = save(mine, draft_form())
    assert response.status_code == 409
    assert "Delete one first" in response.json()["detail"]
    assert SubmissionDraft.objects.count() == 50


# --- Copies --------------------------------------------------------------------------------


@pytest.fixture
def earlier(client, officer) -> LegalRequest:
    """An accepted request of the officer's, through the API, with its document stored."""
    signer = enrol_signing_key(officer)
    token = make_api_token(officer=officer)[1]
    sub = submission(
        targets=[
            {"type": "username", "value": "suspect_one"},
            {
                "type": "ip_address",
                "value": "203.0.113.7",
                "window": {"from": "2026-02-01T08:00:00Z", "to": "2026-02-01T09:00:00Z"},
            },
        ],
        non_disclosure={
            "until": (datetime.now(UTC).date() + timedelta(days=365)).isoformat(),
            "basis": "Order 7/2026",
        },
    )
    response = post_envelope(client, sub.sign(signer), sub.files, token)
    assert response.status_code == 201, response.content
    client.logout()
    return LegalRequest.objects.get()


def copy(client: Client, reference: str, **boxes: str):
    return client.post(f"/requests/new/from/{reference}/", boxes)


def test_a_copy_takes_the_details_but_not_the_targets_or_documents_unless_chosen(
    mine, earlier, storage
):
    files_before = stored_files(storage)
    response = copy(mine, earlier.reference)
    draft = SubmissionDraft.objects.get()
    assert response["Location"] == f"/requests/drafts/{draft.pk}/"
    assert draft.copied_from == earlier.reference
    assert draft.kind == earlier.kind
    assert draft.fields["case_reference"] == "PF-2026-0412"
    assert draft.fields["legal_basis"] == "Art. 5 Regulation (EU) 2023/1543"
    assert draft.fields["authority_name"] == "Judge A. Example"
    assert draft.fields["data_categories"] == ["ip_addresses", "phone_number"]
    assert (draft.fields["period_from"], draft.fields["period_to"]) == ("2026-01-01", "2026-03-31")
    assert draft.fields["non_disclosure_basis"] == "Order 7/2026"
    assert draft.fields["targets"] == []
    assert draft.documents.count() == 0
    assert stored_files(storage) == files_before


def test_a_copy_with_its_targets_and_documents_keeps_the_documents_encrypted(
    mine, earlier, storage
):
    original = earlier.attachments.get()
    copy(mine, earlier.reference, copy_targets="on", copy_documents="on")
    draft = SubmissionDraft.objects.get()
    assert draft.fields["targets"] == [
        {"type": "username", "value": "suspect_one", "window_from": "", "window_to": ""},
        {
            "type": "ip_address",
            "value": "203.0.113.7",
            "window_from": "2026-02-01T08:00:00",
            "window_to": "2026-02-01T09:00:00",
        },
    ]
    document = draft.documents.get()
    assert (document.filename, document.sha256, document.size) == (
        original.filename,
        original.sha256,
        original.size,
    )
    assert document.file.name != original.file.name
    assert document.file.name.startswith("drafts/")
    copied = (storage / document.file.name).read_bytes()
    assert copied.startswith(AGE_HEADER)
    plain = sealed_read(document.file.name)
    assert hashlib.sha256(plain).hexdigest() == original.sha256
    assert plain not in copied
    # The form of the copy shows the targets.
    page = mine.get(f"/requests/drafts/{draft.pk}/").content.decode()
    assert 'value="203.0.113.7"' in page
    assert 'value="2026-02-01T08:00:00"' in page


def test_a_request_shared_with_an_officer_or_anothers_request_is_not_theirs_to_copy(
    officer, colleague, theirs, earlier, storage
):
    before = stored_files(storage)
    assert copy(theirs, earlier.reference, copy_documents="on").status_code == 404
    request_share(request=earlier, officer=officer, colleague=colleague)
    assert copy(theirs, earlier.reference, copy_documents="on").status_code == 404
    assert copy(theirs, "LR-2026-000000000000").status_code == 404
    assert SubmissionDraft.objects.count() == 0
    assert stored_files(storage) == before
    # The page of a shared request offers no copy either.
    page = theirs.get(f"/requests/mine/{earlier.reference}/").content.decode()
    assert "/requests/new/from/" not in page


def test_the_request_page_offers_its_submitter_a_copy(mine, earlier):
    page = mine.get(f"/requests/mine/{earlier.reference}/").content.decode()
    assert f'action="/requests/new/from/{earlier.reference}/"' in page
    assert 'name="copy_targets"' in page
    assert 'name="copy_documents"' in page
    assert "203.0.113.7" in page
    assert 'datetime="2026-02-01T08:00:00Z"' in page  # the window's start, {% when %}


# --- A draft that becomes a request ----------------------------------------------------------


def signed_from_check(client: Client, passkey: SoftPasskey, document: bytes) -> dict:
    """Check the draft's form, then confirm the payload with the passkey, as the page does."""
    import base64

    import rfc8785

    data = draft_form(("order.pdf", document))
    today = datetime.now(UTC).date()
    data.update(
        {
            "legal_basis": "Art. 5",
            "authority_name": "Judge A. Example",
            "authority_role": "judge",
            "authority_contact": "+4930123",
            "period_from": (today - timedelta(days=30)).isoformat(),
            "period_to": today.isoformat(),
        }
    )
    answer = client.post("/requests/new/subscriber_data/check/", data)
    assert answer.status_code == 200, answer.content
    payload = answer.json()["payload"]
    digest = hashlib.sha256(rfc8785.dumps(payload)).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    signed = passkey.assertion_response({"challenge": challenge})
    return {
        "payload": payload,
        "signature": {
            "alg": "webauthn",
            "key_id": "webauthn:" + signed["rawId"],
            "authenticator_data": signed["response"]["authenticatorData"],
            "client_data_json": signed["response"]["clientDataJSON"],
            "value": signed["response"]["signature"],
        },
    }


def submit(client: Client, envelope: dict, document: bytes, draft_id: int):
    return client.post(
        "/requests/new/submit/",
        {
            "envelope": SimpleUploadedFile("e.json", json.dumps(envelope).encode()),
            "attachment": [SimpleUploadedFile("order.pdf", document, "application/pdf")],
            "draft": str(draft_id),
        },
    )


def test_a_draft_sent_as_a_request_is_deleted_with_its_documents(
    officer, storage, django_capture_on_commit_callbacks
):
    passkey = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=passkey)
    client = Client()
    log_in(client, officer.user)
    document = pdf_bytes("order")
    draft_id = save(client, draft_form(("order.pdf", document))).json()["draft"]

    envelope = signed_from_check(client, passkey, document)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, envelope, document, draft_id)
    assert response.status_code == 201, response.content
    assert SubmissionDraft.objects.count() == DraftDocument.objects.count() == 0
    assert [p.parent.name for p in stored_files(storage)] == ["attachments"]


def test_sending_a_request_never_deletes_another_officers_draft(
    officer, colleague, theirs, storage, django_capture_on_commit_callbacks
):
    passkey = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=passkey)
    client = Client()
    log_in(client, officer.user)
    document = pdf_bytes("order")
    their_draft = save(theirs, draft_form(("theirs.pdf", pdf_bytes("theirs")))).json()["draft"]

    envelope = signed_from_check(client, passkey, document)
    with django_capture_on_commit_callbacks(execute=True):
        response = submit(client, envelope, document, their_draft)
    assert response.status_code == 201, response.content
    assert SubmissionDraft.objects.filter(pk=their_draft).exists()
    assert DraftDocument.objects.count() == 1


def test_a_refused_submission_keeps_the_draft(officer, storage):
    passkey = SoftPasskey()
    make_signing_passkey(officer=officer, passkey=passkey)
    client = Client()
    log_in(client, officer.user)
    document = pdf_bytes("order")
    draft_id = save(client, draft_form(("order.pdf", document))).json()["draft"]
    envelope = signed_from_check(client, passkey, document)
    envelope["payload"]["request"]["case_reference"] = "changed after signing"
    response = submit(client, envelope, document, draft_id)
    assert response.status_code == 401
    assert SubmissionDraft.objects.filter(pk=draft_id).exists()


def test_a_draft_document_no_row_names_is_swept_and_a_drafts_own_is_kept(mine, storage):
    """A write interrupted between the file and its row leaves ciphertext nothing names."""
    import os

    from django.utils import timezone

    from requests_app.delivery.orphans import ORPHAN_AGE, orphan_files_purge

    save(mine, draft_form(("order.pdf", pdf_bytes())))
    (kept,) = stored_files(storage)
    orphan = storage / "drafts" / "interrupted.age"
    orphan.write_bytes(AGE_HEADER + b"\n-> X25519 ...")
    moment = (timezone.now() - ORPHAN_AGE - timedelta(hours=1)).timestamp()
    for path in (kept, orphan):
        os.utime(path, (moment, moment))

    assert orphan_files_purge() == {"drafts": ["drafts/interrupted.age"]}
    assert kept.exists()
    assert not orphan.exists()
