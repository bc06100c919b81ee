"""The insider with write access to the database, as the tests play them.

They can change any row (on PostgreSQL they first switch the append-only triggers off, as
the tables' owner or a superuser can) and recompute everything the database stores about
the tree: every leaf hash, every subtree hash, and every tree head, re-signed with the
portal's own key (the worst case: they also hold the key file). What they cannot change
is a tree head someone saved outside the database before.
"""

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection

from portal import crypto, merkle
from portal.audit import event_leaf_hash
from portal.models import AuditEvent, AuditLeaf, AuditNode, AuditPublication, AuditTreeHead
from portal.tree_heads import head_message


@contextmanager
def triggers_off() -> Iterator[None]:
    """PostgreSQL: this session's triggers do not fire (superuser), as for a replica."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")


def rebuild_tree(order: list[int] | None = None, *, sign: bool = True) -> None:
    """Recompute leaves, nodes and heads from the events as they are now.

    ``order`` lists event numbers in the tree order wanted (default: the current one).
    Every head keeps its size and time and gets the root of the rebuilt tree, signed
    with the portal key (``sign``) or with a signature that is not the portal's.
    """
    if order is None:
        order = list(AuditLeaf.objects.order_by("index").values_list("event_id", flat=True))
    heads = list(AuditTreeHead.objects.order_by("tree_size"))
    with triggers_off():
        AuditPublication.objects.all().delete()
        AuditTreeHead.objects.all().delete()
        AuditNode.objects.all().delete()
        AuditLeaf.objects.all().delete()
        events = AuditEvent.objects.in_bulk(order)
        edge = merkle.TreeEdge()
        roots = {}
        for index, seq in enumerate(order):
            digest = event_leaf_hash(events[seq])
            AuditLeaf.objects.create(index=index, event_id=seq, hash=digest.hex())
            for level, node_index, node in edge.append(digest):
                AuditNode.objects.create(level=level, index=node_index, hash=node.hex())
            roots[edge.size] = edge.root().hex()
        for head in heads:
            if head.tree_size not in roots:
                continue
            root = roots[head.tree_size]
            message = head_message(head.tree_size, root, head.timestamp)
            signature = (
                crypto.portal_sign(message)
                if sign
                else crypto.ed25519_private_key_generate().sign(message)
            )
            AuditTreeHead.objects.create(
                tree_size=head.tree_size,
                root_hash=root,
                timestamp=head.timestamp,
                key_id=head.key_id,
                signature=base64.b64encode(signature).decode("ascii"),
                horizon=head.horizon,
                created_at=head.created_at,
            )


def edit_event(seq: int, change: Callable[[AuditEvent], None]) -> None:
    """Change an event's row (with the triggers off on PostgreSQL)."""
    event = AuditEvent.objects.get(seq=seq)
    change(event)
    with triggers_off():
        event.save()


def delete_events(*seqs: int) -> None:
    with triggers_off():
        AuditLeaf.objects.filter(event_id__in=seqs).delete()
        AuditEvent.objects.filter(seq__in=seqs).delete()
