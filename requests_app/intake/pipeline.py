"""The intake gateway: the six checks of PROTOCOL §3, in order, then one transaction.

Each step is a function that returns what the next needs or raises ``Problem``; the
first refusal is the answer. A refusal is written to the intake-rejection log and
nothing else: no request, no attachment, no audit event. An accepted submission becomes
a ``LegalRequest`` with its targets, attachments and audit event in one transaction.
"""

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import JSONField, Subquery
from django.db.models.expressions import RawSQL
from django.db.models.functions import JSONObject
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.models import Officer
from portal import crypto
from portal.audit import audit_append, audit_seq_next_sql
from portal.audit_api import INCLUSION_PATH_PREFIX, inclusion_path
from portal.problems import Problem
from requests_app.intake.attachments import VerifiedAttachment, attachments_check
from requests_app.intake.channel import Lookups, Sender, api_sender
from requests_app.intake.freshness import freshness_check
from requests_app.intake.models import IntakeRejection
from requests_app.intake.parse import ParsedEnvelope, envelope_parse
from requests_app.intake.signature import ed25519_signature_check
from requests_app.intake.webauthn import b64url_encode, web_sender, webauthn_signature_check
from requests_app.lifecycle.access import officer_of
from requests_app.lifecycle.models import Attachment, LegalRequest, RequestTarget
from requests_app.lifecycle.storage import sealed_save
from requests_app.policy.rules import (
    policy_rule_check,
    policy_rule_from_json,
    policy_rule_subquery,
)


@dataclass(frozen=True)
class Accepted:
    request: LegalRequest
    created: bool  # False for a byte-identical retry answered from the record

    def answer(self) -> dict[str, Any]:
        return submission_answer(self.request)


def submission_answer(request: LegalRequest) -> dict[str, Any]:
    """The 201 body of PROTOCOL §4.3: a retry gets the same reference and receipt, with the
    request's current status and due time (PROTOCOL §5.6)."""
    return {
        "reference": request.reference,
        "status": request.status,
        "due_at": _rfc3339(request.due_at),
        "receipt": request.receipt,
    }


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_reference(now: datetime) -> str:
    return f"LR-{now:%Y}-{secrets.token_hex(6).upper()}"


def _nonce_holder(nonce: str) -> LegalRequest | None:
    """The request that already used this nonce, if any (one look-up on a unique index).

    The nonce is inside the signed payload, so a byte-identical retry of an accepted
    envelope always finds its own request here; any other holder makes it a replay.
    """
    return LegalRequest.objects.filter(nonce=nonce).first()


def _checks_subqueries(*, nonce: str, country: str, kind: str) -> dict[str, Any]:
    holders = LegalRequest.objects.filter(nonce=nonce).values(
        holder=JSONObject(id="id", officer_id="officer_id", envelope_sha256="envelope_sha256")
    )
    return {
        "nonce_holder": Subquery(holders[:1]),
        "policy_rule": policy_rule_subquery(country=country, kind=kind),
    }


def _checks_lookups(envelope: ParsedEnvelope) -> Lookups:
    """What steps 2 to 6 read besides the key, folded into the key's query (one round trip).

    The holder of the nonce (the retry and replay checks) and the policy rule for the
    officer's country and the request's kind: both read afresh on every submission, so a
    policy edit applies to the very next one, as a key's revocation does.
    """
    nonce = envelope.payload["nonce"]
    kind = envelope.payload["request"]["kind"]
    return Lookups(
        build=_checks_subqueries,
        values=lambda officer: {
            "nonce": nonce,
            "country": str(officer.agency.country),
            "kind": kind,
        },
        json=("nonce_holder", "policy_rule"),
    )


def _looked_up_holder(
    sender: Sender, *, envelope: ParsedEnvelope
) -> tuple[LegalRequest | None, bool]:
    """(the request to answer a retry with, or ``None``; whether the nonce was used)."""
    holder = sender.looked_up["nonce_holder"]
    if holder is None:
        return None, False
    if holder["officer_id"] == sender.officer.pk and (
        holder["envelope_sha256"] == envelope.envelope_sha256
    ):
        # A retry (rare): only now the whole request, for the original answer.
        return LegalRequest.objects.get(pk=holder["id"]), True
    return None, True


def nonce_accepted(nonce: str) -> bool:
    """Whether an accepted request holds this nonce (a signed reply's nonce must not)."""
    return _nonce_holder(nonce) is not None


def _retry_of(holder: LegalRequest, *, sender: Sender, envelope: ParsedEnvelope) -> bool:
    """Whether ``holder`` is this very envelope, sent again by the same officer."""
    return (
        holder.officer_id == sender.officer.pk
        and holder.envelope_sha256 == envelope.envelope_sha256
    )


def rejection_record(
    *,
    problem: Problem,
    channel: str,
    body_sha256: str,
    ip: str | None,
    officer: Officer | None = None,
    key_id: str = "",
) -> None:
    """Log a refused submission (never its content) for administrators.

    The detail is the refusal as it was answered, in the active language: that language
    is recorded beside it, for administrators who read another.
    """
    IntakeRejection.objects.create(
        channel=channel,
        code=problem.code,
        status=problem.status,
        detail=problem.message[:300],
        language=(get_language() or "")[:10],
        officer=officer,
        agency=officer.agency if officer else None,
        key_id=key_id[:200],
        ip=ip,
        body_sha256=body_sha256,
    )


def attachment_store(item: VerifiedAttachment, *, folder: str = "attachments") -> str:
    """Store a legal document as age ciphertext to the portal's storage key, never as is.

    ``folder`` is the storage folder of the rows that name such files
    (``lifecycle.storage.STORED_FOLDERS``, which the orphan sweeper reads).
    """
    return sealed_save(item.upload, folder=folder)


def _verification_key(sender: Sender) -> str:
    if sender.signing_key is not None:
        return sender.signing_key.public_key_pem
    return b64url_encode(bytes(sender.webauthn_credential.public_key))


def _create(
    *,
    envelope: ParsedEnvelope,
    sender: Sender,
    attachments: list[VerifiedAttachment],
    deadline_hours: int,
    now: datetime,
) -> LegalRequest:
    body = envelope.payload["request"]
    due_at = now + timedelta(hours=deadline_hours)
    reference = _new_reference(now)
    receipt = crypto.portal_receipt(
        reference=reference, payload_sha256=envelope.payload_sha256, received_at=_rfc3339(now)
    )
    period = body.get("period") or {}
    request = LegalRequest.objects.create(
        reference=reference,
        agency=sender.officer.agency,
        officer=sender.officer,
        channel=sender.channel,
        kind=body["kind"],
        emergency=body["kind"] == "emergency",
        country=sender.officer.agency.country,
        case_reference=body["case_reference"],
        offence=body["offence"],
        data_categories=list(body["data_categories"]),
        period_from=period.get("from"),
        period_to=period.get("to"),
        payload=envelope.raw_payload,
        payload_sha256=envelope.payload_sha256,
        envelope_sha256=envelope.envelope_sha256,
        signature=envelope.signature,
        key_id=envelope.signature["key_id"],
        signing_key=sender.signing_key,
        verification_key=_verification_key(sender),
        nonce=envelope.payload["nonce"],
        signed_at=envelope.signed_at,
        signature_verified_at=now,
        received_at=now,
        due_at=due_at,
        receipt=_receipt_naming_its_event(receipt),
    )
    # The receipt names its audit event (PROTOCOL §6.6). On PostgreSQL the event's number
    # was taken by the INSERT above, which wrote it into the receipt; elsewhere it exists
    # only once the event does, and the row is updated then, in the same transaction. The
    # position in the tree comes from the sequencer seconds after the commit, so the
    # receipt says where to ask for it rather than guess it.
    audit_seq: int | None = request.receipt.get("audit_event")
    RequestTarget.objects.bulk_create(
        [
            RequestTarget(
                request=request,
                type=t["type"],
                value=t["value"],
                window_from=t["window"]["from"] if "window" in t else None,
                window_to=t["window"]["to"] if "window" in t else None,
            )
            for t in body["targets"]
        ]
    )
    for item in attachments:
        Attachment.objects.create(
            request=request,
            filename=item.filename,
            media_type=item.media_type,
            sha256=item.sha256,
            size=item.size,
            file=attachment_store(item),
        )
    received = audit_append(
        actor=sender.officer.user,
        action="legal_request.received",
        target=request,
        data={
            "reference": reference,
            "channel": sender.channel,
            "key_id": request.key_id,
            "payload_sha256": envelope.payload_sha256,
            "kind": request.kind,
            "agency_id": sender.officer.agency_id,
            "due_at": _rfc3339(due_at),
            "attachments": [a.sha256 for a in attachments],
        },
        seq=audit_seq,
    )
    if audit_seq is None:
        request.receipt = {**receipt, **receipt_audit_fields(received.seq)}
        request.save(update_fields=["receipt"])
    return request


def _receipt_naming_its_event(receipt: dict[str, Any]) -> Any:
    """The receipt with its audit fields, the event's number taken by the INSERT itself
    (one number, used twice); the receipt as it is where numbers are not taken so."""
    take = audit_seq_next_sql()
    if take is None:
        return receipt
    return RawSQL(  # noqa: S611  (portal.audit's fixed SQL; the values are parameters)
        "(SELECT %s::jsonb || jsonb_build_object('audit_event', taken.seq, "  # noqa: S608  (idem)
        f"'audit_inclusion', %s || taken.seq::text) FROM (SELECT {take} AS seq) AS taken)",
        (json.dumps(receipt), INCLUSION_PATH_PREFIX),
        output_field=JSONField(),
    )


def receipt_audit_fields(seq: int) -> dict[str, Any]:
    """The unsigned fields of a receipt that point at its ``legal_request.received`` event."""
    return {
        "audit_event": seq,
        "audit_inclusion": inclusion_path(seq),
    }


def submission_accept_api(
    *,
    raw_envelope: bytes,
    uploads: list[UploadedFile],
    officer: Officer | None,
    ip: str | None,
    now: datetime | None = None,
) -> Accepted:
    """Run an API submission through intake; return the request or raise ``Problem``."""
    now = now or timezone.now()
    body_sha256 = crypto.sha256_hex(raw_envelope)
    key_id = ""
    try:
        envelope = envelope_parse(raw_envelope)  # 1
        key_id = envelope.signature["key_id"]
        sender = api_sender(  # 2
            officer=officer, signature=envelope.signature, lookups=_checks_lookups(envelope)
        )
        retried, nonce_used = _looked_up_holder(sender, envelope=envelope)
        if retried is not None:
            return Accepted(retried, created=False)  # a client's retry
        ed25519_signature_check(envelope=envelope, key=sender.signing_key)  # 3
        return _accept_checked(
            envelope=envelope, sender=sender, uploads=uploads, now=now, nonce_used=nonce_used
        )
    except Problem as problem:
        rejection_record(
            problem=problem,
            channel="api",
            body_sha256=body_sha256,
            ip=ip,
            officer=officer,
            key_id=key_id,
        )
        problem.logged = True
        raise


def submission_accept_web(
    *,
    raw_envelope: bytes,
    uploads: list[UploadedFile],
    user: Any,
    verified: bool,
    ip: str | None,
    now: datetime | None = None,
) -> Accepted:
    """Run a web submission through intake; return the request or raise ``Problem``.

    ``user`` is the session's user and ``verified`` whether the session passed a second
    factor. The signature is the officer's passkey assertion over the payload (PROTOCOL
    §2); a session alone, without one, is refused at step 2 or 3 and logged.
    """
    now = now or timezone.now()
    body_sha256 = crypto.sha256_hex(raw_envelope)
    key_id = ""
    try:
        envelope = envelope_parse(raw_envelope)  # 1
        key_id = envelope.signature["key_id"]
        sender = web_sender(  # 2
            user=user,
            verified=verified,
            signature=envelope.signature,
            lookups=_checks_lookups(envelope),
        )
        retried, nonce_used = _looked_up_holder(sender, envelope=envelope)
        if retried is not None:
            # A retry of the same bytes (a double click, a lost answer): checked before the
            # signature, whose counter the first attempt has already moved on.
            return Accepted(retried, created=False)
        webauthn_signature_check(envelope=envelope, credential=sender.webauthn_credential)  # 3
        return _accept_checked(
            envelope=envelope, sender=sender, uploads=uploads, now=now, nonce_used=nonce_used
        )
    except Problem as problem:
        rejection_record(
            problem=problem,
            channel="web",
            body_sha256=body_sha256,
            ip=ip,
            officer=officer_of(user),
            key_id=key_id,
        )
        problem.logged = True
        raise


def _accept_checked(
    *,
    envelope: ParsedEnvelope,
    sender: Sender,
    uploads: list[UploadedFile],
    now: datetime,
    nonce_used: bool,
) -> Accepted:
    """Steps 4 to 6 and the write, shared by both channels."""
    freshness_check(envelope=envelope, now=now, nonce_used=nonce_used)  # 4
    body = envelope.payload["request"]
    attachments = attachments_check(declared=body.get("attachments", []), uploads=uploads)  # 5
    rule = policy_rule_check(  # 6, with the rule read in step 2's query
        policy_rule_from_json(sender.looked_up["policy_rule"]),
        country=str(sender.officer.agency.country),
        request=body,
        attachments=attachments,
        today=now.date(),
    )
    try:
        with transaction.atomic():
            request = _create(
                envelope=envelope,
                sender=sender,
                attachments=attachments,
                deadline_hours=rule.deadline_hours,
                now=now,
            )
    except IntegrityError:
        # Two submissions with one nonce raced; the unique constraint let one through. If
        # that was the first attempt of this very envelope, this is its retry.
        holder = _nonce_holder(envelope.payload["nonce"])
        if holder is not None and _retry_of(holder, sender=sender, envelope=envelope):
            return Accepted(holder, created=False)
        if holder is not None:
            raise Problem("replay", 409, _("This nonce was used before.")) from None
        raise
    return Accepted(request, created=True)


def body_refused_record(
    sender: object, *, channel: str, problem: Problem, ip: str, **_: object
) -> None:
    """Receive ``portal.signals.request_body_refused``: the refusal goes into the log."""
    rejection_record(problem=problem, channel=channel, body_sha256="", ip=ip)
