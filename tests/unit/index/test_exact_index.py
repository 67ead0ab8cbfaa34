"""ExactIndex answers exactly what a dict of digests to rows answers."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.index import ExactIndex, Hit


def digest(bits: int, seed: int) -> bytes:
    value = hashlib.sha256(seed.to_bytes(8, "big")).digest()
    if seed % 7 == 0:  # share the first 64-bit word with another digest: prefix collisions
        value = hashlib.sha256(b"x").digest()[:8] + value[8:]
    return value[: bits // 8]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([128, 256]), st.integers(1, 20), st.data())
def test_exact_index_equals_a_dict(bits: int, tail_rows: int, data: st.DataObject) -> None:
    index = ExactIndex(bits, tail_rows=tail_rows)
    rows_of: dict[bytes, list[int]] = {}
    live: list[bool] = []
    seeds = st.integers(0, 60)  # a small pool, so digests repeat across rows
    for _ in range(data.draw(st.integers(1, 10))):
        batch = [digest(bits, seed) for seed in data.draw(st.lists(seeds, max_size=30))]
        index.append(batch, first_row=len(live))
        for value in batch:
            rows_of.setdefault(value, []).append(len(live))
            live.append(True)
        if live:
            flips = data.draw(st.lists(st.integers(0, len(live) - 1), max_size=5))
            flag = data.draw(st.booleans())
            index.set_live(flips, flag)
            for row in flips:
                live[row] = flag
        queries = [digest(bits, seed) for seed in range(0, 70, 3)]
        expected = [[Hit(r, 0) for r in rows_of.get(q, []) if live[r]] for q in queries]
        assert index.search_many(queries, 0) == expected
        assert [index.search(q) for q in queries] == expected


def test_many_queries_take_the_sorted_tail_path() -> None:
    index = ExactIndex(128, tail_rows=1000)
    values = [digest(128, seed) for seed in range(500)]
    index.append(values, first_row=0)
    queries = [*values[::-1], digest(128, 10_000)]
    hits = index.search_many(queries)
    assert hits[:-1] == [[Hit(row, 0)] for row in range(499, -1, -1)]
    assert hits[-1] == []


def test_few_queries_compare_the_tail_directly() -> None:
    index = ExactIndex(256, tail_rows=1000)
    values = [digest(256, seed) for seed in range(50)]
    index.append(values, first_row=0)
    index.append(values[:5], first_row=50)
    assert len(index) == 55
    assert index.search_many([values[3], values[40]]) == [
        [Hit(3, 0), Hit(53, 0)],
        [Hit(40, 0)],
    ]
    assert index.search_many([]) == []


def test_exact_index_refusals() -> None:
    with pytest.raises(ValueError):
        ExactIndex(128, tail_rows=0)
    with pytest.raises(ValueError):
        ExactIndex(100)
    index = ExactIndex(128)
    index.append(np.zeros((2, 16), dtype=np.uint8), first_row=0)
    with pytest.raises(ValueError, match="threshold"):
        index.search(bytes(16), 1)
    with pytest.raises(ValueError):
        index.search(bytes(15))
    with pytest.raises(ValueError, match="first_row"):
        index.append([bytes(16)], first_row=1)
    with pytest.raises(ValueError):
        index.append([bytes(32)], first_row=2)
    with pytest.raises(ValueError):
        index.set_live([2], False)
    with pytest.raises(TypeError):
        index.append(["not bytes" * 2], first_row=2)  # type: ignore[list-item]
    assert index.search(bytes(16)) == [Hit(0, 0), Hit(1, 0)]
