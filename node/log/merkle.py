"""RFC 9162 §2.1 Merkle tree math: hashes, an append-only frontier, proofs and their verification.

Pure functions over 32-byte SHA-256 hashes; no I/O, no storage, no network. Everything that takes
``leaves`` takes leaf *hashes* (``leaf_hash(entry)``), never entry bytes.

Two kinds of failure:

* :class:`~node.errors.ProofError` when a proof, size, index or hash received from elsewhere does
  not verify. Verifiers return ``None`` or raise it; the message says what was wrong and what was
  expected.
* :class:`ValueError` for programmer errors in the generators and :class:`Frontier` (a negative
  size, an index outside the leaves we were handed, a leaf hash of the wrong length).

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
aligned subtrees first, or fold the whole batch into a :class:`Frontier` and compare roots.

The plain generators hash every leaf they need (O(n) for a proof in a tree of n leaves) because
they keep no interior nodes. :class:`TreeLevels` keeps them (every complete, aligned subtree's
hash, as contiguous blobs: about 64 bytes per leaf) and answers the same proofs in O(log^2 n)
hashing, growing as the log does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from node.errors import MalformedError, ProofError

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# What a proof hash is, relative to the target range on its level (see _subproof_plan).
_RIGHT = 0  # sibling right of the target, outside [start, end)
_LEFT = 1  # sibling left of the target, outside [start, end)
_LEFT_INSIDE = 2  # left half of the subtree [start, end) itself


def leaf_hash(entry: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || entry)`` of one log entry's bytes."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """``[leaf_hash(e) for e in entries]`` without a Python call per entry."""
    sha256, prefix = hashlib.sha256, _LEAF_PREFIX
    return [sha256(prefix + entry).digest() for entry in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


@dataclass(frozen=True)
class Frontier:
    """Right edge of a tree: the roots of its perfect subtrees, largest (leftmost) first.

    Appending costs O(log n); the full log is never rehashed.
    """

    size: int
    hashes: tuple[bytes, ...]  # len == popcount(size)

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"frontier size must be >= 0, got {self.size}")
        want = self.size.bit_count()
        if len(self.hashes) != want:
            raise ValueError(
                f"frontier of size {self.size} needs {want} hashes, got {len(self.hashes)}"
            )
        for position, value in enumerate(self.hashes):
            if len(value) != HASH_SIZE:
                raise ValueError(
                    f"frontier hash {position} has {len(value)} bytes, expected {HASH_SIZE}"
                )

    @classmethod
    def empty(cls) -> Frontier:
        """Return the frontier of the empty tree."""
        return cls(0, ())

    def append(self, leaf: bytes) -> Frontier:
        """Return the frontier after appending one leaf hash."""
        return self.extend((leaf,))

    def extend(self, leaves: Iterable[bytes]) -> Frontier:
        """Return the frontier after appending many leaf hashes, in order.

        Hashes ``n`` leaves with fewer than ``n`` node hashes in total, keeping O(log n) memory,
        so it is the way to fold a streamed batch (or a whole log) into a tree.
        """
        stack = list(self.hashes)
        size = self.size
        # Local names: this loop runs once per leaf of the log.
        sha256, pop, push, prefix = hashlib.sha256, stack.pop, stack.append, _NODE_PREFIX
        for leaf in leaves:
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"leaf hash {size} has {len(leaf)} bytes, expected {HASH_SIZE}")
            carry = leaf
            # Each trailing 1 bit of size is a perfect subtree of the same height: merge it.
            pending = size
            while pending & 1:
                carry = sha256(prefix + pop() + carry).digest()
                pending >>= 1
            push(carry)
            size += 1
        return Frontier(size, tuple(stack))

    def root(self) -> bytes:
        """Return the tree's root hash (``EMPTY_ROOT`` for the empty tree)."""
        if not self.hashes:
            return EMPTY_ROOT
        # The right edge is a chain of left-heavy nodes: fold the subtrees from right to left.
        acc = self.hashes[-1]
        for value in reversed(self.hashes[:-1]):
            acc = node_hash(value, acc)
        return acc

    def to_bytes(self) -> bytes:
        """Return the hashes concatenated, for storage beside the checkpoint of the same size."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, data: bytes) -> Frontier:
        """Rebuild a frontier from ``to_bytes`` output; raise MalformedError on a size mismatch."""
        if size < 0:
            raise MalformedError(f"frontier size must be >= 0, got {size}")
        count = size.bit_count()
        if len(data) != count * HASH_SIZE:
            raise MalformedError(
                f"frontier of size {size} needs {count} hashes ({count * HASH_SIZE} bytes), "
                f"got {len(data)} bytes"
            )
        hashes = tuple(data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE))
        return cls(size, hashes)


# --- generation -------------------------------------------------------------------------------


def root_of(leaves: Sequence[bytes]) -> bytes:
    """Return ``MTH(leaves)``, the root over leaf hashes (``EMPTY_ROOT`` for none)."""
    return Frontier.empty().extend(leaves).root()


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


class TreeLevels:
    """Every complete, aligned subtree hash of a log's leaves, kept as it grows.

    Level ``k`` holds ``MTH(D[j*2^k : (j+1)*2^k])`` for every complete window, 32 bytes each, in
    one ``bytearray``: about 64 bytes per leaf over all levels, no object per hash. Appending is
    O(1) amortised; a window's hash is one lookup when it is complete and aligned (every left
    window RFC 9162's recursion visits is) and O(log n) lookups and hashes otherwise, so a proof
    costs O(log^2 n) whatever the tree's size. Proofs equal :func:`inclusion_proof` and
    :func:`consistency_proof` over the first ``tree_size`` leaves (property-tested).
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.size = 0

    def nbytes(self) -> int:
        return sum(len(level) for level in self._levels)

    def extend(self, leaves: Iterable[bytes]) -> None:
        levels = self._levels
        for leaf in leaves:
            if len(leaf) != HASH_SIZE:
                raise ValueError(f"leaf hash must be {HASH_SIZE} bytes, not {len(leaf)}")
            levels[0] += leaf
            self.size += 1
            count, k = self.size, 0
            while count % 2 == 0:  # the new node closed a pair: its parent is complete now
                # The pair is the level's last 64 bytes: left || right, as node_hash joins them.
                parent = hashlib.sha256(_NODE_PREFIX + levels[k][-2 * HASH_SIZE :]).digest()
                if len(levels) == k + 1:
                    levels.append(bytearray())
                levels[k + 1] += parent
                count //= 2
                k += 1

    def leaf_bytes(self, start: int, stop: int) -> bytes:
        """The leaf hashes ``start..stop-1``, end to end (32 bytes each)."""
        self._require(stop)
        return bytes(self._levels[0][HASH_SIZE * start : HASH_SIZE * stop])

    def root(self, size: int) -> bytes:
        """``MTH(D[0:size])`` for any ``size`` up to what was appended."""
        self._require(size)
        return EMPTY_ROOT if size == 0 else self._window(0, size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        self._require(tree_size)
        if not 0 <= index < tree_size:
            raise ValueError(f"index {index} is not in a tree of size {tree_size}")
        return self._subproof(index, index + 1, tree_size)

    def consistency_proof(self, old_size: int, tree_size: int) -> list[bytes]:
        self._require(tree_size)
        if not 0 < old_size <= tree_size:
            raise ValueError(
                f"no consistency proof from size {old_size} to {tree_size}; need 0 < old <= new"
            )
        return self._subproof(0, old_size, tree_size)

    def _subproof(self, start: int, end: int, size: int) -> list[bytes]:
        seed_window, steps = _subproof_plan(start, end, 0, size)
        proof = [] if seed_window is None else [self._window(*seed_window)]
        proof.extend(self._window(a, b) for a, b, _ in steps)
        return proof

    def _window(self, lo: int, hi: int) -> bytes:
        width = hi - lo
        if width & (width - 1) == 0 and lo % width == 0:
            k = width.bit_length() - 1
            at = (lo >> k) * HASH_SIZE
            return bytes(self._levels[k][at : at + HASH_SIZE])
        split = lo + _largest_power_of_two_below(width)
        return node_hash(self._window(lo, split), self._window(split, hi))

    def _require(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"tree size {size} is beyond the {self.size} leaves held")


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


# --- verification -----------------------------------------------------------------------------


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
