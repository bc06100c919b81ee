"""The audit tree against RFC 9162, computed independently (tests/portal/rfc9162.py).

Known answers: the roots of the eight-leaf test vectors of the Certificate Transparency
reference implementation (RFC 6962 hashing, unchanged by RFC 9162), then every size up
to 70 and some larger ones against the RFC's recursive definitions: roots, inclusion
proofs and consistency proofs as the portal stores and serves them, each also checked
with the RFC's own verification algorithms.
"""

import hashlib

import pytest
from pymerkle import InmemoryTree

from portal import audit_tree, merkle
from portal.audit import audit_append, canonical_event
from portal.models import AuditEvent, AuditLeaf, AuditNode
from portal.sequencer import audit_sequence
from tests.portal import rfc9162

# The leaves of the CT reference implementation's merkle tree tests, and their roots.
CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
ODD_SIZES = [9, 11, 13, 17, 31, 33, 63, 65, 100, 127, 129]


def entries(count: int) -> list[bytes]:
    return CT_LEAVES[:count] + [f"entry {n}".encode() for n in range(len(CT_LEAVES), count)]


def edge_of(leaves: list[bytes]) -> merkle.TreeEdge:
    edge = merkle.TreeEdge()
    for entry in leaves:
        edge.append(merkle.leaf_hash(entry))
    return edge


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert merkle.EMPTY_ROOT.hex() == hashlib.sha256(b"").hexdigest()
    assert merkle.TreeEdge().root() == rfc9162.mth([])


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_one_to_eight_leaves_are_the_ct_known_answers(size: int) -> None:
    # the independent implementation gives the reference answers...
    assert rfc9162.mth(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]
    # ...and so does the portal's tree, appended leaf by leaf
    assert edge_of(CT_LEAVES[:size]).root().hex() == CT_ROOTS[size - 1]


def test_leaf_and_node_hashes_carry_the_rfc_9162_prefixes() -> None:
    assert merkle.leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    left, right = b"L" * 32, b"R" * 32
    assert merkle.node_hash(left, right) == hashlib.sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize("size", [*range(1, 71), 100, 127, 128, 129, 257])
def test_appending_gives_the_rfc_root_and_stores_exactly_the_complete_subtrees(size: int) -> None:
    leaves = entries(size)
    edge = merkle.TreeEdge()
    closed: dict[tuple[int, int], bytes] = {}
    for entry in leaves:
        for level, index, digest in edge.append(merkle.leaf_hash(entry)):
            closed[(level, index)] = digest

    assert edge.root() == rfc9162.mth(leaves)
    # every complete subtree of two or more leaves, and its hash
    expected = {
        (level, index): rfc9162.mth(leaves[index << level : (index + 1) << level])
        for level in range(1, size.bit_length())
        for index in range(size >> level)
    }
    assert closed == expected


def test_pymerkle_hashes_as_rfc_9162_with_security_on_and_not_without() -> None:
    leaves = entries(13)
    secure = InmemoryTree(algorithm="sha256")
    bare = InmemoryTree(algorithm="sha256", disable_security=True)
    for entry in leaves:
        secure.append_entry(entry)
        bare.append_entry(entry)
    assert secure.get_root() == rfc9162.mth(leaves)
    assert bare.get_root() != rfc9162.mth(leaves)


def test_a_range_that_is_not_a_subtree_is_refused() -> None:
    with pytest.raises(ValueError, match="not a subtree"):
        merkle.complete_subtrees(1, 3)


# --- The stored tree, as the sequencer writes it and the API reads it ---------------------


@pytest.fixture
def stored_log(db: None) -> list[bytes]:
    """129 events sequenced in three runs; their canonical encodings in tree order."""
    for run, count in enumerate((5, 60, 64)):
        for n in range(count):
            audit_append(action="test.merkle", target_type="run", target_id=str(run), data={"n": n})
        audit_sequence(publish=False)
    events = AuditEvent.objects.order_by("leaf__index")
    return [canonical_event(event) for event in events]


@pytest.mark.parametrize("size", [*range(1, 9), *ODD_SIZES])
def test_stored_roots_and_inclusion_proofs_match_rfc_9162(
    stored_log: list[bytes], size: int
) -> None:
    leaves = stored_log[:size]
    root = rfc9162.mth(leaves)
    assert audit_tree.root_at(size) == root
    for index in range(size):
        path = audit_tree.audit_path(index, size)
        assert path == rfc9162.path(index, leaves), index
        assert rfc9162.verify_inclusion(index, size, rfc9162.leaf(leaves[index]), path, root)


@pytest.mark.parametrize("second", [*range(1, 9), *ODD_SIZES])
def test_stored_consistency_proofs_match_rfc_9162(stored_log: list[bytes], second: int) -> None:
    new_root = rfc9162.mth(stored_log[:second])
    for first in range(1, second + 1):
        proof = audit_tree.consistency_path(first, second)
        assert proof == rfc9162.proof(first, stored_log[:second]), first
        old_root = rfc9162.mth(stored_log[:first])
        assert rfc9162.verify_consistency(first, second, old_root, new_root, proof), first


def test_the_independent_verifiers_refuse_wrong_proofs(stored_log: list[bytes]) -> None:
    leaves = stored_log[:13]
    root = rfc9162.mth(leaves)
    path = audit_tree.audit_path(5, 13)
    # another leaf, another position, a shortened path, another root
    assert not rfc9162.verify_inclusion(5, 13, rfc9162.leaf(leaves[6]), path, root)
    assert not rfc9162.verify_inclusion(6, 13, rfc9162.leaf(leaves[5]), path, root)
    assert not rfc9162.verify_inclusion(5, 13, rfc9162.leaf(leaves[5]), path[:-1], root)
    assert not rfc9162.verify_inclusion(5, 13, rfc9162.leaf(leaves[5]), path, b"\x00" * 32)
    proof = audit_tree.consistency_path(7, 13)
    old_root = rfc9162.mth(leaves[:7])
    assert not rfc9162.verify_consistency(7, 13, b"\x00" * 32, root, proof)
    assert not rfc9162.verify_consistency(6, 13, old_root, root, proof)
    assert not rfc9162.verify_consistency(7, 13, old_root, root, proof[::-1])


def test_runs_store_each_leaf_once_and_each_complete_subtree_once(stored_log: list[bytes]) -> None:
    assert AuditLeaf.objects.count() == 129
    assert sorted(AuditLeaf.objects.values_list("index", flat=True)) == list(range(129))
    # a complete binary tree over 128 leaves has 127 inner nodes; the 129th closes none
    assert AuditNode.objects.count() == 127
