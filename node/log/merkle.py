"""RFC 9162 §2.1 Merkle tree math: leaf and node hashes, roots, and an append-only frontier.

Pure functions over 32-byte SHA-256 hashes; no I/O, no storage, no network. Everything that takes
``leaves`` takes leaf *hashes* (``leaf_hash(entry)``), never entry bytes. Proofs are made in
:mod:`node.log.proofs` (and served from :class:`node.log.tree_levels.TreeLevels`) and checked
in :mod:`node.log.proof_verification`.

:class:`ValueError` is raised for programmer errors in :class:`Frontier` (a negative size, a
leaf hash of the wrong length); :class:`~node.errors.MalformedError` for a stored frontier that
does not fit its size.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from node.errors import MalformedError

HASH_SIZE = 32
EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


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


def root_of(leaves: Sequence[bytes]) -> bytes:
    """Return ``MTH(leaves)``, the root over leaf hashes (``EMPTY_ROOT`` for none)."""
    return Frontier.empty().extend(leaves).root()
