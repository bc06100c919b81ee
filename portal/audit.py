"""Append to and verify the tamper-evident audit chain.

Every state change in the portal calls ``audit_append`` inside the transaction that
makes the change, so an event exists exactly when the change does. Appends take the row
lock of the chain head: concurrent writers from any number of processes queue there and
extend one unbroken chain. Keep the append late in a transaction, since the lock is held
until it commits.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import rfc8785
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from .models import GENESIS_HASH, AuditChainHead, AuditEvent

SYSTEM_ACTOR = "system"


def _canonical_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def audit_event_hash(
    *,
    seq: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    data: dict[str, Any],
    prev_hash: str,
) -> str:
    """Return the SHA-256 (hex) of the RFC 8785 encoding of an event's fields."""
    document: dict[str, Any] = {
        "seq": seq,
        "created_at": _canonical_time(created_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def _safe_float(text: str) -> float:
    # PostgreSQL's jsonb prints a float of 1e16 or more as integer digits, which read back
    # as an integer beyond RFC 8785's range: the stored event could never be verified.
    number = float(text)
    if abs(number) > 2**53 - 1:
        raise rfc8785.IntegerDomainError(int(number))
    return number


def _plain_json(data: dict[str, Any]) -> dict[str, Any]:
    # Dates, decimals and UUIDs become strings now, so the stored value and the hashed
    # value are the same document.
    plain: dict[str, Any] = json.loads(
        json.dumps(data, cls=DjangoJSONEncoder), parse_float=_safe_float
    )
    return plain


def audit_append(
    *,
    actor: Any = None,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    ``actor`` is a user or ``None`` for the system; ``target`` a model instance, or
    ``target_type``/``target_id`` given directly. ``data`` holds before/after values
    and anything else an auditor needs; it must be JSON with numbers below 2**53.
    """
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    payload = _plain_json(data or {})
    actor_id = actor.pk if actor is not None and actor.pk is not None else None
    actor_label = getattr(actor, "email", "") or (str(actor) if actor is not None else SYSTEM_ACTOR)

    with transaction.atomic():
        AuditChainHead.objects.get_or_create(pk=1)
        head = AuditChainHead.objects.select_for_update().get(pk=1)
        seq = head.seq + 1
        created_at = timezone.now()
        digest = audit_event_hash(
            seq=seq,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=payload,
            prev_hash=head.hash,
        )
        event = AuditEvent.objects.create(
            seq=seq,
            created_at=created_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            data=payload,
            prev_hash=head.hash,
            hash=digest,
        )
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    head_hash: str
    broken_seq: int | None = None
    broken_id: int | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.events} events, head {self.head_hash}"
        where = f"event #{self.broken_seq}" + (
            f" (row id {self.broken_id})" if self.broken_id else ""
        )
        return f"audit chain broken at {where}: {self.reason}"


def _events_in_order(batch: int = 2000) -> Iterator[AuditEvent]:
    return AuditEvent.objects.order_by("seq").iterator(chunk_size=batch)


def _chain_head() -> tuple[int, str]:
    head = AuditChainHead.objects.filter(pk=1).values_list("seq", "hash").first()
    return head if head is not None else (0, GENESIS_HASH)


def audit_chain_verify() -> ChainReport:
    """Walk the whole chain and return where it first breaks, if anywhere.

    Detects an edited event (its hash no longer matches its content), a deleted or
    reordered event (a gap in ``seq`` or a ``prev_hash`` that does not match the event
    before), and events removed from the end (the head records a later event).

    Appends may commit while the walk runs. An append writes its event and moves the
    head in one transaction, so the head read *before* the walk names events the walk
    must find, and the head read *after* it covers every event the walk could have seen.
    Comparing the walk against the head on the side that can only be behind, never
    ahead, keeps a concurrent append from looking like tampering, under any isolation
    level and inside a caller's transaction alike.
    """
    head_seq, head_hash = _chain_head()
    expected_seq = 1
    prev_hash = GENESIS_HASH
    hash_at_head = GENESIS_HASH
    count = 0
    for event in _events_in_order():
        if event.seq != expected_seq:
            return ChainReport(
                False,
                count,
                prev_hash,
                expected_seq,
                None,
                f"event #{expected_seq} is missing (next is #{event.seq})",
            )
        if event.prev_hash != prev_hash:
            return ChainReport(
                False,
                count,
                prev_hash,
                event.seq,
                event.pk,
                "its previous-hash does not match the event before it "
                "(an event was removed, inserted or reordered)",
            )
        try:
            recomputed = audit_event_hash(
                seq=event.seq,
                created_at=event.created_at,
                actor_id=event.actor_id,
                actor_label=event.actor_label,
                action=event.action,
                target_type=event.target_type,
                target_id=event.target_id,
                data=event.data,
                prev_hash=event.prev_hash,
            )
        except rfc8785.CanonicalizationError:
            # Stored data that cannot be encoded was never written by audit_append.
            recomputed = ""
        if recomputed != event.hash:
            return ChainReport(
                False,
                count,
                prev_hash,
                event.seq,
                event.pk,
                "its content does not match its hash (the event was edited)",
            )
        prev_hash = event.hash
        if event.seq == head_seq:
            hash_at_head = event.hash
        expected_seq += 1
        count += 1

    if count < head_seq:
        return ChainReport(
            False,
            count,
            prev_hash,
            count + 1,
            None,
            f"the chain head records event #{head_seq} but the chain ends at #{count} "
            "(events were removed from the end)",
        )
    if hash_at_head != head_hash:
        return ChainReport(
            False,
            count,
            prev_hash,
            head_seq,
            None,
            f"the chain head records another hash for event #{head_seq} "
            "(the last event was replaced)",
        )
    if count > head_seq:
        # Events past the first head: appends that committed during the walk have moved
        # the head since; events that no head covers were added around audit_append.
        head_seq, _ = _chain_head()
        if count > head_seq:
            return ChainReport(
                False,
                count,
                prev_hash,
                head_seq + 1,
                None,
                f"the chain head records event #{head_seq} but the chain goes on to #{count} "
                "(events were added without moving the head)",
            )
    return ChainReport(True, count, prev_hash)
