"""Compiled search kernel (numba): one query's probes, verification and tail scan in one call.

The numpy path in ``bit_index`` makes a dozen array calls per query and materialises every
candidate row id before verifying it; at 10M rows most of a query's time went into those
temporaries and call overheads. Here each probed bucket is read once, each candidate is checked
in place (four XOR + popcount), and only live rows within the threshold are written out, as
``distance << 32 | row`` sorted ascending, i.e. in (distance, row) order.

A row stored under several chunks can be found by several probes. Rather than collecting and
de-duplicating candidates, a row that passes the threshold through chunk c is kept only if no
earlier chunk c' < c would have found it (its key there is further than c''s probe radius from
the query's), so each hit is emitted exactly once.

``AVAILABLE`` is False when numba is not importable; ``BitIndex`` then uses its numpy path,
which answers identically.
"""

# numba's decorators, intrinsics and llvmlite builders are untyped; the typed interface is
# ``AVAILABLE``, ``search`` and ``search_batch``, called from ``bit_index`` with numpy arrays.
# mypy: ignore-errors

from __future__ import annotations

from typing import Any

import numpy as np

try:
    import numba
    from llvmlite import ir
    from numba.core import cgutils
    from numba.core import types as nb_types
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only without numba
    AVAILABLE = False
else:
    AVAILABLE = True

# Candidates (and buckets) prefetched ahead of the one being verified (gathered).
_AHEAD = 16
# Hits kept per query in a batched call; queries with more are run again with room for all.
BATCH_CAPACITY = 256
_ROW_MASK = np.uint64(0xFFFFFFFF)

if AVAILABLE:

    @intrinsic
    def _popcount(typingctx: Any, value: Any) -> Any:
        signature = nb_types.uint64(nb_types.uint64)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            return builder.ctpop(args[0])

        return signature, codegen

    @intrinsic
    def _prefetch(typingctx: Any, array: Any, index: Any) -> Any:
        """Hint that ``array[index]`` (1-D) will be read soon; no effect on results."""
        signature = nb_types.void(array, index)

        def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
            array_type = sig.args[0]
            view = context.make_array(array_type)(context, builder, args[0])
            pointer = cgutils.get_item_pointer(
                context, builder, array_type, view, [args[1]], wraparound=False
            )
            byte_pointer = ir.IntType(8).as_pointer()
            int32 = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(ir.VoidType(), [byte_pointer, int32, int32, int32]),
                "llvm.prefetch.p0",
            )
            # read, high locality, data cache
            arguments = [
                builder.bitcast(pointer, byte_pointer),
                *(ir.Constant(int32, v) for v in (0, 3, 1)),
            ]
            builder.call(function, arguments)
            return context.get_dummy_value()

        return signature, codegen

    @numba.njit(cache=True, nogil=True, inline="always")
    def _distance(words: Any, row: Any, query: Any) -> Any:
        total = 0
        for j in range(words.shape[1]):
            total += _popcount(words[row, j] ^ query[j])
        return total

    @numba.njit(cache=True, nogil=True, inline="always")
    def _is_live(live: Any, row: Any) -> Any:
        return (live[row >> 3] >> (row & 7)) & 1

    @numba.njit(cache=True, nogil=True)
    def _scan(words, live, lo, hi, query, threshold, out, found):
        capacity = out.shape[0]
        for row in range(lo, hi):
            distance = _distance(words, row, query)
            if distance <= threshold and _is_live(live, row):
                if found < capacity:
                    out[found] = (np.uint64(distance) << np.uint64(32)) | np.uint64(row)
                found += 1
        return found

    @numba.njit(cache=True, nogil=True)
    def _probe(
        words,
        live,
        start,
        stop,
        key_bits,
        limit,
        offsets,
        rows,
        plan_chunks,
        plan_masks,
        radii,
        chunk_words,
        chunk_tops,
        query,
        threshold,
        out,
        found,
    ):
        """Hits of ``query`` among rows [start, stop) through this segment's buckets."""
        size = stop - start
        chunks = chunk_words.shape[0]
        width = (1 << key_bits) + 1
        key_mask = np.uint64((1 << key_bits) - 1)
        shifts = np.empty(chunks, dtype=np.uint64)
        keys = np.empty(chunks, dtype=np.int64)
        for c in range(chunks):
            shifts[c] = chunk_tops[c] - np.uint64(key_bits)
            keys[c] = np.int64((query[chunk_words[c]] >> shifts[c]) & key_mask)
        probes = plan_chunks.shape[0]
        flat = words.reshape(-1)
        width_words = words.shape[1]
        starts = np.empty(probes, dtype=np.int64)
        ends = np.empty(probes, dtype=np.int64)
        for p in range(probes):
            c = plan_chunks[p]
            starts[p] = c * width + (keys[c] ^ np.int64(plan_masks[p]))
            _prefetch(offsets, starts[p])
        total = 0
        for p in range(probes):
            c = plan_chunks[p]
            slot = starts[p]
            starts[p] = np.int64(offsets[slot]) + c * size
            ends[p] = np.int64(offsets[slot + 1]) + c * size
            total += ends[p] - starts[p]
        if total > limit:
            # Reading the segment in order beats gathering this many rows at random.
            return _scan(words, live, start, stop, query, threshold, out, found)
        # Gather every candidate first, then verify them in one flat loop: its branch is
        # predictable (nearly every candidate is far), so the CPU overlaps many row loads;
        # verifying bucket by bucket stalled on a mispredicted short loop per bucket.
        candidates = np.empty(total, dtype=np.uint32)
        owners = np.empty(total, dtype=np.uint8)
        k = 0
        for p in range(min(_AHEAD, probes)):
            _prefetch(rows, starts[p])
        for p in range(probes):
            c = plan_chunks[p]
            if p + _AHEAD < probes:
                _prefetch(rows, starts[p + _AHEAD])
            for i in range(starts[p], ends[p]):
                candidates[k] = rows[i]
                owners[k] = c
                k += 1
        capacity = out.shape[0]
        for k in range(min(_AHEAD, total)):
            _prefetch(flat, np.int64(candidates[k]) * width_words)
        for k in range(total):
            if k + _AHEAD < total:
                _prefetch(flat, np.int64(candidates[k + _AHEAD]) * width_words)
            row = np.int64(candidates[k])
            distance = _distance(words, row, query)
            if distance > threshold:
                continue
            duplicate = False
            for earlier in range(owners[k]):
                key = np.int64((words[row, chunk_words[earlier]] >> shifts[earlier]) & key_mask)
                if _popcount(np.uint64(key ^ keys[earlier])) <= radii[earlier]:
                    duplicate = True
                    break
            if duplicate or not _is_live(live, row):
                continue
            if found < capacity:
                out[found] = (np.uint64(distance) << np.uint64(32)) | np.uint64(row)
            found += 1
        return found

    @numba.njit(cache=True, nogil=True)
    def _search(
        words,
        live,
        count,
        tail_start,
        query,
        threshold,
        segment_count,
        bounds,
        offsets0,
        rows0,
        chunks0,
        masks0,
        radii0,
        offsets1,
        rows1,
        chunks1,
        masks1,
        radii1,
        chunk_words,
        chunk_tops,
        out,
    ):
        """All hits of one query: bucketed segments, then the tail; returns the hit count.

        ``bounds[s]`` is (start, stop, key_bits, limit) of segment s; limit < 0 means scan it.
        Hits beyond ``len(out)`` are counted, not written (the caller retries with more room).
        """
        found = 0
        for s in range(segment_count):
            start, stop, key_bits, limit = bounds[s, 0], bounds[s, 1], bounds[s, 2], bounds[s, 3]
            if limit < 0:
                found = _scan(words, live, start, stop, query, threshold, out, found)
            elif s == 0:
                found = _probe(
                    words, live, start, stop, key_bits, limit, offsets0, rows0, chunks0,
                    masks0, radii0, chunk_words, chunk_tops, query, threshold, out, found,
                )  # fmt: skip
            else:
                found = _probe(
                    words, live, start, stop, key_bits, limit, offsets1, rows1, chunks1,
                    masks1, radii1, chunk_words, chunk_tops, query, threshold, out, found,
                )  # fmt: skip
        found = _scan(words, live, tail_start, count, query, threshold, out, found)
        if found <= out.shape[0]:
            out[:found].sort()
        return found

    @numba.njit(cache=True, nogil=True, parallel=True)
    def _search_batch(
        words,
        live,
        count,
        tail_start,
        queries,
        threshold,
        segment_count,
        bounds,
        offsets0,
        rows0,
        chunks0,
        masks0,
        radii0,
        offsets1,
        rows1,
        chunks1,
        masks1,
        radii1,
        chunk_words,
        chunk_tops,
        out,
        found,
    ):
        """``_search`` for every query, across threads: ``out[q]`` and ``found[q]``."""
        for q in numba.prange(queries.shape[0]):
            found[q] = _search(
                words, live, count, tail_start, queries[q], threshold, segment_count, bounds,
                offsets0, rows0, chunks0, masks0, radii0, offsets1, rows1, chunks1, masks1,
                radii1, chunk_words, chunk_tops, out[q],
            )  # fmt: skip

    search: Any = _search
    search_batch: Any = _search_batch
