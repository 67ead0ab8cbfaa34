"""Multi-index hashing buckets: per chunk of the hash, row ids grouped by key (CSR layout).

A hash split into ``m`` chunks that is within distance T of a query has, by pigeonhole, a chunk
within ``T // m`` bits of the query's chunk. So a search probes, in every chunk, the buckets of
all keys within that radius and verifies the union of their rows with a full popcount.

A ``Segment`` indexes the contiguous row range ``[start, stop)``. For chunk j it holds the
segment's row ids sorted by (key, row), and the CSR bucket bounds: rows with key ``v`` are
``rows[offsets[v]:offsets[v + 1]]``. The m chunks' arrays are laid end to end in one flat
array each, so all of a query's probes are resolved by one fancy index, not one per chunk.

A key is the top ``key_bits`` bits of its chunk. Fewer bits mean a smaller offsets table (it
dominates the memory of small segments) and more candidates; the answer stays exact either
way, because a key is a subset of the chunk's bits and so never further from the query's key
than the whole chunk is.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.index.splice import spliced
from node.index.words import WORD_BITS, Words

Keys = npt.NDArray[np.uint32]
MAX_CHUNK_BITS = 32
# A plan with more probes than this is worse than a scan at any realistic size.
_MAX_PROBES = 1 << 20


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """How a hash of ``bits`` bits splits into chunks: equal groups per 64-bit word."""

    words: npt.NDArray[np.intp]  # (m,) word holding each chunk
    tops: npt.NDArray[np.uint64]  # (m,) bit position just above each chunk in its word
    max_key_bits: int  # the narrowest chunk's width

    @classmethod
    def split(cls, word_count: int, chunks: int) -> ChunkLayout:
        per_word, rest = divmod(chunks, word_count)
        if rest or per_word < 1 or WORD_BITS // per_word > MAX_CHUNK_BITS:
            raise ValueError(
                f"chunks must be a multiple of {word_count} with at most "
                f"{MAX_CHUNK_BITS} bits each, got {chunks}"
            )
        narrow, wide = divmod(WORD_BITS, per_word)
        widths = [narrow] * (per_word - wide) + [narrow + 1] * wide
        tops = np.cumsum(widths).astype(np.uint64)
        return cls(
            words=np.repeat(np.arange(word_count, dtype=np.intp), per_word),
            tops=np.tile(tops, word_count),
            max_key_bits=narrow,
        )

    @property
    def count(self) -> int:
        return len(self.words)

    def keys(self, words: Words, key_bits: int) -> Keys:
        """``(n, m)`` keys of ``(n, w)`` words."""
        shifted = words[:, self.words] >> (self.tops - np.uint64(key_bits))
        return (shifted & np.uint64((1 << key_bits) - 1)).astype(np.uint32)

    def column(self, words: Words, chunk: int, key_bits: int) -> Keys:
        """Keys of one chunk: an n-row temporary instead of n * m."""
        shift = self.tops[chunk] - np.uint64(key_bits)
        shifted: Words = np.right_shift(words[:, self.words[chunk]], shift)
        return (shifted & np.uint64((1 << key_bits) - 1)).astype(np.uint32)


@dataclass(frozen=True, slots=True)
class Segment:
    start: int
    stop: int
    key_bits: int
    offsets: npt.NDArray[np.uint32]  # (m * (2**key_bits + 1),)
    rows: npt.NDArray[np.uint32]  # (m * size,)

    @property
    def size(self) -> int:
        return self.stop - self.start

    def memory_bytes(self) -> int:
        return sys.getsizeof(self.offsets) + sys.getsizeof(self.rows) + sys.getsizeof(self)


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """Which (chunk, key XOR mask) pairs a query at one threshold must probe."""

    chunks: npt.NDArray[np.intp]
    masks: npt.NDArray[np.uint32]
    table_base: npt.NDArray[np.intp]  # chunk * (2**key_bits + 1): where its offsets start
    radii: npt.NDArray[np.int64]  # (m,) probe radius of each chunk (-1: not probed)


def _sorted_by_key(keys: Keys, first_row: int) -> tuple[Keys, npt.NDArray[np.uint32]]:
    """Keys ascending and their row ids, rows ascending within a key.

    Sorting (key << 32 | row) as one uint64 gives that order with numpy's SIMD sort, several
    times faster than a stable argsort of 32-bit keys.
    """
    packed = keys.astype(np.uint64) << np.uint64(32)
    packed |= np.arange(first_row, first_row + len(keys), dtype=np.uint64)
    packed.sort()
    return (packed >> np.uint64(32)).astype(np.uint32), packed.astype(np.uint32)


def build(layout: ChunkLayout, words: Words, start: int, stop: int, key_bits: int) -> Segment:
    """Buckets for rows ``[start, stop)`` of ``words`` from scratch."""
    size = stop - start
    width = (1 << key_bits) + 1
    offsets = np.zeros(layout.count * width, dtype=np.uint32)
    rows = np.empty(layout.count * size, dtype=np.uint32)
    block = words[start:stop]
    for j in range(layout.count):
        keys = layout.column(block, j, key_bits)
        _, rows[j * size : (j + 1) * size] = _sorted_by_key(keys, start)
        counts = np.bincount(keys, minlength=1 << key_bits)
        offsets[j * width + 1 : (j + 1) * width] = np.cumsum(counts)
    return Segment(start, stop, key_bits, offsets, rows)


def extend(
    layout: ChunkLayout, segment: Segment, words: Words, stop: int, key_bits: int
) -> Segment:
    """``segment`` grown to cover rows up to ``stop``.

    With an unchanged key width the new rows are slotted in at the end of their buckets (each
    new row id is larger than every old one, so (key, row) order holds): one O(size) pass per
    chunk and no sort of the old rows. A different key width needs every key again: rebuild.
    """
    if key_bits != segment.key_bits:
        return build(layout, words, segment.start, stop, key_bits)
    old_size, added = segment.size, stop - segment.stop
    size = old_size + added
    width = (1 << key_bits) + 1
    offsets = np.empty_like(segment.offsets)
    rows = np.empty(layout.count * size, dtype=np.uint32)
    block = words[segment.stop : stop]
    for j in range(layout.count):
        keys = layout.column(block, j, key_bits)
        sorted_keys, new_rows = _sorted_by_key(keys, segment.stop)
        old_offsets = segment.offsets[j * width : (j + 1) * width]
        # Each new row goes after every old row of a key <= its own.
        at = old_offsets[sorted_keys.astype(np.intp) + 1]
        old_rows = segment.rows[j * old_size : (j + 1) * old_size]
        spliced(old_rows, at, new_rows, out=rows[j * size : (j + 1) * size])
        new_offsets = offsets[j * width : (j + 1) * width]
        new_offsets[0] = 0
        new_offsets[1:] = np.cumsum(np.bincount(keys, minlength=1 << key_bits))
        new_offsets += old_offsets
    return Segment(segment.start, stop, key_bits, offsets, rows)


def _masks(key_bits: int, radius: int) -> list[int]:
    """Every ``key_bits``-bit value with at most ``radius`` bits set."""
    return [
        sum(1 << bit for bit in bits)
        for weight in range(min(radius, key_bits) + 1)
        for bits in itertools.combinations(range(key_bits), weight)
    ]


def _probe_count(chunks: int, key_bits: int, threshold: int) -> int:
    radius, extra = divmod(threshold, chunks)
    within = [sum(math.comb(key_bits, i) for i in range(r + 1)) for r in (radius, radius - 1)]
    return (extra + 1) * within[0] + (chunks - extra - 1) * within[1]


@functools.lru_cache(maxsize=256)
def probe_plan(chunks: int, key_bits: int, threshold: int) -> ProbePlan | None:
    """Probes that find every row within ``threshold`` of a query; None if too many to pay.

    Refined pigeonhole: with ``threshold = chunks * r + a`` (a < chunks), a row within the
    threshold has one of the first ``a + 1`` chunks within r, or one of the others within
    ``r - 1``; otherwise its distance would be at least (a+1)(r+1) + (chunks-a-1) r > threshold.
    """
    if _probe_count(chunks, key_bits, threshold) > _MAX_PROBES:
        return None
    radius, extra = divmod(threshold, chunks)
    chunk_ids: list[int] = []
    masks: list[int] = []
    for chunk in range(chunks):
        chunk_masks = _masks(key_bits, radius if chunk <= extra else radius - 1)
        masks.extend(chunk_masks)
        chunk_ids.extend([chunk] * len(chunk_masks))
    chunk_array = np.array(chunk_ids, dtype=np.intp)
    plan = ProbePlan(
        chunks=chunk_array,
        masks=np.array(masks, dtype=np.uint32),
        table_base=chunk_array * ((1 << key_bits) + 1),
        radii=np.array(
            [radius if chunk <= extra else radius - 1 for chunk in range(chunks)], dtype=np.int64
        ),
    )
    for array in (plan.chunks, plan.masks, plan.table_base, plan.radii):
        array.setflags(write=False)
    return plan


def bucket_bounds(
    segment: Segment, plan: ProbePlan, keys: Keys
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start (into ``segment.rows``) and length of every probed bucket: two ``(q, probes)``.

    ``keys`` is ``(q, m)`` from ``ChunkLayout.keys`` at the segment's key width.
    """
    slots = plan.table_base + (keys[:, plan.chunks] ^ plan.masks)
    starts = segment.offsets[slots].astype(np.int64)
    lengths = segment.offsets[slots + 1].astype(np.int64) - starts
    starts += plan.chunks * segment.size
    return starts, lengths


def gather_rows(
    segment: Segment, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint32]:
    """Concatenated row ids of the buckets ``[starts, starts + lengths)``, in order."""
    flat_lengths = lengths.reshape(-1)
    ends = np.cumsum(flat_lengths)
    total = int(ends[-1]) if len(ends) else 0
    # Position i of bucket b is starts[b] + (i - first output index of b): one repeat + arange.
    shifts = np.repeat(starts.reshape(-1) - (ends - flat_lengths), flat_lengths)
    shifts += np.arange(total)
    return np.take(segment.rows, shifts)
