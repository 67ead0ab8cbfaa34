"""BitIndex behaviour beyond the property test: live flags, refusals, defaults at scale."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from node.index import BitIndex, Hit, brute_force, buckets
from tests.support.paths import ROOT
from tests.unit.index.data import clustered, near


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def filled(rng: np.random.Generator, count: int, **options: float) -> tuple[BitIndex, np.ndarray]:
    centres = rng.integers(0, 256, size=(8, 32), dtype=np.uint8)
    values = clustered(rng, count, 256, centres, spread=24)
    index = BitIndex(256, max_threshold=31, **options)  # type: ignore[arg-type]
    for start in range(0, count, 997):  # odd batches: merges land mid-batch
        index.append(values[start : start + 997], first_row=start)
    return index, values


def test_default_index_at_scale_equals_brute_force(rng: np.random.Generator) -> None:
    index, values = filled(rng, 40_000)
    live = np.ones(len(values), dtype=np.bool_)
    retracted = rng.integers(0, len(values), size=2000)
    index.set_live(retracted, False)
    live[retracted] = False
    queries = [near(rng, values[r], 256, int(rng.integers(0, 24))) for r in range(0, 40_000, 400)]
    for threshold in (0, 16, 31, 32, 90):
        expected = [brute_force(values, live, q, threshold) for q in queries]
        assert index.search_many(queries, threshold) == expected
        assert [index.search(q, threshold) for q in queries[:20]] == expected[:20]
    assert any(len(hits) > 1 for hits in expected)  # the data really produced matches


def test_retracted_rows_never_match_and_restoring_brings_them_back(
    rng: np.random.Generator,
) -> None:
    index, values = filled(rng, 5000, tail_rows=64)
    query = bytes(values[123])
    before = index.search(query, 31)
    assert Hit(123, 0) in before
    matched = [hit.row for hit in before]
    index.set_live(matched, False)
    assert index.search(query, 31) == []
    assert index.search(query, 256) == index.search_many([query], 256)[0]
    assert not {hit.row for hit in index.search(query, 256)} & set(matched)
    index.set_live(np.array(matched), True)
    assert index.search(query, 31) == before


def test_live_flags_survive_merges(rng: np.random.Generator) -> None:
    index = BitIndex(256, max_threshold=31, tail_rows=4, merge_fraction=1)
    value = rng.integers(0, 256, size=(1, 32), dtype=np.uint8)
    index.append(value, first_row=0)
    index.set_live([0], False)
    for row in range(1, 200):
        index.append(rng.integers(0, 256, size=(1, 32), dtype=np.uint8), first_row=row)
    assert index.search(bytes(value[0]), 0) == []


def test_threshold_beyond_any_probe_plan_is_still_exact(rng: np.random.Generator) -> None:
    # max_threshold = bits forces the bucket path at every threshold, even hopeless ones.
    values = rng.integers(0, 256, size=(300, 32), dtype=np.uint8)
    index = BitIndex(256, max_threshold=256, tail_rows=8, scan_fraction=1e12)
    index.append(values, first_row=0)
    live = np.ones(300, dtype=np.bool_)
    for threshold in (40, 120, 256):
        assert index.search(bytes(values[0]), threshold) == brute_force(
            values, live, bytes(values[0]), threshold
        )


def test_hopeless_probe_plans_are_refused_so_the_index_scans() -> None:
    assert buckets.probe_plan(12, 21, 200) is None
    plan = buckets.probe_plan(12, 21, 31)
    assert plan is not None and len(plan.masks) == 8 * (1 + 21 + 210) + 4 * (1 + 21)


def test_empty_index_and_empty_batches() -> None:
    index = BitIndex(64, max_threshold=10)
    assert len(index) == 0
    assert index.search(bytes(8), 64) == []
    assert index.search_many([], 10) == []
    index.append([], first_row=0)
    index.set_live([], False)
    assert len(index) == 0


@pytest.mark.parametrize("first_row", [-1, 1, 5])
def test_append_with_wrong_first_row_raises(first_row: int) -> None:
    index = BitIndex(64, max_threshold=10)
    with pytest.raises(ValueError, match="first_row"):
        index.append([bytes(8)], first_row=first_row)
    index.append([bytes(8)], first_row=0)
    with pytest.raises(ValueError, match="first_row"):
        index.append([bytes(8)], first_row=0)
    assert len(index) == 1


@pytest.mark.parametrize(
    "values",
    [
        [bytes(7)],
        [bytes(8), bytes(9)],
        np.zeros((2, 9), dtype=np.uint8),
        np.zeros((2, 8), dtype=np.int8),
        np.zeros(8, dtype=np.uint8),
    ],
)
def test_values_of_the_wrong_length_or_type_raise(values: object) -> None:
    index = BitIndex(64, max_threshold=10)
    with pytest.raises(ValueError):
        index.append(values, first_row=0)  # type: ignore[arg-type]
    assert len(index) == 0


def test_bad_queries_rows_and_thresholds_raise() -> None:
    index = BitIndex(64, max_threshold=10)
    index.append([bytes(8)] * 3, first_row=0)
    with pytest.raises(ValueError):
        index.search(bytes(7), 3)
    with pytest.raises(ValueError):
        index.search_many([bytes(8), bytes(9)], 3)
    for threshold in (-1, 65):
        with pytest.raises(ValueError):
            index.search(bytes(8), threshold)
    with pytest.raises(TypeError):
        index.search(bytes(8), 3.0)  # type: ignore[arg-type]
    for rows in ([3], [-1], np.array([True, False, True]), [0.5]):
        with pytest.raises(ValueError):
            index.set_live(rows, False)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"bits": 100, "max_threshold": 10},
        {"bits": 64, "max_threshold": 65},
        {"bits": 256, "max_threshold": 31, "chunks": 5},
        {"bits": 256, "max_threshold": 31, "chunks": 4},
        {"bits": 256, "max_threshold": 31, "chunks": 12, "key_bits": 22},
        {"bits": 64, "max_threshold": 10, "tail_rows": 0},
        {"bits": 64, "max_threshold": 10, "scan_fraction": 0},
    ],
)
def test_bad_configuration_raises(options: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        BitIndex(**options)


def test_searches_see_a_consistent_prefix_while_one_writer_appends(
    rng: np.random.Generator,
) -> None:
    centres = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    values = clustered(rng, 6000, 256, centres, spread=20)
    index = BitIndex(256, max_threshold=31, tail_rows=50, merge_fraction=2)
    boundaries = list(range(0, 6001, 100))
    query = bytes(centres[0])
    seen: list[list[Hit]] = []

    def read() -> None:
        while len(index) < len(values):
            seen.append(index.search(query, 31))

    reader = threading.Thread(target=read)
    reader.start()
    for start in boundaries[:-1]:
        index.append(values[start : start + 100], first_row=start)
    reader.join()
    live = np.ones(len(values), dtype=np.bool_)
    prefixes = {n: brute_force(values[:n], live[:n], query, 31) for n in boundaries}
    assert all(hits in prefixes.values() for hits in seen)


def test_importing_index_loads_no_grpc_sqlite_or_hashing() -> None:
    probe = (
        "import sys, node.index; print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('grpc', 'sqlite3') or m.startswith('node.hashing')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
