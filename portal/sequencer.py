"""The sequencer: give committed audit events their leaf, extend the tree, sign a head.

Writers only INSERT events (``audit_append``); this is the one place that orders them.
It runs from Celery beat every AUDIT_SEQUENCER_SECONDS, from ``manage.py audit_sequence``
and as ``audit_sequence()``; runs never overlap (a PostgreSQL advisory lock; SQLite has
one writer at a time anyway), and a run is one transaction: its leaves, the subtree
hashes they complete and the signed head commit together or not at all.

Commit order, and why not ``seq`` order. ``seq`` comes from a sequence when the row is
inserted, but transactions commit in their own order: on PostgreSQL an event with a
lower ``seq`` can become visible after one with a higher ``seq`` was already sequenced.
A sequencer that kept a high-water mark on ``seq`` would skip it forever. So:

- every event row records the transaction that inserted it (``xact``, xid8, set by a
  trigger, so no INSERT can claim another);
- each run first reads ``xmin`` of a fresh snapshot, the oldest transaction still in
  progress (``pg_snapshot_xmin(pg_current_snapshot())``), and only then the events:
  every transaction below ``xmin`` has ended, so each event of those is visible to that
  later read or was rolled back and never will be;
- a run sequences every visible event not yet in the tree whose ``xact`` is at or
  above the horizon the previous run reached (``AuditTreeHead.horizon``), in ``seq``
  order, and stores ``xmin`` as the new horizon. Events below the horizon are all in
  the tree; events above it that were visible early are already in it and skipped by
  the "not yet in the tree" condition (``AuditLeaf.event`` is unique as well).

An event committed late is therefore sequenced by the first run that sees it, exactly
once, never skipped; the tree's order is the order in which runs saw commits (within a
run, ``seq``): an event committed before another transaction began always comes first.
A transaction left open for long only holds the horizon back (the next runs re-check
a longer range), never the events committed meanwhile. On SQLite a writing transaction
holds the database's write lock from BEGIN to COMMIT (``transaction_mode`` IMMEDIATE), so
``seq`` order is commit order and the horizon is simply past the highest ``seq``.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from . import audit_tree, crypto, tree_heads
from .audit import event_leaf_hash
from .models import AuditEvent, AuditLeaf, AuditNode, AuditTreeHead

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the sequencer ("paud").
LOCK_KEY = 0x70617564


@dataclass(frozen=True)
class SequenceResult:
    appended: int
    tree_size: int
    head: AuditTreeHead | None
    published: AuditTreeHead | None = None
    # Why the newest head could not be published (the TSA failed): the events are in the
    # tree and the head is signed all the same; the next run tries to publish again.
    publish_error: str = ""


def _lock_and_horizon() -> int | None:
    """Serialise sequencer runs; return the oldest running transaction (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        # Read after the lock, before the events: a later snapshot sees every transaction
        # below this one's xmin either committed or never.
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        (xmin,) = cursor.fetchone()
    return int(xmin)


def _sequence_batch(limit: int) -> tuple[int, int, AuditTreeHead | None, bool]:
    with transaction.atomic():
        xmin = _lock_and_horizon()
        latest = AuditTreeHead.objects.order_by("-tree_size").first()
        since = latest.horizon if latest is not None else 0
        size = audit_tree.tree_size()
        waiting = AuditEvent.objects.filter(leaf__isnull=True)
        if xmin is None:  # SQLite: every row below the highest seq has committed
            top = AuditEvent.objects.aggregate(top=Max("seq"))["top"] or 0
            horizon = top + 1
            waiting = waiting.filter(seq__gte=since)
        else:
            horizon = xmin
            waiting = waiting.filter(xact__gte=since)
        events = list(waiting.order_by("seq")[: limit + 1])
        more = len(events) > limit
        if more:
            events = events[:limit]
            horizon = since  # what is left below the new horizon is not sequenced yet

        edge = audit_tree.tree_edge(size)
        leaves: list[AuditLeaf] = []
        nodes: list[AuditNode] = []
        for offset, event in enumerate(events):
            digest = event_leaf_hash(event)
            leaves.append(AuditLeaf(index=size + offset, event=event, hash=digest.hex()))
            nodes.extend(
                AuditNode(level=level, index=index, hash=node.hex())
                for level, index, node in edge.append(digest)
            )
        AuditLeaf.objects.bulk_create(leaves, batch_size=2000)
        AuditNode.objects.bulk_create(nodes, batch_size=2000)

        head = None
        if edge.size > (latest.tree_size if latest is not None else 0):
            head = tree_heads.head_create(edge.size, edge.root(), horizon)
        return len(events), edge.size, head, more


def audit_sequence(
    *, limit: int | None = None, publish: bool = True, transport: tree_heads.Transport | None = None
) -> SequenceResult:
    """Sequence every committed event not yet in the tree; sign a head if it grew.

    Works in batches of ``limit`` (AUDIT_SEQUENCE_BATCH) events, one transaction each.
    With ``publish``, then time-stamps and sends out the newest head if it is due.
    """
    batch = limit or settings.AUDIT_SEQUENCE_BATCH
    appended, head = 0, None
    while True:
        count, size, made, more = _sequence_batch(batch)
        appended += count
        head = made or head
        if not more:
            break
    if appended:
        logger.info("sequenced %s audit events; the tree holds %s", appended, size)
    published, error = None, ""
    if publish:
        try:
            published = tree_heads.publish_due(transport=transport)
        except (crypto.CryptoError, OSError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.error("could not publish the newest audit tree head: %s", error)
    return SequenceResult(
        appended=appended, tree_size=size, head=head, published=published, publish_error=error
    )
