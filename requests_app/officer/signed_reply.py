"""A clarification reply with documents, signed exactly as a submission is (PROTOCOL §4.5).

The checks are intake's own, run in intake's order on the reply's envelope: parse
(``intake.parse``, with the schema below), the sender and their key (``intake.channel``
and ``intake.webauthn``), a byte-identical retry, the signature (``intake.signature``
or the passkey assertion), the request named, the audience, time and nonce
(``intake.freshness``), then the documents (``intake.attachments``). The first refusal is
the answer (a ``Problem``) and nothing is stored; a reply that passes goes to
``services.authority_reply`` with its provenance and its checked documents, which stores
them as age ciphertext like a submission's.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers

from portal.problems import Problem, field_errors
from requests_app.intake.attachments import attachments_check
from requests_app.intake.channel import Sender, api_sender
from requests_app.intake.freshness import freshness_check
from requests_app.intake.parse import ParsedEnvelope, envelope_parse
from requests_app.intake.pipeline import nonce_accepted
from requests_app.intake.schema import (
    MAX_ATTACHMENTS,
    DeclaredAttachment,
    Signature,
    SignedPayload,
    StrictSerializer,
)
from requests_app.intake.signature import ed25519_signature_check
from requests_app.intake.webauthn import b64url_encode, web_sender, webauthn_signature_check
from requests_app.lifecycle.access import RequestAccess
from requests_app.lifecycle.models import Message
from requests_app.lifecycle.refusals import OfficerRefused
from requests_app.officer.services import (
    MAX_MESSAGE_LENGTH,
    SignedReply,
    authority_reply,
)

REFERENCE_MAX_LENGTH = 32


# --- The reply's envelope (PROTOCOL §4.5) ---------------------------------------------


class ReplyBody(StrictSerializer):
    reference = serializers.CharField(max_length=REFERENCE_MAX_LENGTH)
    body = serializers.CharField(max_length=MAX_MESSAGE_LENGTH, trim_whitespace=False)
    attachments = DeclaredAttachment(  # type: ignore[call-arg]
        many=True, allow_empty=False, max_length=MAX_ATTACHMENTS
    )

    def validate_body(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(_("Write your message."))
        return value


class ReplyPayload(SignedPayload):
    message = ReplyBody()


class ReplyEnvelope(StrictSerializer):
    payload = ReplyPayload()
    signature = Signature()


def reply_payload_for_signing(
    *, access: RequestAccess, body: str, attachments: str, now: datetime
) -> dict[str, Any]:
    """The payload the officer's passkey will sign for a reply with documents (the web).

    ``attachments`` is the page's JSON list of declarations (the browser hashed the
    files). The time is the portal's and the nonce 256 random bits, as for a submission
    (PROTOCOL §4.10). Raises ``Problem`` (``malformed``, with ``errors`` on ``body`` and
    ``attachments``) for what the schema refuses.
    """
    try:
        declared = json.loads(attachments or "[]")
    except ValueError:
        declared = None
    if not isinstance(declared, list):
        raise Problem(
            "malformed",
            400,
            _("The chosen files could not be read."),
            errors=[{"field": "attachments", "message": _("Choose the files again.")}],
        )
    message = {"reference": access.request.reference, "body": body, "attachments": declared}
    checked = ReplyBody(data=message)
    if not checked.is_valid():
        errors = [
            {
                "field": "attachments" if error["field"].startswith("attachments") else "body",
                "message": error["message"],
            }
            for error in field_errors(checked.errors)
        ]
        raise Problem("malformed", 400, _("Some fields need your attention."), errors=errors)
    return {
        "portal": settings.PORTAL_AUDIENCE,
        "nonce": secrets.token_urlsafe(32),
        "signed_at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": message,
    }


# --- The checks, in intake's order ------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    message: Message
    created: bool  # False for a byte-identical retry answered from the record


def _nonce_used(nonce: str) -> Message | bool:
    """The reply that holds the nonce, or whether an accepted submission does.

    One nonce space for submissions and replies: a signed payload of either kind is
    accepted once.
    """
    holder = Message.objects.filter(nonce=nonce).first()
    if holder is not None:
        return holder
    return nonce_accepted(nonce)


def _retry_of(holder: Message, *, access: RequestAccess, envelope: ParsedEnvelope) -> bool:
    return (
        holder.request_id == access.request.pk
        and holder.author_id == access.officer.user_id
        and holder.envelope_sha256 == envelope.envelope_sha256
    )


def _verification_key(sender: Sender) -> str:
    if sender.signing_key is not None:
        return sender.signing_key.public_key_pem
    return b64url_encode(bytes(sender.webauthn_credential.public_key))


def _reply(
    *,
    access: RequestAccess,
    envelope: ParsedEnvelope,
    sender: Sender,
    uploads: list[UploadedFile],
    now: datetime,
    used: Message | bool,
) -> Accepted:
    """Steps 4 and 5 and the write, shared by both channels."""
    body: dict[str, Any] = envelope.payload["message"]
    if body["reference"] != access.request.reference:
        raise Problem(
            "wrong_audience",
            400,
            _("This reply is signed for request %(signed)s, not %(reference)s.")
            % {"signed": body["reference"], "reference": access.request.reference},
        )
    freshness_check(envelope=envelope, now=now, nonce_used=bool(used))  # 4
    documents = attachments_check(declared=body["attachments"], uploads=uploads)  # 5
    signed = SignedReply(
        payload=envelope.raw_payload,
        payload_sha256=envelope.payload_sha256,
        envelope_sha256=envelope.envelope_sha256,
        signature=envelope.signature,
        key_id=envelope.signature["key_id"],
        verification_key=_verification_key(sender),
        nonce=envelope.payload["nonce"],
        signed_at=envelope.signed_at,
    )
    try:
        message = authority_reply(
            access=access, body=body["body"], signed=signed, documents=documents
        )
    except OfficerRefused as refused:
        extra: dict[str, Any] = {}
        if refused.code == "invalid_state":
            access.request.refresh_from_db(fields=["status"])
            extra["request_status"] = access.request.status
        raise Problem(refused.code, refused.status, refused.message, **extra) from None
    except IntegrityError:
        # Two replies with one nonce raced; the unique constraint let one through.
        holder = _nonce_used(envelope.payload["nonce"])
        if isinstance(holder, Message) and _retry_of(holder, access=access, envelope=envelope):
            return Accepted(holder, created=False)
        raise Problem("replay", 409, _("This nonce was used before.")) from None
    return Accepted(message, created=True)


def signed_reply_accept_api(
    *,
    access: RequestAccess,
    raw_envelope: bytes,
    uploads: list[UploadedFile],
    now: datetime | None = None,
) -> Accepted:
    """Check an API reply with documents (Ed25519) and store it, or raise ``Problem``."""
    now = now or timezone.now()
    envelope = envelope_parse(raw_envelope, schema=ReplyEnvelope)  # 1
    sender = api_sender(officer=access.officer, signature=envelope.signature)  # 2
    used = _nonce_used(envelope.payload["nonce"])
    if isinstance(used, Message) and _retry_of(used, access=access, envelope=envelope):
        return Accepted(used, created=False)
    ed25519_signature_check(envelope=envelope, key=sender.signing_key)  # 3
    return _reply(
        access=access, envelope=envelope, sender=sender, uploads=uploads, now=now, used=used
    )


def signed_reply_accept_web(
    *,
    access: RequestAccess,
    raw_envelope: bytes,
    uploads: list[UploadedFile],
    user: Any,
    verified: bool,
    now: datetime | None = None,
) -> Accepted:
    """Check a web reply with documents (the officer's passkey) and store it, or raise."""
    now = now or timezone.now()
    envelope = envelope_parse(raw_envelope, schema=ReplyEnvelope)  # 1
    sender = web_sender(user=user, verified=verified, signature=envelope.signature)  # 2
    if sender.officer.pk != access.officer.pk:  # the session's officer reached the request
        raise Problem("unknown_key", 401, _("No passkey with this id is registered for you."))
    used = _nonce_used(envelope.payload["nonce"])
    if isinstance(used, Message) and _retry_of(used, access=access, envelope=envelope):
        # A retry of the same bytes: answered before the signature, whose counter the
        # first attempt has already moved on.
        return Accepted(used, created=False)
    webauthn_signature_check(envelope=envelope, credential=sender.webauthn_credential)  # 3
    return _reply(
        access=access, envelope=envelope, sender=sender, uploads=uploads, now=now, used=used
    )
