"""The reference itself, checked against Python's own popcount."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.index import Hit, brute_force


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([64, 128, 256]),
    st.lists(st.binary(min_size=32, max_size=32), max_size=30),
    st.binary(min_size=32, max_size=32),
    st.integers(0, 256),
    st.randoms(use_true_random=False),
)
def test_brute_force_equals_python_popcount(
    bits: int, raw: list[bytes], query: bytes, threshold: int, random: object
) -> None:
    width = bits // 8
    values = [value[:width] for value in raw]
    threshold = min(threshold, bits)
    live = [random.random() < 0.8 for _ in values]  # type: ignore[attr-defined]
    expected = sorted(
        (
            Hit(row, (int.from_bytes(value) ^ int.from_bytes(query[:width])).bit_count())
            for row, value in enumerate(values)
            if live[row]
        ),
        key=lambda hit: (hit.distance, hit.row),
    )
    expected = [hit for hit in expected if hit.distance <= threshold]
    array = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), width)
    flags = np.array(live, dtype=np.bool_)
    assert brute_force(array, flags, query[:width], threshold) == expected
    assert brute_force(array.view(np.uint64), flags, query[:width], threshold) == expected


def test_brute_force_refuses_mismatched_inputs() -> None:
    values = np.zeros((3, 8), dtype=np.uint8)
    with pytest.raises(ValueError):
        brute_force(values, np.ones(2, dtype=np.bool_), bytes(8), 0)
    with pytest.raises(ValueError):
        brute_force(values, np.ones(3, dtype=np.bool_), bytes(7), 0)
    with pytest.raises(ValueError):
        brute_force(np.zeros((3, 3), dtype=np.uint8), np.ones(3, dtype=np.bool_), bytes(3), 0)
