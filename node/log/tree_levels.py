"""Every complete, aligned subtree hash of a log, kept as it grows, to serve proofs quickly."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from node.log.merkle import _NODE_PREFIX, EMPTY_ROOT, HASH_SIZE, node_hash
from node.log.proofs import _largest_power_of_two_below, _subproof_plan


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
