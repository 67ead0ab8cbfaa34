"""How a :class:`~node.index.bit_index.BitIndex` searches: the compiled kernel's calls and the
numpy fallback, over the snapshot (:class:`BitState`) a search started with."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from node.index import buckets
from node.index.buckets import Segment
from node.index.hamming import scan, verify
from node.index.hit import Hit
from node.index.matches import Matches
from node.index.rows import Rows
from node.index.words import Words

# Candidates gathered at once within a batch, for the same reason.
_GATHER_BLOCK = 1 << 18
# A batched kernel call re-runs overflowing queries together if their buffers fit this many hits.
_RERUN_ENTRIES = 1 << 23


def _read_only(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A read-only view: the kernel is compiled once for read-only inputs, whatever their origin
    (numba types writable and read-only arrays differently, and compiling costs seconds)."""
    view = array.view()
    view.flags.writeable = False
    return view


_NO_PLAN: tuple[object, ...] = tuple(
    _read_only(a)
    for a in (
        np.zeros(1, dtype=np.uint32),
        np.zeros(0, dtype=np.uint32),
        np.zeros(0, dtype=np.intp),
        np.zeros(0, dtype=np.uint32),
        np.zeros(0, dtype=np.int64),
    )
)
_ROW_MASK = np.uint64(0xFFFFFFFF)
_DISTANCE_SHIFT = np.uint64(32)
_kernel_module: ModuleType | None = None

KERNEL_MIN_ROWS = 50_000
"""Below this many rows a search runs numpy unless the kernel is already loaded (a server warms
it up at start): importing numba and loading its machine code (~1.5 s) would cost a one-off
lookup, such as ``hashfed match`` on a small node, many times the search itself."""


def kernel_loaded() -> bool:
    """Whether the compiled kernel's module has been imported in this process."""
    return _kernel_module is not None


def _kernel() -> ModuleType:
    """``node.index.kernel``, imported on first use rather than with this module.

    Importing numba takes ~0.65 s, and every CLI command imports the index through the node
    facade, while only searches need the kernel (building, appending and snapshots are numpy).
    """
    global _kernel_module
    if _kernel_module is None:
        from node.index import kernel

        _kernel_module = kernel
    return _kernel_module


def _split(keys: Words) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Kernel output (distance << 32 | row) as (rows, distances)."""
    return (keys & _ROW_MASK).astype(np.int64), (keys >> _DISTANCE_SHIFT).astype(np.int64)


def _kernel_hits(keys: Words) -> list[Hit]:
    rows, distances = _split(keys)
    return [Hit(r, d) for r, d in zip(rows.tolist(), distances.tolist(), strict=True)]


def _hit_arrays(hits: list[Hit]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    return (
        np.array([hit.row for hit in hits], dtype=np.int64),
        np.array([hit.distance for hit in hits], dtype=np.int64),
    )


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a search reads, swapped in one assignment so searches see a consistent view."""

    rows: Rows
    segments: tuple[Segment, ...]  # contiguous from row 0: the main segment, then a delta one

    @property
    def indexed(self) -> int:
        return self.segments[-1].stop if self.segments else 0


class BitSearch:
    """The search half of ``BitIndex`` (node/index/bit_index.py), which sets these."""

    max_threshold: int
    _layout: buckets.ChunkLayout
    _scan_fraction: float
    _arguments: tuple[_State, int, tuple[object, ...]] | None

    def _kernel_arguments(self, state: _State, threshold: int) -> tuple[object, ...]:
        """Everything ``kernel.search`` takes besides the query and the output buffer."""
        cached = self._arguments
        if cached is not None and cached[0] is state and cached[1] == threshold:
            return cached[2]
        rows = state.rows
        bounds = np.zeros((2, 4), dtype=np.int64)
        plans: list[tuple[object, ...]] = []
        for i, segment in enumerate(state.segments):
            plan = None
            if threshold <= self.max_threshold:
                plan = buckets.probe_plan(self._layout.count, segment.key_bits, threshold)
            limit = int(self._scan_fraction * segment.size)
            if plan is None or len(plan.masks) > self._scan_fraction * segment.size:
                plan, limit = None, -1
            bounds[i] = (segment.start, segment.stop, segment.key_bits, limit)
            plans.append(
                _NO_PLAN
                if plan is None
                else tuple(
                    _read_only(a)
                    for a in (segment.offsets, segment.rows, plan.chunks, plan.masks, plan.radii)
                )
            )
        segment_count = len(state.segments)
        tail_start = state.indexed
        if threshold > self.max_threshold:
            # Scan everything as one range: no bucket work at all.
            segment_count, tail_start = 0, 0
        while len(plans) < 2:
            plans.append(_NO_PLAN)
        arguments = (
            _read_only(rows.words),
            _read_only(rows.live),
            rows.count,
            tail_start,
            segment_count,
            _read_only(bounds),
            *plans[0],
            *plans[1],
            _read_only(self._layout.words),
            _read_only(self._layout.tops),
        )
        self._arguments = (state, threshold, arguments)
        return arguments

    def _kernel_one(self, state: _State, query: Words, threshold: int) -> Words:
        words, live, count, tail_start, segment_count, bounds, *rest = self._kernel_arguments(
            state, threshold
        )
        kernel = _kernel()
        out = np.empty(kernel.BATCH_CAPACITY, dtype=np.uint64)
        while True:
            found = kernel.search(
                words,
                live,
                count,
                tail_start,
                _read_only(query),
                threshold,
                segment_count,
                bounds,
                *rest,
                out,
            )
            if found <= len(out):
                return out[:found]
            out = np.empty(found + found // 8 + 16, dtype=np.uint64)

    def _kernel_many(self, state: _State, queries: Words, threshold: int) -> list[Words]:
        if not len(queries):
            return []
        words, live, count, tail_start, segment_count, bounds, *rest = self._kernel_arguments(
            state, threshold
        )
        kernel = _kernel()
        out = np.empty((len(queries), kernel.BATCH_CAPACITY), dtype=np.uint64)
        found = np.empty(len(queries), dtype=np.int64)
        kernel.search_batch(
            words, live, count, tail_start, _read_only(np.ascontiguousarray(queries)), threshold,
            segment_count, bounds, *rest, out, found,
        )  # fmt: skip
        counts = found.tolist()
        results: list[Words] = [out[q, :n] for q, n in enumerate(counts)]
        over = np.flatnonzero(found > kernel.BATCH_CAPACITY)
        if len(over):
            # Answers too big for the first pass (a query inside a crowd of near-duplicates):
            # run those again, still in parallel, with room for the largest, if that fits.
            room = int(found[over].max())
            if len(over) * room <= _RERUN_ENTRIES:
                again = np.empty((len(over), room), dtype=np.uint64)
                found_again = np.empty(len(over), dtype=np.int64)
                kernel.search_batch(
                    words, live, count, tail_start,
                    _read_only(np.ascontiguousarray(queries[over])), threshold,
                    segment_count, bounds, *rest, again, found_again,
                )  # fmt: skip
                # Live flags may have changed between the passes: trust the second count.
                for i, (q, n) in enumerate(zip(over.tolist(), found_again.tolist(), strict=True)):
                    fits = n <= room
                    results[q] = (
                        again[i, :n] if fits else self._kernel_one(state, queries[q], threshold)
                    )
            else:
                for q in over.tolist():
                    results[q] = self._kernel_one(state, queries[q], threshold)
        return results

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
