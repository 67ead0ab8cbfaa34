"""The compiled kernel's edge cases: answers larger than its batch buffer, scans, thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from node.index import BitIndex, brute_force, kernel
from tests.unit.index.data import near

pytestmark = pytest.mark.skipif(not kernel.AVAILABLE, reason="numba is not installed")


def test_answers_larger_than_the_batch_buffer_are_complete() -> None:
    rng = np.random.default_rng(5)
    centre = rng.integers(0, 256, size=32, dtype=np.uint8)
    variants = b"".join(near(rng, centre, 256, int(rng.integers(0, 7))) for _ in range(700))
    crowd = np.concatenate(
        [
            np.frombuffer(variants, dtype=np.uint8).reshape(700, 32),
            rng.integers(0, 256, size=(300, 32), dtype=np.uint8),
        ]
    )
    index = BitIndex(256, max_threshold=31, tail_rows=64, scan_fraction=1e12)
    index.append(crowd, first_row=0)
    index.set_live([3, 4], False)
    live = np.ones(len(crowd), dtype=np.bool_)
    live[[3, 4]] = False
    queries = [bytes(centre), near(rng, centre, 256, 10), bytes(crowd[-1])]
    expected = [brute_force(crowd, live, q, 31) for q in queries]
    assert len(expected[0]) > kernel.BATCH_CAPACITY
    assert index.search_many(queries, 31) == expected
    assert [index.search(q, 31) for q in queries] == expected
    index.use_kernel = False
    assert index.search_many(queries, 31) == expected


@pytest.mark.parametrize("threshold", [0, 1, 12, 31, 32, 128, 256])
def test_kernel_equals_numpy_path(threshold: int) -> None:
    rng = np.random.default_rng(threshold)
    values = rng.integers(0, 256, size=(3000, 32), dtype=np.uint8)
    values[1000:1100] = values[0]
    index = BitIndex(256, max_threshold=31, tail_rows=100, merge_fraction=2)
    for start in range(0, 3000, 250):
        index.append(values[start : start + 250], first_row=start)
    queries = [near(rng, values[i], 256, int(rng.integers(0, 40))) for i in range(0, 3000, 97)]
    with_kernel = index.search_many(queries, threshold)
    index.use_kernel = False
    assert index.search_many(queries, threshold) == with_kernel
