"""Vectorised Hamming distances: full scans, candidate verification, and the brute-force reference.

Everything works column by column (one 64-bit word of every row at a time): XOR against a
scalar or a gathered column, ``bitwise_count``, add. That keeps numpy on its fast contiguous
inner loops; broadcasting a ``(w,)`` query over ``(n, w)`` rows is several times slower.
Work is cut into blocks so temporaries stay around a megabyte whatever n is.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from node.index.hit import Hit
from node.index.matches import Matches, to_hits
from node.index.words import Words, query_to_words, word_count

# Query-row pairs per scan block, and candidates per verification block.
SCAN_BLOCK = 1 << 16
VERIFY_BLOCK = 1 << 15

Distances = npt.NDArray[np.uint16]


def check_threshold(threshold: int, bits: int) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | np.integer):
        raise TypeError("threshold must be an int")
    if not 0 <= threshold <= bits:
        raise ValueError(f"threshold must be in [0, {bits}], got {threshold}")


def scan(words: Words, lo: int, hi: int, queries: Words, threshold: int) -> Matches:
    """Every (query, row) in ``queries x [lo, hi)`` with distance <= threshold."""
    if hi <= lo or not len(queries):
        return Matches.concat([])
    rows_per_block = min(hi - lo, SCAN_BLOCK)
    queries_per_block = max(1, SCAN_BLOCK // rows_per_block)
    parts: list[Matches] = []
    for q0 in range(0, len(queries), queries_per_block):
        block_queries = queries[q0 : q0 + queries_per_block]
        for r0 in range(lo, hi, rows_per_block):
            block = words[r0 : min(hi, r0 + rows_per_block)]
            distances = np.bitwise_count(np.bitwise_xor.outer(block_queries[:, 0], block[:, 0]))
            distances = distances.astype(np.uint16)
            for j in range(1, words.shape[1]):
                distances += np.bitwise_count(
                    np.bitwise_xor.outer(block_queries[:, j], block[:, j])
                )
            query_ids, row_ids = np.nonzero(distances <= threshold)
            parts.append(
                Matches(
                    query_ids + q0,
                    row_ids + r0,
                    distances[query_ids, row_ids].astype(np.int64),
                )
            )
    return Matches.concat(parts)


def verify(
    words: Words,
    rows: npt.NDArray[np.integer],
    queries: Words,
    query_ids: npt.NDArray[np.int64] | None,
    threshold: int,
) -> Matches:
    """Candidates ``rows[i]`` (for query ``query_ids[i]``, or query 0 if None) within threshold.

    Candidates are overwhelmingly far from the query, so the first half of the words already
    exceeds the threshold for nearly all of them; the other words are read only for survivors.
    """
    parts: list[Matches] = []
    half = max(1, words.shape[1] // 2)
    for c0 in range(0, len(rows), VERIFY_BLOCK):
        block_rows = rows[c0 : c0 + VERIFY_BLOCK]
        block = np.take(words, block_rows, axis=0)
        ids = None if query_ids is None else query_ids[c0 : c0 + VERIFY_BLOCK]
        block_queries = queries[0] if ids is None else np.take(queries, ids, axis=0)
        distances = _distances(block[:, :half], block_queries[..., :half])
        near = np.flatnonzero(distances <= threshold)
        if half < words.shape[1]:
            rest = block_queries if ids is None else block_queries[near]
            distances = distances[near] + _distances(block[near, half:], rest[..., half:])
            near = near[distances <= threshold]
            distances = distances[distances <= threshold]
        else:
            distances = distances[near]
        parts.append(
            Matches(
                np.zeros(len(near), dtype=np.int64) if ids is None else ids[near],
                block_rows[near].astype(np.int64),
                distances.astype(np.int64),
            )
        )
    return Matches.concat(parts)


def _distances(block: Words, queries: Words) -> Distances:
    """Popcount of ``block ^ queries`` per row, a column at a time (``queries``: (w,) or (n, w))."""
    distances = np.zeros(len(block), dtype=np.uint16)
    for j in range(block.shape[1]):
        distances += np.bitwise_count(block[:, j] ^ queries[..., j])
    return distances


def brute_force(
    values: npt.NDArray[np.uint8] | Words,
    live: npt.NDArray[np.bool_],
    query: bytes,
    threshold: int,
) -> list[Hit]:
    """Live rows of ``values`` within ``threshold`` of ``query``, sorted by (distance, row).

    ``values`` is ``(n, bytes)`` uint8 or ``(n, words)`` uint64; ``live`` is ``(n,)`` bool.
    """
    if values.ndim != 2 or values.dtype not in (np.uint8, np.uint64):
        raise ValueError("values must be a 2-D uint8 or uint64 array")
    bits = values.shape[1] * values.dtype.itemsize * 8
    word_count(bits)
    words = np.ascontiguousarray(values).view(np.uint64)
    flags = np.asarray(live, dtype=np.bool_)
    if flags.shape != (len(words),):
        raise ValueError(f"live must have shape ({len(words)},)")
    check_threshold(threshold, bits)
    matches = scan(words, 0, len(words), query_to_words(query, bits)[None, :], threshold)
    return to_hits(matches, 1, lambda rows: flags[rows])[0]
