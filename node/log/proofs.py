"""RFC 9162 §2.1 inclusion and consistency proofs, and subtree proofs, made from leaf hashes.

Pure functions over leaf hashes (``leaf_hash(entry)``), never entry bytes. They raise
:class:`ValueError` for programmer errors (a negative size, an index outside the leaves we were
handed); the proofs are checked, against what is received from elsewhere, in
:mod:`node.log.proof_verification`.

Besides RFC 9162 inclusion and consistency proofs this module implements the *subtree* proofs of
draft-ietf-plants-merkle-tree-certs (as implemented by transparency-dev/merkle). A subtree
``[start, end)`` is *valid* when ``start`` is a multiple of the smallest power of two that is
``>= end - start``. It is then a node of the tree of size ``end`` (and of every larger tree when
``end - start`` is a power of two), and its hash is ``MTH(D[start:end])``.

* A subtree inclusion proof shows that a leaf is at ``index`` in a valid subtree ``[start, end)``
  whose hash is known. It is exactly the RFC 9162 inclusion proof of leaf ``index - start`` in the
  tree ``D[start:end]``.
* A subtree consistency proof, ``SUBTREE_PROOF(start, end, D[0:size])``, shows that the subtree
  hash is ``MTH(D[start:end])`` of the tree of size ``size`` whose root is known. With
  ``start == 0`` it is the RFC 9162 consistency proof from ``end`` to ``size``; with
  ``end == start + 1`` it is the inclusion proof of leaf ``start``.

A streamed batch ``[a, b)`` is usually not a valid subtree (``[5, 12)`` is not); split it into
aligned subtrees first, or fold the whole batch into a :class:`~node.log.merkle.Frontier` and
compare roots.

The plain generators hash every leaf they need (O(n) for a proof in a tree of n leaves) because
they keep no interior nodes. :class:`~node.log.tree_levels.TreeLevels` keeps them (every
complete, aligned subtree's hash, as contiguous blobs: about 64 bytes per leaf) and answers the
same proofs in O(log^2 n) hashing, growing as the log does.
"""

from __future__ import annotations

from collections.abc import Sequence

from node.log.merkle import Frontier

# What a proof hash is, relative to the target range on its level (see _subproof_plan).
_RIGHT = 0  # sibling right of the target, outside [start, end)
_LEFT = 1  # sibling left of the target, outside [start, end)
_LEFT_INSIDE = 2  # left half of the subtree [start, end) itself


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 inclusion proof ``PATH(index, leaves)``; tree size = ``len(leaves)``."""
    size = len(leaves)
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    return _subproof(index, index + 1, 0, size, leaves)


def consistency_proof(old_size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return the RFC 9162 consistency proof ``PROOF(old_size, leaves)`` to ``len(leaves)``.

    Empty when ``old_size == len(leaves)``. There is no proof from the empty tree (the verifier
    rejects one), so ``old_size`` must be at least 1.
    """
    size = len(leaves)
    if not 0 < old_size <= size:
        raise ValueError(
            f"no consistency proof from size {old_size} to {size}; need 0 < old <= new"
        )
    return _subproof(0, old_size, 0, size, leaves)


def subtree_inclusion_proof(
    index: int, start: int, end: int, leaves: Sequence[bytes]
) -> list[bytes]:
    """Return the inclusion proof of leaf ``index`` in the valid subtree ``[start, end)``.

    ``leaves`` are the log's leaf hashes (at least ``end`` of them; only ``[start, end)`` is
    read). The proof is ``PATH(index - start, leaves[start:end])``; verify it against the subtree
    hash with :func:`verify_subtree_inclusion`.
    """
    _require_generator_subtree(start, end, len(leaves))
    if not start <= index < end:
        raise ValueError(f"index {index} is not in subtree [{start}, {end})")
    return _subproof(index, index + 1, start, end, leaves)


def subtree_consistency_proof(start: int, end: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Return ``SUBTREE_PROOF(start, end, leaves)`` for the valid subtree ``[start, end)``.

    The tree size is ``len(leaves)``. The proof is empty when the subtree is empty or is the whole
    tree; verify it with :func:`verify_subtree_consistency`.
    """
    size = len(leaves)
    _require_generator_subtree(start, end, size)
    if start == end:
        return []
    return _subproof(start, end, 0, size, leaves)


def _require_generator_subtree(start: int, end: int, size: int) -> None:
    if not _is_valid_subtree(start, end):
        raise ValueError(f"[{start}, {end}) is not a valid subtree")
    if end > size:
        raise ValueError(f"subtree [{start}, {end}) does not fit in a tree of size {size}")


def _subproof(start: int, end: int, lo: int, hi: int, leaves: Sequence[bytes]) -> list[bytes]:
    """Hash ``SUBTREE_SUBPROOF(start, end, D[lo:hi], true)``: O(hi - lo) hashing in total."""
    seed_window, steps = _subproof_plan(start, end, lo, hi)
    proof = [] if seed_window is None else [_range_root(leaves, *seed_window)]
    proof.extend(_range_root(leaves, a, b) for a, b, _ in steps)
    return proof


def _range_root(leaves: Sequence[bytes], lo: int, hi: int) -> bytes:
    # Slicing copies only references, and beats a per-index generator on a list.
    return Frontier.empty().extend(leaves[lo:hi]).root()


def _subproof_plan(
    start: int, end: int, lo: int, hi: int
) -> tuple[tuple[int, int] | None, list[tuple[int, int, int]]]:
    """Lay out ``SUBTREE_SUBPROOF(start, end, D[lo:hi], true)`` without hashing anything.

    Walks from the root down, as the draft's recursion does, and returns ``(seed, steps)``:
    ``seed`` is the window whose hash opens the proof, or None when the verifier already knows
    it (the target is a single node); ``steps`` are ``(lo, hi, kind)`` for the remaining proof
    hashes, bottom-up, i.e. in proof order. Needs a valid non-empty ``[start, end)`` inside
    ``[lo, hi)``; the walk is O(log(hi - lo)).
    """
    down: list[tuple[int, int, int]] = []
    known = True
    while not (start == lo and end == hi):
        split = lo + _largest_power_of_two_below(hi - lo)
        if end <= split:
            down.append((split, hi, _RIGHT))
            hi = split
        elif split <= start:
            down.append((lo, split, _LEFT))
            lo = split
        else:
            # Straddling the split forces start == lo for a valid subtree: the left half is part
            # of the subtree, and the verifier no longer knows the remaining target's hash.
            down.append((lo, split, _LEFT_INSIDE))
            lo = start = split
            known = False
    down.reverse()
    return (None if known else (lo, hi)), down


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def _is_valid_subtree(start: int, end: int) -> bool:
    if start < 0 or start > end:
        return False
    # An empty range is a valid (empty) subtree anywhere, as in transparency-dev/merkle.
    if start == end:
        return True
    width = 1 << (end - start - 1).bit_length()  # BIT_CEIL(end - start)
    return start % width == 0
