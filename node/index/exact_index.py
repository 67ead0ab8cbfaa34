"""Exact-match index for cryptographic digests (MD5, SHA-256)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.index.hit import Hit, hits_from
from node.index.matches import Matches, to_hits
from node.index.rows import Rows
from node.index.splice import spliced
from node.index.state import (
    State,
    check_version,
    get_array,
    get_int,
    rows_from_state,
    rows_state,
    scalar,
)
from node.index.words import Words, queries_to_words, query_to_words, to_words, word_count

# The tail is scanned on every lookup; merging it costs O(indexed rows). Letting it grow to
# 1/256 of the sorted part keeps both small: a few tens of microseconds of scan at 10M rows.
_MERGE_FRACTION = 256
# Up to this many queries, comparing each against the whole tail beats sorting the tail.
_FEW_QUERIES = 16
_KEY_SHIFT = np.uint64(32)
# state() format: bump on any change to the arrays or their meaning.
_KIND = "exact_index"
_STATE_VERSION = 1


def _keys(words: Words) -> npt.NDArray[np.uint32]:
    """The sort key of each row: the top 32 bits of its first word."""
    return (words[:, 0] >> _KEY_SHIFT).astype(np.uint32)


@dataclass(frozen=True, slots=True)
class _Sorted:
    """Rows ``[0, stop)`` ordered by a 32-bit key: a binary-searchable column.

    32 bits are enough to leave ~0.002 false candidates per lookup at 10M uniform digests,
    cost 4 bytes a row, and let (key, row) pack into one uint64 for numpy's fast sort.
    Candidates are always compared in full, so shared prefixes (even deliberate ones) cost
    time, never correctness.
    """

    keys: npt.NDArray[np.uint32]
    rows: npt.NDArray[np.uint32]

    @property
    def stop(self) -> int:
        return len(self.rows)

    def merged(self, words: Words, stop: int) -> _Sorted:
        """Add rows ``[self.stop, stop)``."""
        packed = _keys(words[self.stop : stop]).astype(np.uint64) << _KEY_SHIFT
        packed |= np.arange(self.stop, stop, dtype=np.uint64)
        packed.sort()
        new_keys = (packed >> _KEY_SHIFT).astype(np.uint32)
        at = np.searchsorted(self.keys, new_keys, side="right")
        return _Sorted(
            spliced(self.keys, at, new_keys), spliced(self.rows, at, packed.astype(np.uint32))
        )

    def memory_bytes(self) -> int:
        return sys.getsizeof(self.keys) + sys.getsizeof(self.rows) + sys.getsizeof(self)


@dataclass(frozen=True, slots=True)
class _State:
    rows: Rows
    sorted: _Sorted


class ExactIndex:
    """Equality lookup of ``bits``-bit digests; the same row/live model as ``BitIndex``.

    Rows ``[0, sorted.stop)`` are binary-searched by a 32-bit prefix; newer rows (the tail)
    are compared directly until there are enough of them to merge in.
    """

    def __init__(self, bits: int, *, tail_rows: int = 4096) -> None:
        width = word_count(bits)
        if tail_rows < 1:
            raise ValueError("tail_rows must be >= 1")
        self.bits = bits
        self._tail_rows = tail_rows
        empty = _Sorted(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32))
        self._state = _State(Rows.empty(width), empty)

    def __len__(self) -> int:
        return self._state.rows.count

    def append(self, values: npt.NDArray[np.uint8] | Sequence[bytes], *, first_row: int) -> None:
        state = self._state
        if first_row != state.rows.count:
            raise ValueError(f"first_row must be {state.rows.count}, got {first_row}")
        new = to_words(values, self.bits)
        if not len(new):
            return
        rows = state.rows.appended(new)
        index = state.sorted
        if rows.count - index.stop > max(self._tail_rows, index.stop // _MERGE_FRACTION):
            index = index.merged(rows.words, rows.count)
        self._state = _State(rows, index)

    def set_live(self, rows: Sequence[int] | npt.NDArray[np.integer], live: bool) -> None:
        state = self._state
        state.rows.set_live(state.rows.checked_rows(rows), live)

    def search(self, query: bytes, threshold: int = 0) -> list[Hit]:
        """Live rows equal to ``query``, ascending; ``threshold`` exists for API symmetry."""
        self._check_threshold(threshold)
        words = query_to_words(query, self.bits)
        state = self._state
        index, stored = state.sorted, state.rows.valid
        # One query needs no range bookkeeping: two binary searches and a slice.
        key = _keys(words[None, :])[0]
        lo = int(np.searchsorted(index.keys, key, side="left"))
        hi = int(np.searchsorted(index.keys, key, side="right"))
        tail = np.flatnonzero(stored[index.stop :, 0] == words[0]) + index.stop
        rows = np.concatenate([index.rows[lo:hi].astype(np.int64), tail])
        rows = rows[(np.take(stored, rows, axis=0) == words).all(axis=1)]
        rows = np.sort(rows[state.rows.is_live(rows)])
        return hits_from(rows, np.zeros(len(rows), dtype=np.int64))

    def search_many(
        self, queries: npt.NDArray[np.uint8] | Sequence[bytes], threshold: int = 0
    ) -> list[list[Hit]]:
        self._check_threshold(threshold)
        return self._search(queries_to_words(queries, self.bits))

    def state(self) -> State:
        """Every array and setting needed to rebuild this index exactly (see ``from_state``).

        Keys: ``kind``, ``version``, ``bits``, ``tail_rows``, ``count`` (0-d), ``words``
        (count, w) uint64 (a view), ``live`` uint8 (a copy), ``sorted_keys`` and
        ``sorted_rows`` (uint32, views).
        """
        state = self._state
        return {
            "kind": np.array(_KIND),
            "version": scalar(_STATE_VERSION),
            "bits": scalar(self.bits),
            "tail_rows": scalar(self._tail_rows),
            **rows_state(state.rows),
            "sorted_keys": state.sorted.keys,
            "sorted_rows": state.sorted.rows,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, npt.NDArray[np.generic]]) -> ExactIndex:
        """The index ``state()`` described, without re-sorting; ValueError if inconsistent.

        Arrays are used as given (read-only ones are fine), except the live bits (copied).
        """
        check_version(state, _KIND, _STATE_VERSION)
        index = cls(get_int(state, "bits"), tail_rows=get_int(state, "tail_rows"))
        rows = rows_from_state(state, word_count(index.bits))
        if "sorted_rows" not in state:
            raise ValueError("state lacks 'sorted_rows'")
        stop = len(state["sorted_rows"])
        sorted_rows = get_array(state, "sorted_rows", np.uint32, (stop,))
        sorted_keys = get_array(state, "sorted_keys", np.uint32, (stop,))
        if stop > rows.count:
            raise ValueError(f"state sorts {stop} rows but holds only {rows.count}")
        if rows.count - stop > max(index._tail_rows, stop // _MERGE_FRACTION):
            raise ValueError("state's unsorted tail is longer than the merge rule allows")
        index._state = _State(rows, _Sorted(sorted_keys, sorted_rows))  # type: ignore[arg-type]
        return index

    def memory_bytes(self) -> int:
        state = self._state
        return (
            state.rows.memory_bytes()
            + state.sorted.memory_bytes()
            + sys.getsizeof(state)
            + sys.getsizeof(self)
            + sys.getsizeof(self.__dict__)
        )

    @staticmethod
    def _check_threshold(threshold: int) -> None:
        if threshold != 0:
            raise ValueError(f"exact matching takes threshold 0, got {threshold}")

    def _search(self, queries: Words) -> list[list[Hit]]:
        state = self._state
        words, count, index = state.rows.words, state.rows.count, state.sorted
        if not len(queries):
            return []
        owner, position = _equal_ranges(index.keys, _keys(queries))
        firsts = queries[:, 0]
        tail_keys = words[index.stop : count, 0]
        if len(queries) <= _FEW_QUERIES:
            found = [np.flatnonzero(tail_keys == first) for first in firsts]
            tail_owner = np.repeat(np.arange(len(found)), [len(rows) for rows in found])
            tail_row = np.concatenate(found)
        else:
            # Many queries: sort the tail's keys once and binary-search them like the rest.
            tail_order = np.argsort(tail_keys)
            tail_owner, tail_position = _equal_ranges(tail_keys[tail_order], firsts)
            tail_row = tail_order[tail_position]
        owner = np.concatenate([owner, tail_owner])
        row = np.concatenate([index.rows[position].astype(np.int64), tail_row + index.stop])
        equal = (np.take(words, row, axis=0) == np.take(queries, owner, axis=0)).all(axis=1)
        matches = Matches(owner[equal], row[equal], np.zeros(int(equal.sum()), dtype=np.int64))
        return to_hits(matches, len(queries), state.rows.is_live)


def _equal_ranges(
    keys: npt.NDArray[np.uint32] | npt.NDArray[np.uint64],
    wanted: npt.NDArray[np.uint32] | npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(query id, position in sorted ``keys``) for every key equal to ``wanted[query id]``."""
    starts = np.searchsorted(keys, wanted, side="left")
    lengths = np.searchsorted(keys, wanted, side="right") - starts
    ends = np.cumsum(lengths)
    positions = np.repeat(starts - (ends - lengths), lengths) + np.arange(int(ends[-1]))
    return np.repeat(np.arange(len(wanted)), lengths), positions
