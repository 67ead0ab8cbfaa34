"""RFC 9162 section 2.1 Merkle trees: leaf and node hashes, roots, and inclusion and consistency
proof verification (a proof of the wrong length is refused before it is evaluated)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from auditlib.errors import fail
from auditlib.values import MAX_TREE_SIZE

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class TreeBuilder:
    """Appends leaf hashes and gives the RFC 9162 root of the leaves so far (a frontier)."""

    def __init__(self) -> None:
        self.size = 0
        self._frontier: list[bytes] = []  # perfect subtree roots, largest first

    def append(self, leaf: bytes) -> None:
        self._frontier.append(leaf)
        self.size += 1
        merged = self.size
        while not merged & 1:  # equal-sized subtrees at the right edge merge
            right = self._frontier.pop()
            self._frontier[-1] = node_hash(self._frontier[-1], right)
            merged >>= 1

    def root(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        acc = self._frontier[-1]
        for subtree in reversed(self._frontier[:-1]):
            acc = node_hash(subtree, acc)
        return acc


def _check_hashes(what: str, proof: Sequence[bytes], **named: bytes) -> None:
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            fail(f"{what}: {name.replace('_', ' ')} is {len(value)} bytes; expected {HASH_SIZE}")
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            fail(f"{what} hash {position} is {len(value)} bytes; expected {HASH_SIZE}")


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size`` leaves."""
    inner = (index ^ (size - 1)).bit_length()  # levels where the path has a right-hand sibling
    return inner + (index >> inner).bit_count()  # plus the left-hand subtrees above them


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """Check an inclusion proof with the algorithm of RFC 9162 section 2.1.3.2."""
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        fail(f"leaf hash or root hash has the wrong length; expected {HASH_SIZE} bytes each")
    if index >= size:
        fail(f"entry index {index} is not inside the tree of size {size}; expected index < size")
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        fail(
            f"inclusion proof has {len(proof)} hashes; expected {want} for entry {index} "
            f"in a tree of size {size}"
        )
    for position, sibling in enumerate(proof):
        if len(sibling) != HASH_SIZE:
            fail(f"inclusion proof hash {position} is {len(sibling)} bytes; expected {HASH_SIZE}")
    fn, sn, computed = index, size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or computed != root:
        fail(
            f"inclusion proof of entry {index} leads to root {computed.hex()}; expected the "
            f"checkpoint's root {root.hex()} (tree size {size})"
        )


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """Number of hashes in the RFC 9162 consistency proof from ``old_size`` to ``new_size``."""
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    fn, sn = (old_size - 1) >> shift, (new_size - 1) >> shift
    inner = (fn ^ sn).bit_length()
    return (0 if fn == 0 else 1) + inner + (fn >> inner).bit_count()


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check an RFC 9162 section 2.1.4.2 consistency proof from ``old_size`` to ``new_size``."""
    where = f"consistency proof from size {old_size} to {new_size}"
    if not 0 < old_size <= new_size <= MAX_TREE_SIZE:
        fail(f"no {where}: expected 0 < old size <= new size")
    _check_hashes(where, proof, old_root=old_root, new_root=new_root)
    want = consistency_proof_length(old_size, new_size)
    if len(proof) != want:
        fail(f"{where} has {len(proof)} hashes; expected exactly {want}")
    if old_size == new_size:
        if old_root != new_root:
            fail(f"trees of equal size {old_size} have different roots")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # a perfect old tree is a node of the new one
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for value in path[1:]:
        if sn == 0:
            fail(f"{where} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(value, fr)
            sr = node_hash(value, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail(f"{where} is too short")
    if fr != old_root:
        fail(f"{where} leads to old root {fr.hex()}; expected {old_root.hex()}")
    if sr != new_root:
        fail(f"{where} leads to new root {sr.hex()}; expected {new_root.hex()}")
