"""Memory: at most 100 bytes per PDQ hash, counted honestly."""

from __future__ import annotations

import numpy as np
import pytest

from node.index import BitIndex, ExactIndex
from tests.unit.index.data import held_array_bytes

ROWS = 200_000


@pytest.fixture(scope="module")
def pdq_values() -> np.ndarray:
    return np.random.default_rng(7).integers(0, 256, size=(ROWS, 32), dtype=np.uint8)


def test_pdq_index_built_in_one_append_stays_within_100_bytes_per_hash(
    pdq_values: np.ndarray,
) -> None:
    index = BitIndex(256, max_threshold=31)
    index.append(pdq_values, first_row=0)
    assert index.memory_bytes() / ROWS <= 100
    assert index.memory_bytes() >= held_array_bytes(index)


def test_pdq_index_grown_by_small_appends_stays_within_100_bytes_per_hash(
    pdq_values: np.ndarray,
) -> None:
    # Small appends leave spare capacity, a delta segment and an unbucketed tail: all counted,
    # and the bound holds at every step near the target size, not just where it ends.
    index = BitIndex(256, max_threshold=31)
    worst, shapes = 0.0, set()
    for start in range(0, ROWS, 777):
        index.append(pdq_values[start : start + 777], first_row=start)
        if len(index) >= 150_000:
            worst = max(worst, index.memory_bytes() / len(index))
            shapes.add(len(index._state.segments))
        if start % (777 * 40) == 0:
            assert index.memory_bytes() >= held_array_bytes(index)
    index.set_live(np.arange(0, ROWS, 20), False)
    assert worst <= 100
    assert shapes == {1, 2}  # measured both with and without a delta segment
    assert index.memory_bytes() >= held_array_bytes(index)


def test_exact_index_counts_what_it_holds(pdq_values: np.ndarray) -> None:
    index = ExactIndex(256)
    for start in range(0, 50_000, 5000):
        index.append(pdq_values[start : start + 5000], first_row=start)
    assert index.memory_bytes() >= held_array_bytes(index)
    assert index.memory_bytes() / 50_000 <= 32 + 8 + 4 + 4
