"""Merkle tree levels of the logs this node proves things about, kept between requests."""

from __future__ import annotations

from node.log.tree_levels import TreeLevels
from node.store.store import Store

# Merkle levels kept for proofs: ~64 bytes per leaf (1M entries: 64 MB); beyond this the least
# recently proved origin is dropped (it is rebuilt from the store when asked again).
TREE_CACHE_BYTES = 512 * 1024 * 1024
TREE_READ_CHUNK = 100_000


class TreeCache:
    """Per origin, the levels read from the store once and extended as the log grows (leaves
    never change once stored), so a proof costs O(log^2 n) instead of hashing the whole log."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # Most recently used last.
        self._trees: dict[str, TreeLevels] = {}

    def get(self, origin: str, size: int) -> TreeLevels:
        """``origin``'s tree levels for at least ``size`` leaves."""
        tree = self._trees.pop(origin, None) or TreeLevels()
        while tree.size < size:
            stop = min(size, tree.size + TREE_READ_CHUNK)
            tree.extend(self._store.log.leaf_range(origin, tree.size, stop))
        self._trees[origin] = tree
        while len(self._trees) > 1 and sum(t.nbytes() for t in self._trees.values()) > (
            TREE_CACHE_BYTES
        ):
            del self._trees[next(iter(self._trees))]  # the least recently used
        return tree

    def forget(self, origin: str) -> None:
        """Drop ``origin``'s levels: its stored leaves were found damaged or rolled back."""
        self._trees.pop(origin, None)
