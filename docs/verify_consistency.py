#!/usr/bin/env python3
"""Check that a newer signed tree head of the portal's audit log extends an older one.

    python3 verify_consistency.py OLD_HEAD.json NEW_HEAD.json PROOF.json

OLD_HEAD.json and NEW_HEAD.json are tree heads as GET /api/v1/audit/tree-heads/latest
answers them (check each one's signature with openssl first: docs/audit-log.md);
PROOF.json is GET /api/v1/audit/consistency?first=<old size>&second=<new size>.
Exit 0 when the proof shows that the new tree is the old one with events appended and
nothing changed, removed or reordered; 1 otherwise.

Standard library only: the RFC 9162 §2.1.4.2 algorithm, nothing from the portal.
"""

import hashlib
import json
import sys


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def consistent(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list) -> bool:
    """RFC 9162 §2.1.4.2: verify a consistency proof between two tree sizes."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if not path:
        return False
    if first & (first - 1) == 0:  # a power of two: the old tree is the new tree's left part
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def main(old_file: str, new_file: str, proof_file: str) -> int:
    with open(old_file) as f:
        old = json.load(f)
    with open(new_file) as f:
        new = json.load(f)
    with open(proof_file) as f:
        proof = json.load(f)
    if (proof.get("first"), proof.get("second")) != (old["tree_size"], new["tree_size"]):
        print("the proof is for other tree sizes than the two heads")
        return 1
    path = [bytes.fromhex(item) for item in proof["proof"]]
    old_root, new_root = bytes.fromhex(old["root_hash"]), bytes.fromhex(new["root_hash"])
    if consistent(old["tree_size"], new["tree_size"], old_root, new_root, path):
        print(
            f"consistent: the tree of {new['tree_size']} events extends the tree of "
            f"{old['tree_size']}"
        )
        return 0
    print("NOT consistent: the log was changed between the two heads")
    return 1


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__.strip().splitlines()[2].strip())
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
