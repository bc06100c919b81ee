"""Read the stored tree: hashes of leaves and complete subtrees, roots and RFC 9162 proofs.

Every proof is computed from stored hashes fetched in one query (O(log n) rows), never by
rehashing leaves, so the public endpoints cost the same at any size of the log.
"""

from collections.abc import Iterable

from django.db import models
from django.db.models import Max

from . import merkle
from .models import AuditLeaf, AuditNode, AuditTreeHead


def stored_hashes(keys: Iterable[merkle.Key]) -> dict[merkle.Key, bytes]:
    """The stored hashes of the given complete subtrees (level 0: leaves), in one query each
    for leaves and for nodes; a missing one is simply absent."""
    leaves: list[int] = []
    by_level: dict[int, list[int]] = {}
    for level, index in keys:
        if level == 0:
            leaves.append(index)
        else:
            by_level.setdefault(level, []).append(index)
    found: dict[merkle.Key, bytes] = {}
    if leaves:
        for index, digest in AuditLeaf.objects.filter(index__in=leaves).values_list(
            "index", "hash"
        ):
            found[(0, index)] = bytes.fromhex(digest)
    if by_level:
        query = models.Q()
        for level, indexes in by_level.items():
            query |= models.Q(level=level, index__in=indexes)
        for level, index, digest in AuditNode.objects.filter(query).values_list(
            "level", "index", "hash"
        ):
            found[(level, index)] = bytes.fromhex(digest)
    return found


class TreeIncomplete(Exception):
    """A hash the tree needs is not stored (the database was changed by hand)."""


class PrefetchedTree(merkle.StoredTree):
    """A ``StoredTree`` over hashes fetched in advance for the ranges it will compute."""

    def __init__(self, size: int, ranges: Iterable[merkle.Range]) -> None:
        self._hashes = stored_hashes(merkle.keys_for_ranges(ranges))
        super().__init__(size, self._hash)

    def _hash(self, level: int, index: int) -> bytes:
        digest = self._hashes.get((level, index))
        if digest is None:
            digest = stored_hashes([(level, index)]).get((level, index))
            if digest is None:
                raise TreeIncomplete(f"the stored tree has no hash for {level}/{index}")
            self._hashes[(level, index)] = digest
        return digest


def tree_size() -> int:
    """How many leaves the tree holds (signed or not yet)."""
    top = AuditLeaf.objects.aggregate(top=Max("index"))["top"]
    return 0 if top is None else top + 1


def latest_head() -> AuditTreeHead | None:
    return AuditTreeHead.objects.select_related("publication").order_by("-tree_size").first()


def head_of_size(size: int) -> AuditTreeHead | None:
    return AuditTreeHead.objects.select_related("publication").filter(tree_size=size).first()


def tree_edge(size: int) -> merkle.TreeEdge:
    """The stored right edge of the tree of ``size`` leaves, to append to it."""
    keys = merkle.frontier_keys(size)
    hashes = stored_hashes(keys)
    missing = [key for key in keys if key not in hashes]
    if missing:
        raise TreeIncomplete(f"the stored tree has no hash for {missing[0][0]}/{missing[0][1]}")
    return merkle.TreeEdge(size, {level: hashes[(level, index)] for level, index in keys})


def root_at(size: int) -> bytes:
    """``MTH`` of the first ``size`` leaves, from the stored hashes."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return PrefetchedTree(size, [(0, size)]).range_hash(0, size)


def audit_path(index: int, size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    tree = PrefetchedTree(size, [(index, index + 1), *merkle.inclusion_ranges(index, size)])
    return tree.audit_path(index, size)


def consistency_path(first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second`` leaves."""
    ranges = merkle.consistency_ranges(first, second)
    return PrefetchedTree(second, ranges).consistency_path(first, second)
