"""RFC 9162 §2.1, written out from the RFC's definitions with hashlib only, for the tests.

Nothing here imports the portal or pymerkle: the tree's hash (``mth``), the audit path
(``path``) and the consistency proof (``proof``) follow the RFC's recursive definitions
literally, and the two verifiers follow its §2.1.3.2 and §2.1.4.2 algorithms, so the
tests compare the portal's tree with an implementation that shares no code with it.
"""

import hashlib


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry)


def node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right)


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """MTH(D[n])."""
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return leaf(entries[0])
    k = _k(n)
    return node(mth(entries[:k]), mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def _subproof(m: int, entries: list[bytes], complete: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if complete else [mth(entries)]
    k = _k(n)
    if m <= k:
        return _subproof(m, entries[:k], complete) + [mth(entries[k:])]
    return _subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def proof(m: int, entries: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true), §2.1.4.1."""
    return _subproof(m, entries, True)


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: list[bytes], root: bytes
) -> bool:
    """§2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf_hash
    for p in inclusion_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, consistency: list[bytes]
) -> bool:
    """§2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return consistency == [] and first_hash == second_hash
    if first == 0 or not consistency:
        return False
    items = list(consistency)
    if first & (first - 1) == 0:  # a power of two: the old root is the first subtree
        items.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    if fn & 1:
        while True:
            fn >>= 1
            sn >>= 1
            if not fn & 1:
                break
    fr = sr = items[0]
    for c in items[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
