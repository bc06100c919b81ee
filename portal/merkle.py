"""The audit log's Merkle tree, in the form of RFC 9162 (Certificate Transparency 2.0) §2.1.

- leaf hash: ``SHA-256(0x00 || entry)``, the entry being the RFC 8785 encoding of an event;
- node hash: ``SHA-256(0x01 || left || right)``;
- the tree over ``n`` leaves splits at ``k``, the largest power of two below ``n``;
- the root of the empty tree is ``SHA-256()`` of nothing.

What comes from pymerkle (7.0.0) and what does not:

- Its hasher, ``MerkleHasher("sha256")`` with security on (the default), prefixes leaves
  with 0x00 and nodes with 0x01: exactly RFC 9162's hashes. (``disable_security=True``
  drops the prefixes, which RFC 9162 needs against second preimages: never used here.)
- Its ``BaseMerkleTree`` computes roots and inclusion proofs over any storage that
  answers for leaves and subtrees: ``StoredTree`` plugs the database in, reading the
  hash of each complete subtree from ``AuditNode`` rather than rehashing its leaves, so
  a root or a proof costs O(log n) look-ups at any size. Its inclusion path, without its
  first member (the leaf itself), is RFC 9162's audit path (known-answer tests in
  tests/portal/test_audit_merkle.py check both against RFC 9162 computed with hashlib).
- Not its storage: its backends keep the tree in memory or in a SQLite file of their
  own, appended one leaf at a time under a process lock, and cache subtree hashes per
  process. The log lives in the portal's database, is appended by whichever worker runs
  the sequencer, and is read by every web process; the stored complete-subtree hashes
  play the part of its cache, shared and persistent.
- Not its consistency proofs: pymerkle's format always carries the old root's subtree
  and splits differently when the old size is the left subtree's size, so a standard
  RFC 9162 verifier (docs/verify_consistency.py, any CT client) would refuse them.
  ``consistency_ranges`` below follows RFC 9162 §2.1.4.1 ``SUBPROOF`` exactly.
"""

import hashlib
from collections.abc import Callable, Iterable

from pymerkle import BaseMerkleTree
from pymerkle.hasher import MerkleHasher
from pymerkle.utils import binary_exponents

HASHER = MerkleHasher("sha256")  # security on: RFC 9162's 0x00 / 0x01 prefixes
EMPTY_ROOT = hashlib.sha256(b"").digest()

# A complete subtree: (level, index) covers leaves [index * 2**level, (index + 1) * 2**level).
Key = tuple[int, int]
Range = tuple[int, int]


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 ``MTH({d}) = SHA-256(0x00 || d)``."""
    return HASHER.hash_buff(entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 ``SHA-256(0x01 || MTH(left) || MTH(right))``."""
    return HASHER.hash_pair(left, right)


def split(width: int) -> int:
    """The largest power of two smaller than ``width`` (``width`` >= 2)."""
    k = 1 << (width.bit_length() - 1)
    return k >> 1 if k == width else k


def complete_subtrees(start: int, end: int) -> list[Key]:
    """The complete subtrees that make up ``[start, end)``, right to left (smallest first).

    ``[start, end)`` must be a subtree of RFC 9162's tree (every range a root or a proof
    names is), so each part is aligned and stored as one ``AuditNode`` (or leaf).
    """
    keys = []
    for level in binary_exponents(end - start):
        end -= 1 << level
        if end % (1 << level):
            raise ValueError(f"[{start}, {end}) is not a subtree of the tree")
        keys.append((level, end >> level))
    return keys


def frontier_keys(size: int) -> list[Key]:
    """The complete subtrees of a tree of ``size`` leaves, right to left: its right edge."""
    return complete_subtrees(0, size)


def fold(right_to_left: list[bytes]) -> bytes:
    """The root over complete subtrees given right to left (pymerkle's ``hash_fold``)."""
    if not right_to_left:
        return EMPTY_ROOT
    return HASHER.hash_fold(right_to_left)


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 ``PATH(m, D[n])`` as leaf ranges, bottom up (m = index)."""
    if not 0 <= index < size:
        raise ValueError("the leaf is not in the tree")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(first: int, second: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 ``PROOF(m, D[n]) = SUBPROOF(m, D[n], true)`` as leaf ranges."""
    if not 0 < first <= second:
        raise ValueError("a consistency proof needs 0 < first <= second")
    ranges: list[Range] = []
    start, end, m, complete = 0, second, first, True
    while m != end - start:
        k = split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


class StoredTree(BaseMerkleTree):
    """pymerkle's tree over hashes read through ``lookup(level, index)``.

    ``lookup`` answers a leaf hash for level 0 and a stored complete-subtree hash above;
    ``size`` bounds the tree (the size of a signed head). Read-only: the sequencer
    appends (``portal.sequencer``).
    """

    def __init__(self, size: int, lookup: Callable[[int, int], bytes]) -> None:
        self._size = size
        self._lookup = lookup
        super().__init__("sha256")

    def _encode_entry(self, data: bytes) -> bytes:
        return data

    def _store_leaf(self, data: bytes, digest: bytes) -> int:
        raise NotImplementedError("the sequencer appends to the stored tree")

    def _get_leaf(self, index: int) -> bytes:  # pymerkle counts leaves from 1
        return self._lookup(0, index - 1)

    def _get_leaves(self, offset: int, width: int) -> Iterable[bytes]:
        return [self._lookup(0, offset + i) for i in range(width)]

    def _get_size(self) -> int:
        return self._size

    def _get_subroot(self, offset: int, width: int) -> bytes:
        # pymerkle asks for complete subtrees only; aligned ones are stored as they are.
        level = width.bit_length() - 1
        if offset % width:
            return bytes(super()._get_subroot_uncached(offset, width))
        return self._lookup(level, offset >> level)

    def range_hash(self, start: int, end: int) -> bytes:
        """``MTH(D[start:end])`` for a subtree ``[start, end)`` of the tree."""
        return bytes(self._get_root(start, end))

    def audit_path(self, index: int, size: int) -> list[bytes]:
        """RFC 9162's inclusion path of leaf ``index`` (from 0) in the tree of ``size``."""
        proof = self.prove_inclusion(index + 1, size)
        # pymerkle's path starts with the leaf's own hash; RFC 9162's does not.
        return [bytes(digest) for digest in proof.path[1:]]

    def consistency_path(self, first: int, second: int) -> list[bytes]:
        """RFC 9162's consistency proof between the trees of ``first`` and ``second``."""
        return [self.range_hash(*r) for r in consistency_ranges(first, second)]


class TreeEdge:
    """A tree's right edge: the hashes of its maximal complete subtrees (a compact range).

    Enough to append leaves and to compute the root, in O(log n) memory: the sequencer
    starts from the stored edge, verification from the empty tree.
    """

    def __init__(self, size: int = 0, edge: dict[int, bytes] | None = None) -> None:
        self.size = size
        self.edge: dict[int, bytes] = dict(edge or {})  # level -> subtree hash
        if sorted(self.edge) != sorted(level for level, _ in frontier_keys(size)):
            raise ValueError(f"the edge of a tree of {size} leaves has other subtrees")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the complete subtrees (level, index, hash) it closes."""
        closed = []
        carry, level = leaf, 0
        while self.size >> level & 1:
            carry = node_hash(self.edge.pop(level), carry)
            level += 1
            closed.append((level, ((self.size + 1) >> level) - 1, carry))
        self.edge[level] = carry
        self.size += 1
        return closed

    def root(self) -> bytes:
        return fold([self.edge[level] for level in sorted(self.edge)])


def keys_for_ranges(ranges: Iterable[Range]) -> set[Key]:
    """Every stored hash that computing the given ranges reads."""
    keys: set[Key] = set()
    for start, end in ranges:
        keys.update(complete_subtrees(start, end))
    return keys
