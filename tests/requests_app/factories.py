"""Builders for legal requests as intake leaves them, without going through intake.

For pages and rules that start after intake (the review queue, the request page), a
request row with plausible provenance is enough; intake's own tests sign real ones.
"""

import hashlib
import io
import secrets
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import Agency, Officer, Role, User
from portal import crypto
from portal.audit import audit_append
from requests_app.lifecycle.models import Attachment, LegalRequest, RequestTarget, ReviewState
from tests.factories import make_agency, make_officer, make_user

_numbers = count(1)


def make_reviewer(**fields: Any) -> User:
    """An active reviewer of the legal team with a confirmed TOTP app."""
    return make_user(role=Role.REVIEWER, **fields)


def make_legal_request(
    *,
    officer: Officer | None = None,
    agency: Agency | None = None,
    status: str = LegalRequest.Status.RECEIVED,
    kind: str = "subscriber_data",
    received_at: datetime | None = None,
    due_at: datetime | None = None,
    due_in: timedelta = timedelta(days=5),
    targets: list[tuple[str, str]] | None = None,
    assignee: User | None = None,
    paused_since: datetime | None = None,
    non_disclosure_until: date | None = None,
    emergency_justification: str = "",
    audited: bool = True,
    **fields: Any,
) -> LegalRequest:
    """A request that passed intake, with targets, and its review row when it has one.

    ``due_in`` sets the deadline from now unless ``due_at`` is given. ``assignee`` and
    ``paused_since`` make the review row (a request awaiting clarification paused after
    its deadline is ``paused_late``, as ``review.services.clarification_ask`` records it);
    ``audited`` writes the intake audit event.
    """
    if officer is None:
        officer = make_officer(agency=agency or make_agency())
    number = next(_numbers)
    now = timezone.now()
    received_at = received_at or now - timedelta(hours=1)
    due_at = due_at or now + due_in
    emergency = kind == "emergency"
    body: dict[str, Any] = {
        "kind": kind,
        "case_reference": fields.get("case_reference", f"CASE-{number:05d}"),
        "legal_basis": "Art. 5 Regulation (EU) 2023/1543",
        "issuing_authority": {"name": "Judge A. Example", "role": "judge", "contact": "+4930"},
        "offence": fields.get("offence", "fraud"),
        "targets": [
            {"type": t, "value": v} for t, v in (targets or [("username", f"suspect_{number}")])
        ],
        "data_categories": fields.get("data_categories", ["ip_addresses", "phone_number"]),
        "period": {"from": "2026-01-01", "to": "2026-03-31"},
    }
    if emergency:
        body["emergency"] = {"justification": emergency_justification or "A life is at risk."}
    if non_disclosure_until:
        body["non_disclosure"] = {
            "until": non_disclosure_until.isoformat(),
            "basis": "Court order of secrecy",
        }
    payload = {"portal": "https://portal.test", "nonce": secrets.token_urlsafe(24), "request": body}
    payload_sha256 = hashlib.sha256(repr(payload).encode()).hexdigest()
    reference = fields.pop("reference", f"LR-2026-{number:08X}")
    defaults: dict[str, Any] = {
        "case_reference": body["case_reference"],
        "offence": body["offence"],
        "data_categories": body["data_categories"],
        "period_from": date(2026, 1, 1),
        "period_to": date(2026, 3, 31),
        "channel": "api",
        "key_id": "ed25519:" + hashlib.sha256(f"key {number}".encode()).hexdigest(),
        "paused_late": status == LegalRequest.Status.AWAITING_CLARIFICATION
        and paused_since is not None
        and due_at < paused_since,
    }
    defaults.update(fields)
    request = LegalRequest.objects.create(
        reference=reference,
        agency=officer.agency,
        officer=officer,
        status=status,
        kind=kind,
        emergency=emergency,
        country=officer.agency.country,
        payload=payload,
        payload_sha256=payload_sha256,
        envelope_sha256=hashlib.sha256(payload_sha256.encode()).hexdigest(),
        signature={"alg": "ed25519", "key_id": defaults["key_id"], "value": "c2lnbmF0dXJl"},
        nonce=payload["nonce"],
        signed_at=received_at - timedelta(seconds=2),
        signature_verified_at=received_at,
        received_at=received_at,
        due_at=due_at,
        receipt={
            "reference": reference,
            "payload_sha256": payload_sha256,
            "received_at": received_at.isoformat(),
            "alg": "ed25519",
            "key_id": "ed25519:portal",
            "signature": "cmVjZWlwdA==",
        },
        **defaults,
    )
    RequestTarget.objects.bulk_create(
        [RequestTarget(request=request, type=t["type"], value=t["value"]) for t in body["targets"]]
    )
    if assignee is not None or paused_since is not None or non_disclosure_until is not None:
        ReviewState.objects.create(
            request=request,
            assignee=assignee,
            assigned_at=now if assignee else None,
            paused_since=paused_since,
            non_disclosure_until=non_disclosure_until,
        )
    if audited:
        audit_append(
            actor=officer.user,
            action="legal_request.received",
            target=request,
            data={
                "reference": reference,
                "channel": request.channel,
                "key_id": request.key_id,
                "payload_sha256": payload_sha256,
            },
        )
    return request


def make_attachment(
    request: LegalRequest,
    *,
    content: bytes = b"%PDF-1.4\n% a court order\n",
    filename: str = "order.pdf",
    media_type: str = "application/pdf",
) -> Attachment:
    """A legal document of ``request``, stored as intake stores it: sealed to the storage key."""
    digest = hashlib.sha256(content).hexdigest()
    sealed = io.BytesIO()
    crypto.storage_seal(io.BytesIO(content), sealed)
    name = default_storage.save(f"attachments/{digest[:16]}.age", ContentFile(sealed.getvalue()))
    return Attachment.objects.create(
        request=request,
        filename=filename,
        media_type=media_type,
        sha256=digest,
        size=len(content),
        file=name,
    )
