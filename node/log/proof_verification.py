"""Checks of RFC 9162 §2.1 inclusion and consistency proofs, and of subtree proofs.

Verifiers return ``None`` or raise :class:`~node.errors.ProofError` when a proof, size, index
or hash received from elsewhere does not verify; the message says what was wrong and what was
expected. The subtree proofs are those described in :mod:`node.log.proofs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from node.errors import ProofError
from node.log.merkle import EMPTY_ROOT, HASH_SIZE, node_hash
from node.log.proofs import _LEFT_INSIDE, _RIGHT, _is_valid_subtree, _subproof_plan


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is at ``index`` in the tree of ``size`` with ``root``.

    Follows RFC 9162 §2.1.3.2. Returns None or raises ProofError.
    """
    what, where = "inclusion proof", f"for index {index} in a tree of size {size}"
    if not 0 <= index < size:
        raise ProofError(f"index {index} is not in a tree of size {size} (need 0 <= index < size)")
    _require_hashes(what, proof, leaf_hash=leaf, root=root)
    computed = _root_from_inclusion(leaf, index, size, proof, what=what, where=where)
    _require_equal(what, where, "root", computed, root)


def verify_subtree_inclusion(
    leaf: bytes, index: int, start: int, end: int, proof: Sequence[bytes], *, subtree_root: bytes
) -> None:
    """Check that ``leaf`` is at ``index`` in the valid subtree ``[start, end)`` with that hash.

    ``index`` is absolute (a log index); ``subtree_root`` is ``MTH(D[start:end])``, typically
    checked against a signed root with :func:`verify_subtree_consistency`. The proof is an
    RFC 9162 inclusion proof inside the subtree and is checked as in §2.1.3.2.
    """
    what, where = "subtree inclusion proof", f"for index {index} in subtree [{start}, {end})"
    if start == end or not _is_valid_subtree(start, end):
        raise ProofError(
            f"[{start}, {end}) is not a subtree that can hold a leaf: need 0 <= start < end and "
            "start a multiple of the smallest power of two >= end - start"
        )
    if not start <= index < end:
        raise ProofError(f"index {index} is outside subtree [{start}, {end})")
    _require_hashes(what, proof, leaf_hash=leaf, subtree_hash=subtree_root)
    computed = _root_from_inclusion(leaf, index - start, end - start, proof, what=what, where=where)
    _require_equal(what, where, "subtree hash", computed, subtree_root)


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check that the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``.

    Follows RFC 9162 §2.1.4.2. Equal sizes need an empty proof and equal roots. A proof from the
    empty tree is rejected: every tree extends it, so there is nothing to check but the new root
    itself. Returns None or raises ProofError.
    """
    where = f"from size {old_size} to {new_size}"
    if old_size < 0 or new_size < old_size:
        raise ProofError(f"no consistency {where}: need 0 <= old size <= new size")
    if old_size == 0:
        raise ProofError(
            f"consistency proof {where} is meaningless: every tree extends the empty tree, "
            "so check the new root directly"
        )
    if old_size == new_size:
        _require_no_proof("consistency proof", where, proof)
        # Same tree: the claim is just that both roots are the same value, compared as given.
        if old_root != new_root:
            raise ProofError(f"trees of equal size {old_size} have different roots")
        return
    _require_hashes("consistency proof", proof, old_root=old_root, new_root=new_root)
    seed_window, steps = _subproof_plan(0, old_size, 0, new_size)
    _require_length("consistency proof", where, proof, len(steps) + (seed_window is not None))
    _rfc9162_consistency(old_size, new_size, proof, (old_root, new_root), where=where)


def verify_subtree_consistency(
    start: int, end: int, size: int, proof: Sequence[bytes], *, subtree_root: bytes, root: bytes
) -> None:
    """Check that ``subtree_root`` is ``MTH(D[start:end])`` in the tree of ``size`` with ``root``.

    ``[start, end)`` must be a valid subtree with ``end <= size``; ``proof`` is
    ``SUBTREE_PROOF(start, end, D[0:size])``. Special cases, as in transparency-dev/merkle:

    * ``start == 0 and end == size``: the subtree is the tree; the proof must be empty and the two
      hashes equal (compared as given).
    * ``start == end``: an empty range is part of every tree, so only ``subtree_root ==
      EMPTY_ROOT`` and an empty proof are checked and ``root`` is *not* examined; callers that
      need ``root`` checked must not pass an empty range.

    Otherwise the proof is replayed along the draft's ``SUBTREE_SUBPROOF`` recursion, rebuilding
    both the subtree hash and the root from the same hashes. Returns None or raises ProofError.
    """
    where = f"for subtree [{start}, {end}) in a tree of size {size}"
    if not _is_valid_subtree(start, end):
        raise ProofError(
            f"[{start}, {end}) is not a valid subtree: need 0 <= start <= end and start a "
            "multiple of the smallest power of two >= end - start"
        )
    if end > size:
        raise ProofError(f"subtree [{start}, {end}) does not fit in a tree of size {size}")
    if start == end:
        _require_no_proof("subtree consistency proof", where, proof)
        if subtree_root != EMPTY_ROOT:
            raise ProofError(f"empty subtree [{start}, {end}) must have the empty root as its hash")
        return
    if start == 0 and end == size:
        _require_no_proof("subtree consistency proof", where, proof)
        if subtree_root != root:
            raise ProofError(f"subtree [0, {size}) is the whole tree, so its hash must be the root")
        return
    _require_hashes("subtree consistency proof", proof, subtree_hash=subtree_root, root=root)
    seed_window, steps = _subproof_plan(start, end, 0, size)
    _require_length(
        "subtree consistency proof", where, proof, len(steps) + (seed_window is not None)
    )
    rest = list(proof)
    seed = subtree_root if seed_window is None else rest.pop(0)
    sub_acc = root_acc = seed
    for (_, _, kind), value in zip(steps, rest, strict=True):
        if kind == _RIGHT:
            root_acc = node_hash(root_acc, value)
        else:
            root_acc = node_hash(value, root_acc)
            if kind == _LEFT_INSIDE:
                sub_acc = node_hash(value, sub_acc)
    _require_equal("subtree consistency proof", where, "subtree hash", sub_acc, subtree_root)
    _require_equal("subtree consistency proof", where, "root", root_acc, root)


def _root_from_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], *, what: str, where: str
) -> bytes:
    """RFC 9162 §2.1.3.2 steps 2-5 for ``0 <= index < size``; returns the computed root."""
    # Where the paths to index and to the last leaf part, the proof switches from inner
    # siblings to left-only border subtrees; this gives the exact length up front.
    inner = (index ^ (size - 1)).bit_length()
    _require_length(what, where, proof, inner + (index >> inner).bit_count())
    fn, sn, acc = index, size - 1, leaf
    for value in proof:
        if sn == 0:
            raise ProofError(f"{what} {where} is too long")
        if fn & 1 or fn == sn:
            acc = node_hash(value, acc)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            acc = node_hash(acc, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"{what} {where} is too short")
    return acc


def _rfc9162_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], roots: tuple[bytes, bytes], *, where: str
) -> None:
    """RFC 9162 §2.1.4.2 for ``0 < old_size < new_size`` and a proof of the right length."""
    old_root, new_root = roots
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is perfect, so it is a node of the new tree and its root starts the chain.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for value in path[1:]:
        if sn == 0:
            raise ProofError(f"consistency proof {where} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(value, fr)
            sr = node_hash(value, sr)
            if not fn & 1:
                while fn != 0 and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"consistency proof {where} is too short")
    _require_equal("consistency proof", where, "old root", fr, old_root)
    _require_equal("consistency proof", where, "new root", sr, new_root)


def _require_hashes(what: str, proof: Sequence[bytes], **named: bytes) -> None:
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            label = name.replace("_", " ")
            raise ProofError(f"{what}: {label} has {len(value)} bytes, expected {HASH_SIZE}")
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            raise ProofError(
                f"{what}: hash {position} has {len(value)} bytes, expected {HASH_SIZE}"
            )


def _require_length(what: str, where: str, proof: Sequence[bytes], want: int) -> None:
    if len(proof) != want:
        raise ProofError(f"{what} has {len(proof)} hashes, expected {want} {where}")


def _require_no_proof(what: str, where: str, proof: Sequence[bytes]) -> None:
    if proof:
        raise ProofError(f"{what} has {len(proof)} hashes, expected 0 {where}")


def _require_equal(what: str, where: str, name: str, computed: bytes, expected: bytes) -> None:
    if computed != expected:
        raise ProofError(
            f"{what} {where} gives {name} {computed.hex()[:16]}…, expected {expected.hex()[:16]}…"
        )
