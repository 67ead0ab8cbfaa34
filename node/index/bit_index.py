"""Exact Hamming-radius search over fixed-length hashes (PDQ 256 bit, pHash/dHash 64 bit)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.index import buckets
from node.index.buckets import Segment
from node.index.hamming import check_threshold, scan, verify
from node.index.hit import Hit
from node.index.matches import Matches, to_hits
from node.index.rows import Rows
from node.index.words import Words, queries_to_words, query_to_words, to_words, word_count

# Chunks per 64-bit word by default: 21/21/22-bit chunks (12 for PDQ, 3 for 64-bit hashes).
_CHUNKS_PER_WORD = 3
# search_many works on this many queries at a time: its (queries x probes) arrays stay a few MB.
_QUERY_BATCH = 256
# Candidates gathered at once within a batch, for the same reason.
_GATHER_BLOCK = 1 << 18


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a search reads, swapped in one assignment so searches see a consistent view."""

    rows: Rows
    segments: tuple[Segment, ...]  # contiguous from row 0: the main segment, then a delta one

    @property
    def indexed(self) -> int:
        return self.segments[-1].stop if self.segments else 0


class BitIndex:
    """Exact Hamming-radius search over fixed-length hashes (256-bit PDQ, 64-bit phash/dhash).

    Row r is the r-th appended hash; rows are never removed, only marked not live. Rows sit in
    up to three parts: a main bucketed segment, a smaller bucketed delta segment, and an
    unbucketed tail that is scanned. Appends land in the tail; once it exceeds ``tail_rows``
    it is folded into the delta segment, and once that exceeds ``main / merge_fraction`` it is
    merged into main. No change rebuilds everything: a main merge costs O(n * chunks) once per
    n / merge_fraction appends, a fold O(delta * chunks) once per ``tail_rows`` appends (at
    10M PDQ rows that came to ~14 us per appended row). ``set_live`` is O(rows given).

    Thresholds up to ``max_threshold`` are answered by probing buckets; larger ones (and
    queries whose probes would touch more than ``scan_fraction`` of a segment) by a full scan.
    Either way the answer equals ``brute_force`` exactly.

    One writer (append, set_live) may run alongside any number of searches: a search works on
    the snapshot it started with, plus live flags as they are at the moment it checks them.
    """

    def __init__(
        self,
        bits: int,
        *,
        max_threshold: int,
        chunks: int | None = None,
        offsets_bytes_per_row: float = 16.0,
        key_bits: int | None = None,
        tail_rows: int = 4096,
        merge_fraction: int = 8,
        scan_fraction: float = 0.25,
    ) -> None:
        width = word_count(bits)
        check_threshold(max_threshold, bits)
        self._layout = buckets.ChunkLayout.split(width, chunks or _CHUNKS_PER_WORD * width)
        if key_bits is not None and not 1 <= key_bits <= self._layout.max_key_bits:
            raise ValueError(f"key_bits must be in [1, {self._layout.max_key_bits}]")
        if tail_rows < 1 or merge_fraction < 1:
            raise ValueError("tail_rows and merge_fraction must be >= 1")
        if scan_fraction <= 0 or offsets_bytes_per_row <= 0:
            raise ValueError("scan_fraction and offsets_bytes_per_row must be > 0")
        self.bits = bits
        self.max_threshold = max_threshold
        self._offsets_bytes_per_row = offsets_bytes_per_row
        self._tail_rows = tail_rows
        self._merge_fraction = merge_fraction
        self._key_bits = key_bits
        self._scan_fraction = scan_fraction
        self._state = _State(Rows.empty(width), ())

    def __len__(self) -> int:
        return self._state.rows.count

    def append(self, values: npt.NDArray[np.uint8] | Sequence[bytes], *, first_row: int) -> None:
        """Add hashes as rows ``first_row, first_row + 1, ...``; ``first_row`` must be len(self)."""
        state = self._state
        if first_row != state.rows.count:
            raise ValueError(f"first_row must be {state.rows.count}, got {first_row}")
        new = to_words(values, self.bits)
        if not len(new):
            return
        rows = state.rows.appended(new)
        self._state = _State(rows, self._reorganised(state.segments, rows))

    def set_live(self, rows: Sequence[int] | npt.NDArray[np.integer], live: bool) -> None:
        """Mark rows live (matchable) or not; O(len(rows))."""
        state = self._state
        state.rows.set_live(state.rows.checked_rows(rows), live)

    def search(self, query: bytes, threshold: int) -> list[Hit]:
        """Live rows within ``threshold`` of ``query``, sorted by (distance, row)."""
        check_threshold(threshold, self.bits)
        return self._search(query_to_words(query, self.bits)[None, :], threshold)[0]

    def search_many(
        self, queries: npt.NDArray[np.uint8] | Sequence[bytes], threshold: int
    ) -> list[list[Hit]]:
        """``search`` for every query, batched: numpy calls per batch, not per query."""
        check_threshold(threshold, self.bits)
        return self._search(queries_to_words(queries, self.bits), threshold)

    def memory_bytes(self) -> int:
        """Bytes held: hash words and live bits (with spare capacity), buckets, bookkeeping."""
        state = self._state
        return (
            state.rows.memory_bytes()
            + sum(segment.memory_bytes() for segment in state.segments)
            + sys.getsizeof(state.segments)
            + sys.getsizeof(state)
            + sys.getsizeof(self)
            + sys.getsizeof(self.__dict__)
        )

    def _search(self, queries: Words, threshold: int) -> list[list[Hit]]:
        state = self._state
        hits: list[list[Hit]] = []
        for q0 in range(0, len(queries), _QUERY_BATCH):
            batch = queries[q0 : q0 + _QUERY_BATCH]
            matches = self._matches(state, batch, threshold)
            hits.extend(to_hits(matches, len(batch), state.rows.is_live))
        return hits

    def _matches(self, state: _State, queries: Words, threshold: int) -> Matches:
        words, count = state.rows.words, state.rows.count
        if threshold > self.max_threshold:
            return scan(words, 0, count, queries, threshold)
        parts = [self._probe(s, words, queries, threshold) for s in state.segments]
        parts.append(scan(words, state.indexed, count, queries, threshold))
        return Matches.concat(parts)

    def _probe(self, segment: Segment, words: Words, queries: Words, threshold: int) -> Matches:
        plan = buckets.probe_plan(self._layout.count, segment.key_bits, threshold)
        if plan is None or len(plan.masks) > self._scan_fraction * segment.size:
            return scan(words, segment.start, segment.stop, queries, threshold)
        keys = self._layout.keys(queries, segment.key_bits)
        starts, lengths = buckets.bucket_bounds(segment, plan, keys)
        totals = lengths.sum(axis=1)
        # Past some candidate count, reading the segment in order beats gathering rows at
        # random (and a crowd of near-identical hashes cannot make a query quadratic).
        wide = totals > self._scan_fraction * segment.size
        if len(queries) == 1:
            if wide[0]:
                return scan(words, segment.start, segment.stop, queries, threshold)
            candidates = buckets.gather_rows(segment, starts, lengths)
            return verify(words, candidates, queries, None, threshold)
        parts: list[Matches] = []
        if wide.any():
            ids = np.flatnonzero(wide)
            found = scan(words, segment.start, segment.stop, queries[ids], threshold)
            parts.append(Matches(ids[found.queries], found.rows, found.distances))
        narrow = np.flatnonzero(~wide)
        # Gather candidates for a run of queries at a time to bound the temporaries.
        group = (np.cumsum(totals[narrow]) - 1) // _GATHER_BLOCK
        cuts = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), len(narrow)]
        for lo, hi in itertools.pairwise(cuts):
            ids = narrow[lo:hi]
            candidates = buckets.gather_rows(segment, starts[ids], lengths[ids])
            owners = np.repeat(ids, totals[ids])
            parts.append(verify(words, candidates, queries, owners, threshold))
        return Matches.concat(parts)

    def _reorganised(self, segments: tuple[Segment, ...], rows: Rows) -> tuple[Segment, ...]:
        """Buckets after an append: fold the tail in once it is too long to scan cheaply."""
        indexed = segments[-1].stop if segments else 0
        count = rows.count
        if count - indexed <= self._tail_rows:
            return segments
        words = rows.words
        main = segments[0] if segments else None
        layout = self._layout
        budget = self._offsets_bytes_per_row * count
        if main is None:
            return (buckets.build(layout, words, 0, count, self._key_bits_for(budget)),)
        pending = count - main.stop
        if pending > max(self._tail_rows, main.size // self._merge_fraction):
            return (buckets.extend(layout, main, words, count, self._key_bits_for(budget)),)
        # The delta may use whatever budget main leaves: it is probed by every query, so its
        # buckets should be about as fine as main's.
        key_bits = self._key_bits_for(budget - main.offsets.nbytes)
        if len(segments) == 1:
            return (main, buckets.build(layout, words, main.stop, count, key_bits))
        return (main, buckets.extend(layout, segments[1], words, count, key_bits))

    def _key_bits_for(self, budget: float) -> int:
        """The widest keys whose offsets tables (4 bytes per key per chunk) fit ``budget``."""
        if self._key_bits is not None:
            return self._key_bits
        key_bits = self._layout.max_key_bits
        while key_bits > 1 and self._layout.count * ((1 << key_bits) + 1) * 4 > budget:
            key_bits -= 1
        return key_bits
