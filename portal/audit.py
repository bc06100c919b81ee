"""Write audit events, and verify the whole log (docs/audit-log.md).

Every state change in the portal calls ``audit_append`` inside the transaction that makes
the change, so an event exists exactly when the change does. The append is one plain
INSERT: it reads and locks no shared row, so audited writes from any number of processes
never wait for each other. The sequencer (``portal.sequencer``) puts committed events
into the Merkle tree a few seconds later and signs a tree head.

``audit_verify`` recomputes every leaf from the events' content and the tree from the
leaves, without trusting a stored hash: whoever can write the database can recompute
those, but not a tree head saved elsewhere (``against=``) nor the portal's signature.
"""

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import rfc8785
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from . import merkle
from .canonical import canonical_time  # noqa: F401  (re-exported)
from .models import AuditEvent, AuditLeaf, AuditNode, AuditTreeHead

SYSTEM_ACTOR = "system"


def event_document(event: AuditEvent) -> dict[str, Any]:
    """The fields of an event that its leaf commits to.

    Events from the hash-chain era also carry ``prev_hash``: their document is then
    exactly the one whose SHA-256 was their chain hash, so a chain hash noted down before
    the tree still names the same event.
    """
    document: dict[str, Any] = {
        "seq": event.seq,
        "created_at": canonical_time(event.created_at),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "data": event.data,
    }
    if event.prev_hash:
        document["prev_hash"] = event.prev_hash
    return document


def canonical_event(event: AuditEvent) -> bytes:
    """The RFC 8785 (JCS) encoding of the event's document: the entry under its leaf."""
    return rfc8785.dumps(event_document(event))


def event_leaf_hash(event: AuditEvent) -> bytes:
    """RFC 9162 leaf hash of an event: ``SHA-256(0x00 || canonical_event(event))``."""
    return merkle.leaf_hash(canonical_event(event))


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
    seq: int | None = None,
) -> AuditEvent:
    """Write one event, in the caller's transaction: one INSERT, no lock.

    ``actor`` is a user or ``None`` for the system; ``target`` a model instance, or
    ``target_type``/``target_id`` given directly. ``data`` holds before/after values
    and anything else an auditor needs; it must be JSON with numbers below 2**53.
    ``seq`` is a number the caller took in this transaction with ``audit_seq_next_sql``
    (PostgreSQL), to write it into its own row before the event exists; otherwise the
    INSERT takes the next one.
    """
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    payload = _plain_json(data or {})
    rfc8785.dumps(payload)  # refuse now what could never be encoded into a leaf
    actor_id = actor.pk if actor is not None and actor.pk is not None else None
    actor_label = getattr(actor, "email", "") or (str(actor) if actor is not None else SYSTEM_ACTOR)
    event = AuditEvent(
        created_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=payload,
    )
    # One INSERT, written out: the ORM's save() costs several times the statement's own
    # CPU time, and every audited change of the portal pays it (bench/audit.py).
    values = [
        field.get_db_prep_save(getattr(event, field.attname), connection)
        for field in _insert_fields()
    ]
    with connection.cursor() as cursor:
        if seq is None:
            cursor.execute(_INSERT_SQL, values)
            (event.seq,) = cursor.fetchone()
        else:
            cursor.execute(_INSERT_SEQ_SQL, [seq, *values])
            event.seq = seq
    event._state.adding = False
    event._state.db = connection.alias
    return event


@functools.cache
def _insert_fields() -> "list[models.Field[Any, Any]]":
    fields = []
    for name in _INSERT_FIELDS:
        field = AuditEvent._meta.get_field(name)
        assert isinstance(field, models.Field)  # noqa: S101 (concrete columns, by name)
        fields.append(field)
    return fields


_INSERT_FIELDS = [
    "created_at",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "data",
    "prev_hash",
]
_INSERT_SQL = (
    'INSERT INTO "portal_auditevent" ("created_at", "actor_id", "actor_label", "action", '
    '"target_type", "target_id", "data", "prev_hash") '
    'VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING "seq"'
)
_INSERT_SEQ_SQL = (
    'INSERT INTO "portal_auditevent" ("seq", "created_at", "actor_id", "actor_label", '
    '"action", "target_type", "target_id", "data", "prev_hash") '
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def audit_seq_next_sql() -> str | None:
    """SQL that takes the next event number from the events' sequence, for a caller that
    writes the number into a row of its own (in the same transaction, before the event)
    and then gives it to ``audit_append(seq=...)``.

    PostgreSQL only (``None`` elsewhere: SQLite numbers an event as it inserts it, and its
    sequencer relies on that). A number taken in a transaction that rolls back is a gap,
    as a rolled-back event's is.
    """
    if connection.vendor != "postgresql":
        return None
    return "nextval(pg_get_serial_sequence('portal_auditevent', 'seq'))"


# --- Verification ---------------------------------------------------------------------------


@dataclass
class AuditReport:
    """What ``audit_verify`` found. ``ok`` is False as soon as one problem was found."""

    events: int = 0
    tree_size: int = 0
    heads_checked: int = 0
    against_size: int | None = None
    unsequenced: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            text = (
                f"audit log intact: {self.events} events, {self.tree_size} in the tree, "
                f"{self.heads_checked} signed tree heads verified"
            )
            if self.against_size is not None:
                text += f"; matches the saved tree head of size {self.against_size}"
            if self.unsequenced:
                text += f"; {self.unsequenced} recent events not yet sequenced"
            return text
        return "audit log verification failed:\n- " + "\n- ".join(self.problems)


def _leaves_in_order(batch: int = 2000) -> Iterator[AuditLeaf]:
    return AuditLeaf.objects.select_related("event").order_by("index").iterator(chunk_size=batch)


def _nodes_differing(computed: dict[tuple[int, int], bytes]) -> list[tuple[int, int]]:
    """The keys whose stored node is missing or holds another hash."""
    if not computed:
        return []
    by_level: dict[int, list[int]] = {}
    for level, index in computed:
        by_level.setdefault(level, []).append(index)
    query = models.Q()
    for level, indexes in by_level.items():
        query |= models.Q(level=level, index__in=indexes)
    stored = {
        (level, index): digest
        for level, index, digest in AuditNode.objects.filter(query).values_list(
            "level", "index", "hash"
        )
    }
    return sorted(key for key, digest in computed.items() if stored.get(key) != digest.hex())


def audit_verify(
    *,
    against: dict[str, Any] | None = None,
    public_key: Any = None,
    node_batch: int = 500,
) -> AuditReport:
    """Check the whole log; with ``against``, also against a tree head saved elsewhere.

    - every leaf's hash is recomputed from its event's content (an edited event);
    - leaves are numbered 0, 1, 2, ... without a gap and each names a different event;
    - every stored complete-subtree hash equals the one recomputed from the leaves
      (the proofs the API serves are made of them);
    - every signed tree head in the database has a valid signature and the root that
      the recomputed leaves give at its size;
    - ``against`` (a head as ``GET /api/v1/audit/tree-heads/latest`` answers it): its
      signature is valid for the portal key (or ``public_key``) and the root recomputed
      over the first ``tree_size`` leaves, from the events' content, is its root. This
      holds even against someone who rewrote events, leaves, nodes and heads in the
      database: they cannot change a head kept outside it;
    - events that no leaf holds: ones older than AUDIT_SEQUENCE_ALARM_SECONDS are a
      failure (the sequencer is not running, or rows were inserted around it).
    """
    from .tree_heads import HeadInvalid, head_verify

    report = AuditReport()
    saved: dict[str, Any] | None = None
    if against is not None:
        try:
            saved = head_verify(against, public_key=public_key)
        except HeadInvalid as exc:
            report.problems.append(f"the saved tree head is not valid: {exc}")
            return report
        report.against_size = saved["tree_size"]

    with _consistent_read():
        # Heads and leaves are both walked in order, side by side: memory stays small
        # however many heads the sequencer signed (one every few seconds under load).
        heads = AuditTreeHead.objects.order_by("tree_size").iterator(chunk_size=500)
        next_head = next(heads, None)
        builder = merkle.TreeEdge()
        pending_nodes: dict[tuple[int, int], bytes] = {}
        saved_root: bytes | None = merkle.EMPTY_ROOT if saved and saved["tree_size"] == 0 else None

        def heads_at(size: int) -> Iterator[AuditTreeHead]:
            nonlocal next_head
            while next_head is not None and next_head.tree_size <= size:
                yield next_head
                next_head = next(heads, None)

        def check_heads(size: int, root: bytes) -> None:
            for head in heads_at(size):
                try:
                    head_verify(head_signed_fields(head), public_key=public_key)
                except HeadInvalid as exc:
                    report.problems.append(f"the stored tree head of size {head.tree_size}: {exc}")
                    continue
                if head.tree_size != size:
                    report.problems.append(
                        f"the stored tree head of size {head.tree_size} covers more leaves "
                        "than the tree holds"
                    )
                elif root.hex() != head.root_hash:
                    report.problems.append(
                        f"the stored tree head of size {size} has another root than the "
                        "tree recomputed from the events"
                    )
                else:
                    report.heads_checked += 1

        check_heads(0, merkle.EMPTY_ROOT)
        for leaf in _leaves_in_order():
            if leaf.index != builder.size:
                report.problems.append(
                    f"leaf {builder.size} is missing (the next stored leaf is {leaf.index})"
                )
                break
            try:
                digest = event_leaf_hash(leaf.event)
            except rfc8785.CanonicalizationError:
                digest = b""  # stored data that cannot be encoded was never written so
            if digest.hex() != leaf.hash:
                report.problems.append(
                    f"event #{leaf.event_id} (leaf {leaf.index}) does not match its leaf "
                    "hash: the event was changed after it was sequenced"
                )
            for level, index, node in builder.append(digest):
                pending_nodes[(level, index)] = node
            if len(pending_nodes) >= node_batch:
                _report_nodes(report, pending_nodes)
                pending_nodes = {}
            if next_head is not None and next_head.tree_size == builder.size:
                check_heads(builder.size, builder.root())
            if saved is not None and saved["tree_size"] == builder.size:
                saved_root = builder.root()
        _report_nodes(report, pending_nodes)
        check_heads(2**63, b"")  # heads past the last leaf
        report.tree_size = builder.size
        report.events = AuditEvent.objects.count()

        twice = (
            AuditLeaf.objects.values("event")
            .annotate(leaves=models.Count("index"))
            .filter(leaves__gt=1)
            .values_list("event", flat=True)[:10]
        )
        for seq in twice:
            report.problems.append(f"event #{seq} is in the tree twice")
        if saved is not None:
            size = saved["tree_size"]
            if saved_root is None:
                report.problems.append(
                    f"the saved tree head covers {size} events but the tree holds only "
                    f"{builder.size}: events were removed"
                )
            elif saved_root.hex() != saved["root_hash"]:
                report.problems.append(
                    f"the first {size} events, recomputed from their content, do not give "
                    "the saved tree head's root: an event was changed, removed, inserted "
                    "or moved"
                )

        unsequenced = AuditEvent.objects.filter(leaf__isnull=True)
        report.unsequenced = unsequenced.count()
        alarm = timezone.now() - timedelta(seconds=settings.AUDIT_SEQUENCE_ALARM_SECONDS)
        stale = unsequenced.filter(created_at__lt=alarm).count()
        if stale:
            report.problems.append(
                f"{stale} events older than {settings.AUDIT_SEQUENCE_ALARM_SECONDS} s are "
                "not in the tree: is the sequencer running?"
            )
    return report


def _report_nodes(report: AuditReport, computed: dict[tuple[int, int], bytes]) -> None:
    for level, index in _nodes_differing(computed)[:10]:
        report.problems.append(
            f"the stored hash of subtree {level}/{index} is missing or differs from the "
            "one recomputed from the events"
        )


class _consistent_read:
    """One snapshot for the whole walk on PostgreSQL (REPEATABLE READ, read only).

    SQLite needs none (one writer at a time) and would take its write lock for it.
    """

    def __enter__(self) -> None:
        self._atomic = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self._atomic = transaction.atomic()
            self._atomic.__enter__()
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def __exit__(self, *exc: Any) -> None:
        if self._atomic is not None:
            self._atomic.__exit__(*exc)


def head_signed_fields(head: AuditTreeHead) -> dict[str, Any]:
    """What a stored head's signature covers, with its key id (no publication needed)."""
    return {
        "tree_size": head.tree_size,
        "root_hash": head.root_hash,
        "timestamp": head.timestamp,
        "key_id": head.key_id,
        "signature": head.signature,
    }


def audit_chain_verify() -> AuditReport:
    """The former name of ``audit_verify()``, kept for its callers."""
    return audit_verify()
