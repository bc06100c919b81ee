"""What an officer does to a request they reached through the gate: reply, withdraw.

Both take a ``RequestAccess`` (only ``selectors.request_access_for_officer`` makes one),
so a stranger never gets this far. The state change itself is the review services' (one
transition table for both sides); this layer adds the officer's rights and tells the
reviewer who handles the request.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from requests_app.intake.attachments import VerifiedAttachment
from requests_app.intake.pipeline import attachment_store
from requests_app.lifecycle.access import RequestAccess
from requests_app.lifecycle.models import LegalRequest, Message, MessageAttachment
from requests_app.lifecycle.notify import (
    AUTHORITY_WROTE,
    REQUEST_WITHDRAWN,
    notify_on_commit,
    reviewer_addresses,
)
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.review.services import ReviewRefused, message_from_authority, request_withdraw

MAX_MESSAGE_LENGTH = 10_000
MAX_REASON_LENGTH = 500
# The storage folder of the documents of replies (delivery.orphans sweeps what no row names).
REPLY_DOCUMENTS_FOLDER = "message-documents"


@dataclass(frozen=True)
class SignedReply:
    """A reply's provenance, as ``signed_reply`` checked it: kept on the ``Message``."""

    payload: dict[str, Any]
    payload_sha256: str
    envelope_sha256: str
    signature: dict[str, Any]
    key_id: str
    verification_key: str
    nonce: str
    signed_at: datetime


def authority_reply(
    *,
    access: RequestAccess,
    body: str,
    signed: SignedReply | None = None,
    documents: Sequence[VerifiedAttachment] = (),
) -> Message:
    """Write in the clarification thread; an awaited answer restarts the deadline clock.

    A reply with ``documents`` is a signed one (``signed_reply`` ran intake's checks on
    it): the message keeps what was signed, and each document is stored as age
    ciphertext, in the same transaction.
    """
    if documents and signed is None:
        raise OfficerRefused(_("Documents come with a signed reply only."), code="malformed")
    if not access.may_reply:
        raise OfficerRefused(_("You may not write on this request."), code="forbidden")
    body = body.strip()
    if not body:
        raise OfficerRefused(_("Write your message."), code="malformed")
    if len(body) > MAX_MESSAGE_LENGTH:
        raise OfficerRefused(
            f"A message has at most {MAX_MESSAGE_LENGTH} characters.", code="malformed"
        )
    audit = (
        {
            "key_id": signed.key_id,
            "payload_sha256": signed.payload_sha256,
            "documents": [item.sha256 for item in documents],
        }
        if signed is not None
        else None
    )
    with transaction.atomic():
        try:
            message = message_from_authority(
                request=access.request,
                officer=access.officer,
                body=body,
                provenance=asdict(signed) if signed is not None else None,
                audit=audit,
            )
        except ReviewRefused as refused:
            raise OfficerRefused(str(refused)) from None
        for item in documents:
            MessageAttachment.objects.create(
                message=message,
                filename=item.filename,
                media_type=item.media_type,
                sha256=item.sha256,
                size=item.size,
                file=attachment_store(item, folder=REPLY_DOCUMENTS_FOLDER),
            )
        notify_on_commit(reviewer_addresses(access.request), AUTHORITY_WROTE)
    return message


def authority_withdraw(*, access: RequestAccess, reason: str = "") -> LegalRequest:
    """Withdraw the request (the submitter only); a second withdrawal is refused."""
    if not access.may_withdraw:
        raise OfficerRefused(
            _("Only the officer who submitted the request can withdraw it."), code="forbidden"
        )
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise OfficerRefused(
            f"A reason has at most {MAX_REASON_LENGTH} characters.", code="malformed"
        )
    with transaction.atomic():
        try:
            request = request_withdraw(
                request=access.request, officer=access.officer, reason=reason
            )
        except ReviewRefused as refused:
            raise OfficerRefused(str(refused)) from None
        notify_on_commit(reviewer_addresses(request), REQUEST_WITHDRAWN)
    return request
