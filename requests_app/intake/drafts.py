"""Drafts: requests an officer saved unsigned, and new requests copied from earlier ones.

A draft is its author's alone: every read goes through ``draft_get_for_officer``, which
answers 404 for anyone else's (or no) draft. Its documents are kept as the documents of a
request are, as age ciphertext to the portal's storage key (``lifecycle.storage``),
under ``drafts/``; a copy of an earlier request copies the ciphertext, never the
plaintext. Deleting a draft deletes its files once the deletion is committed.
"""

import hashlib
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Officer
from requests_app.intake.attachments import VerifiedAttachment
from requests_app.intake.models import DraftDocument, SubmissionDraft
from requests_app.lifecycle.access import request_access_for_officer
from requests_app.lifecycle.models import Attachment, LegalRequest
from requests_app.lifecycle.storage import sealed_copy, sealed_read, sealed_save

DRAFT_FOLDER = "drafts"
# An officer keeps at most this many drafts: each may hold documents.
MAX_DRAFTS = 50


def _too_many_drafts() -> str:
    return _("You have %(count)d drafts, the most the portal keeps. Delete one first.") % {
        "count": MAX_DRAFTS
    }


class DraftRefused(Exception):
    """A draft could not be saved; ``message`` says why, for the officer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def drafts_for_officer(*, officer: Officer) -> QuerySet[SubmissionDraft]:
    """The officer's own drafts, most recently saved first."""
    return SubmissionDraft.objects.filter(officer=officer).prefetch_related("documents")


def draft_get_for_officer(*, officer: Officer, draft_id: int) -> SubmissionDraft:
    """One of the officer's own drafts, or 404 (another officer's draft is not theirs)."""
    draft = drafts_for_officer(officer=officer).filter(pk=draft_id).first()
    if draft is None:
        raise Http404
    return draft


def draft_document_get(*, draft: SubmissionDraft, document_id: int) -> DraftDocument:
    document = draft.documents.filter(pk=document_id).first()
    if document is None:
        raise Http404
    return document


def draft_document_plaintext(document: DraftDocument) -> bytes:
    """A draft document's bytes, decrypted and checked against the SHA-256 it was saved with."""
    plain = sealed_read(str(document.file.name))
    if hashlib.sha256(plain).hexdigest() != document.sha256:
        raise ValueError(f"Draft document {document.pk} is not the one that was saved.")
    return plain


def _files_delete_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            default_storage.delete(name)

    transaction.on_commit(delete)


def draft_save(
    *,
    officer: Officer,
    kind: str,
    fields: dict[str, Any],
    documents: list[VerifiedAttachment],
    draft: SubmissionDraft | None = None,
) -> SubmissionDraft:
    """Create or update a draft with these fields and exactly these documents.

    ``documents`` were checked as intake checks attachments. A document the draft already
    holds (the same SHA-256) is kept as stored; the others are stored anew, encrypted;
    documents no longer chosen are deleted.
    """
    with transaction.atomic():
        if draft is None:
            if SubmissionDraft.objects.filter(officer=officer).count() >= MAX_DRAFTS:
                raise DraftRefused(_too_many_drafts())
            draft = SubmissionDraft.objects.create(officer=officer, kind=kind, fields=fields)
        else:
            draft = SubmissionDraft.objects.select_for_update().get(pk=draft.pk)
            draft.fields = fields
            draft.updated_at = timezone.now()
            draft.save(update_fields=["fields", "updated_at"])
        kept = {document.sha256: document for document in draft.documents.all()}
        chosen = {item.sha256 for item in documents}
        gone = [document for sha256, document in kept.items() if sha256 not in chosen]
        DraftDocument.objects.filter(pk__in=[document.pk for document in gone]).delete()
        _files_delete_on_commit([str(document.file.name) for document in gone])
        stored: list[str] = []
        try:
            for item in documents:
                if item.sha256 in kept:
                    continue
                name = sealed_save(item.upload, folder=DRAFT_FOLDER)
                stored.append(name)
                DraftDocument.objects.create(
                    draft=draft,
                    filename=item.filename,
                    media_type=item.media_type,
                    sha256=item.sha256,
                    size=item.size,
                    file=name,
                )
        except BaseException:
            for name in stored:
                default_storage.delete(name)
            raise
    return draft


def draft_delete(*, draft: SubmissionDraft) -> None:
    """Delete a draft and, once that is committed, its stored documents."""
    with transaction.atomic():
        names = [str(document.file.name) for document in draft.documents.all()]
        draft.delete()
        _files_delete_on_commit(names)


@dataclass(frozen=True)
class CopyChoice:
    """What a copy takes from the earlier request besides its details."""

    targets: bool
    documents: bool


def request_of_officer(*, officer: Officer, reference: str) -> LegalRequest:
    """A request the officer submitted themselves, or 404 (a shared one is not theirs)."""
    access = request_access_for_officer(officer=officer, reference=reference)  # 404 if none
    if not access.is_submitter:
        raise Http404
    return access.request


def draft_from_request(
    *, officer: Officer, request: LegalRequest, fields: dict[str, Any], choice: CopyChoice
) -> SubmissionDraft:
    """A new draft of the officer's from an earlier request of theirs.

    ``fields`` are the form's fields made from the request (``web.forms.fields_of_request``).
    Its documents are copied, still encrypted, only if ``choice.documents``.
    """
    if request.officer_id != officer.pk:
        raise Http404
    attachments: list[Attachment] = list(request.attachments.all()) if choice.documents else []
    stored: list[str] = []
    try:
        with transaction.atomic():
            if SubmissionDraft.objects.filter(officer=officer).count() >= MAX_DRAFTS:
                raise DraftRefused(_too_many_drafts())
            draft = SubmissionDraft.objects.create(
                officer=officer, kind=request.kind, fields=fields, copied_from=request.reference
            )
            for attachment in attachments:
                name = sealed_copy(str(attachment.file.name), folder=DRAFT_FOLDER)
                stored.append(name)
                DraftDocument.objects.create(
                    draft=draft,
                    filename=attachment.filename,
                    media_type=attachment.media_type,
                    sha256=attachment.sha256,
                    size=attachment.size,
                    file=name,
                )
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    return draft


def draft_submitted(*, officer: Officer, draft_id: int) -> None:
    """The officer's draft became a request: delete it (a draft of another officer: nothing)."""
    draft = drafts_for_officer(officer=officer).filter(pk=draft_id).first()
    if draft is not None:
        draft_delete(draft=draft)
