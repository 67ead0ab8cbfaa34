"""Exact Hamming-radius search over fixed-length hashes (PDQ 256 bit, pHash/dHash 64 bit)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from node.index import buckets
from node.index.bit_search import (
    KERNEL_MIN_ROWS,
    BitSearch,
    _hit_arrays,
    _kernel,
    _kernel_hits,
    _split,
    _State,
    kernel_loaded,
)
from node.index.buckets import Segment
from node.index.hamming import check_threshold
from node.index.hit import Hit
from node.index.matches import to_hits
from node.index.rows import Rows
from node.index.state import (
    State,
    check_version,
    get_array,
    get_float,
    get_int,
    rows_from_state,
    rows_state,
    scalar,
)
from node.index.words import Words, queries_to_words, query_to_words, to_words, word_count

# Chunks per 64-bit word by default: 21/21/22-bit chunks (12 for PDQ, 3 for 64-bit hashes).
_CHUNKS_PER_WORD = 3
# search_many works on this many queries at a time: its (queries x probes) arrays stay a few MB.
_QUERY_BATCH = 256
# state() format: bump on any change to the arrays or their meaning.
_KIND = "bit_index"
_STATE_VERSION = 1


def warm_up() -> bool:
    """Import the kernel and load its compiled code now; whether the kernel is available.

    Otherwise the first search pays it: ~0.65 s for numba's import plus ~0.8 s to load the
    cached machine code (~30 s to compile it on the very first run). A server can call this
    once the index is ready so that no client waits for it. Answers do not change.
    """
    if not _kernel().AVAILABLE:
        return False
    # Rows enough to build a bucketed segment: the kernels then get the same argument types a
    # real index passes, so the specialisations loaded are the ones later searches use.
    index = BitIndex(256, max_threshold=31, tail_rows=1)
    index.append(np.zeros((3, 32), dtype=np.uint8), first_row=0)
    index.search_arrays(bytes(32), 31)
    index.search_many_arrays(np.zeros((2, 32), dtype=np.uint8), 31)
    return True


class BitIndex(BitSearch):
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
    :meth:`fold` may also run on another thread (a sync folds off the node's thread): it works
    on a snapshot of the rows and swaps its buckets in under a lock, keeping rows appended
    meanwhile in the tail; an ``append`` during it leaves its rows in the (scanned) tail.
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
        # The compiled kernel when numba is present (decided at the first search of an index
        # of KERNEL_MIN_ROWS or more, or once the kernel is loaded, see ``_kernel``); tests
        # switch it off to check the numpy path.
        self._use_kernel: bool | None = None
        # (state, threshold, kernel arguments) of the last kernel search: one query's setup.
        self._arguments: tuple[_State, int, tuple[object, ...]] | None = None
        # Held while the state is replaced; a fold works unlocked and only swaps under it.
        self._swap = threading.Lock()
        self._folding = False

    def __len__(self) -> int:
        return self._state.rows.count

    @property
    def use_kernel(self) -> bool:
        """Whether searches run the compiled kernel (default: whenever numba imports, once the
        index holds ``KERNEL_MIN_ROWS`` rows or the kernel is loaded; both give the same
        answers)."""
        if self._use_kernel is None:
            if len(self) < KERNEL_MIN_ROWS and not kernel_loaded():
                return False  # undecided: a later, larger search may still load the kernel
            self._use_kernel = bool(_kernel().AVAILABLE)
        return self._use_kernel

    @use_kernel.setter
    def use_kernel(self, on: bool) -> None:
        self._use_kernel = on

    @property
    def kernel_allowed(self) -> bool:
        """Whether the kernel may serve this index (not switched off), loaded or not yet."""
        return self._use_kernel is not False

    def append(
        self,
        values: npt.NDArray[np.uint8] | Sequence[bytes],
        *,
        first_row: int,
        fold: bool = True,
    ) -> None:
        """Add hashes as rows ``first_row, first_row + 1, ...``; ``first_row`` must be len(self).

        ``fold=False`` (or a :meth:`fold` running on another thread) leaves them in the tail,
        found by a scan, until the next fold: the caller folds when it suits it.
        """
        new = to_words(values, self.bits)
        with self._swap:
            state = self._state
            if first_row != state.rows.count:
                raise ValueError(f"first_row must be {state.rows.count}, got {first_row}")
            if not len(new):
                return
            rows = state.rows.appended(new)
            segments = state.segments
            if fold and not self._folding:
                segments = self._reorganised(segments, rows)
            self._state = _State(rows, segments)
            self._arguments = None  # drop the old snapshot's arrays now, not at the next search

    @property
    def unfolded(self) -> int:
        """Rows in the tail (appended since the last fold): scanned by every search."""
        return self._state.rows.count - self._state.indexed

    @property
    def folded(self) -> int:
        """Rows in bucketed segments."""
        return self._state.indexed

    def fold_due(self) -> bool:
        """Whether the tail is longer than ``tail_rows`` (an ``append`` would fold it)."""
        return self.unfolded > self._tail_rows

    def fold(self) -> bool:
        """Fold the tail into the buckets, as ``append`` would, if it is longer than
        ``tail_rows`` and no other fold is running; True if it did.

        Safe on any thread: the buckets are built from a snapshot without the lock (numpy's
        sorts release the GIL) and swapped in under it; rows appended meanwhile stay in the
        tail, and live flags set meanwhile are kept (they live in the rows, not the buckets).
        """
        with self._swap:
            state = self._state
            if self._folding or state.rows.count - state.indexed <= self._tail_rows:
                return False
            self._folding = True
        try:
            segments = self._reorganised(state.segments, state.rows)
            with self._swap:
                self._state = _State(self._state.rows, segments)
                self._arguments = None
        finally:
            with self._swap:
                self._folding = False
        return True

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

    def state(self) -> State:
        """Every array and setting needed to rebuild this index exactly (see ``from_state``).

        Hash words and bucket arrays are views (they are never modified in place once
        published); the live bits are a copy taken now. Keys: ``kind``, ``version``, the
        constructor settings, ``count``, ``words`` (count, w) uint64, ``live`` uint8,
        ``segments`` and, per segment i, ``segment{i}.start/.stop/.key_bits`` (0-d int64),
        ``segment{i}.offsets`` and ``segment{i}.rows`` (uint32).
        """
        state = self._state
        out: State = {
            "kind": np.array(_KIND),
            "version": scalar(_STATE_VERSION),
            "bits": scalar(self.bits),
            "max_threshold": scalar(self.max_threshold),
            "chunks": scalar(self._layout.count),
            "offsets_bytes_per_row": scalar(float(self._offsets_bytes_per_row)),
            "key_bits": scalar(-1 if self._key_bits is None else self._key_bits),
            "tail_rows": scalar(self._tail_rows),
            "merge_fraction": scalar(self._merge_fraction),
            "scan_fraction": scalar(float(self._scan_fraction)),
            "segments": scalar(len(state.segments)),
            **rows_state(state.rows),
        }
        for i, segment in enumerate(state.segments):
            out[f"segment{i}.start"] = scalar(segment.start)
            out[f"segment{i}.stop"] = scalar(segment.stop)
            out[f"segment{i}.key_bits"] = scalar(segment.key_bits)
            out[f"segment{i}.offsets"] = segment.offsets
            out[f"segment{i}.rows"] = segment.rows
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, npt.NDArray[np.generic]]) -> BitIndex:
        """The index ``state()`` described, without re-bucketing; ValueError if inconsistent.

        Arrays are used as given (read-only or memory-mapped ones are fine: nothing writes
        into them), except the live bits, which are copied. Checks names, dtypes, shapes,
        segment bounds and the ends of every bucket table, not each bucket entry.
        """
        check_version(state, _KIND, _STATE_VERSION)
        key_bits = get_int(state, "key_bits")
        index = cls(
            get_int(state, "bits"),
            max_threshold=get_int(state, "max_threshold"),
            chunks=get_int(state, "chunks"),
            offsets_bytes_per_row=get_float(state, "offsets_bytes_per_row"),
            key_bits=None if key_bits == -1 else key_bits,
            tail_rows=get_int(state, "tail_rows"),
            merge_fraction=get_int(state, "merge_fraction"),
            scan_fraction=get_float(state, "scan_fraction"),
        )
        rows = rows_from_state(state, word_count(index.bits))
        chunks = index._layout.count
        segments: list[Segment] = []
        start = 0
        count = get_int(state, "segments")
        if not 0 <= count <= 2:
            raise ValueError(f"state has {count} segments; at most 2 are possible")
        for i in range(count):
            name = f"segment{i}"
            seg_start = get_int(state, f"{name}.start")
            stop = get_int(state, f"{name}.stop")
            seg_bits = get_int(state, f"{name}.key_bits")
            if seg_start != start or not seg_start < stop <= rows.count:
                raise ValueError(
                    f"{name} covers [{seg_start}, {stop}), expected to start at "
                    f"{start} and end by {rows.count}"
                )
            if not 1 <= seg_bits <= index._layout.max_key_bits:
                raise ValueError(f"{name}.key_bits {seg_bits} out of range")
            width = (1 << seg_bits) + 1
            offsets = get_array(state, f"{name}.offsets", np.uint32, (chunks * width,))
            row_ids = get_array(state, f"{name}.rows", np.uint32, (chunks * (stop - seg_start),))
            table = offsets.reshape(chunks, width)
            if (table[:, 0] != 0).any() or (table[:, -1] != stop - seg_start).any():
                raise ValueError(f"{name}.offsets tables do not span the segment")
            segments.append(Segment(seg_start, stop, seg_bits, offsets, row_ids))  # type: ignore[arg-type]
            start = stop
        if rows.count - start > index._tail_rows:
            raise ValueError("state's unbucketed tail is longer than tail_rows")
        index._state = _State(rows, tuple(segments))
        return index

    def search_arrays(
        self, query: bytes, threshold: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``search`` as (rows, distances) arrays, same order; no per-hit Python objects."""
        check_threshold(threshold, self.bits)
        words = query_to_words(query, self.bits)
        if not self.use_kernel:
            hits = self._search(words[None, :], threshold)[0]
            return _hit_arrays(hits)
        return _split(self._kernel_one(self._state, words, threshold))

    def search_many_arrays(
        self, queries: npt.NDArray[np.uint8] | Sequence[bytes], threshold: int
    ) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
        """``search_many`` as (rows, distances) arrays per query."""
        check_threshold(threshold, self.bits)
        words = queries_to_words(queries, self.bits)
        if not self.use_kernel:
            return [_hit_arrays(hits) for hits in self._search(words, threshold)]
        if len(words) == 1:
            # Starting the parallel batch kernel's threads costs more than one query's search.
            return [_split(self._kernel_one(self._state, words[0], threshold))]
        return [_split(keys) for keys in self._kernel_many(self._state, words, threshold)]

    def _search(self, queries: Words, threshold: int) -> list[list[Hit]]:
        state = self._state
        if self.use_kernel:
            if len(queries) == 1:
                return [_kernel_hits(self._kernel_one(state, queries[0], threshold))]
            return [_kernel_hits(keys) for keys in self._kernel_many(state, queries, threshold)]
        hits: list[list[Hit]] = []
        for q0 in range(0, len(queries), _QUERY_BATCH):
            batch = queries[q0 : q0 + _QUERY_BATCH]
            matches = self._matches(state, batch, threshold)
            hits.extend(to_hits(matches, len(batch), state.rows.is_live))
        return hits

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
        # The delta may use whatever budget main leaves, but no more than about two keys per
        # row: finer buckets save no candidates, and every fold rewrites the whole offsets
        # table (at 10M rows a 2**20-key table made each 4,096-row fold cost ~200 ms).
        key_bits = self._key_bits_for(budget - main.offsets.nbytes)
        if self._key_bits is None:
            key_bits = min(key_bits, max(1, (count - main.stop).bit_length() + 1))
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
