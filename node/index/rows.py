"""Row storage shared by the indexes: hash words and live flags, where row number == position.

A ``Rows`` value is an immutable snapshot: appending writes past its ``count`` (into spare
capacity nobody reads yet) or into a grown copy, then returns a new snapshot. A search that took
the old snapshot therefore keeps seeing a consistent prefix while one writer appends. Live flags
are flipped in place, one bit per row, because retraction must be O(k) and visible at once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.index.words import Words

# Growing by 1/32 keeps unused capacity under ~1 byte per 32-byte hash (the memory budget
# counts it) while still making appends amortised O(1).
_GROWTH_DIVISOR = 32
_MIN_GROWTH = 1024
# Row ids are stored as uint32 (4 bytes per row per chunk is most of the memory budget).
MAX_ROWS = (1 << 32) - 1


@dataclass(frozen=True, slots=True)
class Rows:
    words: Words  # (capacity, w) uint64; rows >= count are spare capacity
    live: npt.NDArray[np.uint8]  # bit r % 8 of byte r // 8 is row r's live flag
    count: int

    @classmethod
    def empty(cls, width: int) -> Rows:
        return cls(np.empty((0, width), dtype=np.uint64), np.zeros(0, dtype=np.uint8), 0)

    @property
    def valid(self) -> Words:
        return self.words[: self.count]

    def appended(self, new: Words) -> Rows:
        """A snapshot with ``new`` rows added, all live."""
        count = self.count + len(new)
        if count > MAX_ROWS:
            raise ValueError(f"an index holds at most {MAX_ROWS} rows")
        words, live = self.words, self.live
        if count > len(words):
            capacity = max(count, len(words) + max(len(words) // _GROWTH_DIVISOR, _MIN_GROWTH))
            words = np.empty((capacity, words.shape[1]), dtype=np.uint64)
            words[: self.count] = self.valid
            live = np.zeros((capacity + 7) // 8, dtype=np.uint8)
            live[: len(self.live)] = self.live
        words[self.count : count] = new
        grown = Rows(words, live, count)
        # Whole bytes by slice, the ragged ends bit by bit: a bulk load of millions of rows
        # must not go through ufunc.at.
        first_full, end_full = -(-self.count // 8), count // 8
        if first_full < end_full:
            live[first_full:end_full] = 0xFF
            ragged = [*range(self.count, first_full * 8), *range(end_full * 8, count)]
        else:
            ragged = list(range(self.count, count))
        grown.set_live(np.array(ragged, dtype=np.int64), True)
        return grown

    def checked_rows(self, rows: Sequence[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
        given = np.asarray(rows)
        # Refuse bool masks and floats: casting them would silently pick the wrong rows.
        if given.size and given.dtype.kind not in "iu":
            raise ValueError(f"rows must be integers, got {given.dtype}")
        checked = given.astype(np.int64).reshape(-1)
        if checked.size and (checked.min() < 0 or checked.max() >= self.count):
            raise ValueError(f"rows must be in [0, {self.count})")
        return checked

    def set_live(self, rows: npt.NDArray[np.int64], live: bool) -> None:
        bits = np.left_shift(np.uint8(1), (rows & 7).astype(np.uint8))
        # ufunc.at, not fancy assignment: two rows sharing a byte must both take effect.
        if live:
            np.bitwise_or.at(self.live, rows >> 3, bits)
        else:
            np.bitwise_and.at(self.live, rows >> 3, ~bits)

    def is_live(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        shifted = np.right_shift(self.live[rows >> 3], (rows & 7).astype(np.uint8))
        flags: npt.NDArray[np.bool_] = np.bitwise_and(shifted, np.uint8(1)).astype(np.bool_)
        return flags

    def memory_bytes(self) -> int:
        return sys.getsizeof(self.words) + sys.getsizeof(self.live) + sys.getsizeof(self)
