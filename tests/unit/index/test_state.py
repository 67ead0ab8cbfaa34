"""state() / from_state(): exact round trips, and refusal of inconsistent states."""

from __future__ import annotations

import numpy as np
import pytest

from node.index import BitIndex, ExactIndex, brute_force
from tests.unit.index.data import clustered


def _bit_index(rows: int) -> tuple[BitIndex, np.ndarray]:
    rng = np.random.default_rng(7)
    centres = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    values = clustered(rng, rows, 256, centres)
    index = BitIndex(256, max_threshold=31, tail_rows=16, merge_fraction=2)
    for start in range(0, rows, 37):
        index.append(values[start : start + 37], first_row=start)
    index.set_live([1, 5, 9], False)
    return index, values


def test_bit_index_round_trip_answers_identically_and_keeps_working() -> None:
    index, values = _bit_index(300)
    state = index.state()
    assert state["version"].shape == () and int(state["version"]) == 1
    for array in state.values():
        array.setflags(write=False)
    copy = BitIndex.from_state(state)
    live = np.ones(len(values), dtype=np.bool_)
    live[[1, 5, 9]] = False
    queries = [bytes(v) for v in values[::17]]
    assert copy.search_many(queries, 31) == index.search_many(queries, 31)
    # The copy accepts appends and retractions without touching the (read-only) state.
    rng = np.random.default_rng(8)
    more = rng.integers(0, 256, size=(50, 32), dtype=np.uint8)
    copy.append(more, first_row=len(values))
    copy.set_live([2, 320], False)
    values = np.concatenate([values, more])
    live = np.concatenate([live, np.ones(50, dtype=np.bool_)])
    live[[2, 320]] = False
    for query in [bytes(v) for v in values[::23]]:
        assert copy.search(query, 31) == brute_force(values, live, query, 31)
    assert index.search(bytes(values[2]), 0) != []  # the original is unaffected


def test_exact_index_round_trip() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    index = ExactIndex(256, tail_rows=8)
    for start in range(0, 500, 50):
        index.append(values[start : start + 50], first_row=start)
    index.set_live([4], False)
    copy = ExactIndex.from_state(index.state())
    queries = [bytes(v) for v in values[:20]]
    assert copy.search_many(queries) == index.search_many(queries)
    copy.append(values[:3], first_row=500)
    assert [hit.row for hit in copy.search(bytes(values[0]))] == [0, 500]


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.pop("segment0.rows"),
        lambda s: s.__setitem__("version", np.array(99)),
        lambda s: s.__setitem__("kind", np.array("exact_index")),
        lambda s: s.__setitem__("words", s["words"][:-1]),
        lambda s: s.__setitem__("live", s["live"].astype(np.int64)),
        lambda s: s.__setitem__("segment0.offsets", s["segment0.offsets"][:-1]),
        lambda s: s.__setitem__("segment0.stop", np.array(int(s["segment0.stop"]) + 1)),
        lambda s: s.__setitem__("segments", np.array(3)),
        lambda s: s.__setitem__("chunks", np.array(5)),
        lambda s: s.__setitem__("count", np.array(1.5)),
    ],
)
def test_bit_index_refuses_inconsistent_state(damage: object) -> None:
    index, _ = _bit_index(300)
    state = dict(index.state())
    damage(state)  # type: ignore[operator]
    with pytest.raises(ValueError):
        BitIndex.from_state(state)


def test_exact_index_refuses_inconsistent_state() -> None:
    index = ExactIndex(256, tail_rows=1)
    index.append(np.zeros((10, 32), dtype=np.uint8), first_row=0)
    state = index.state()
    assert len(state["sorted_keys"]) == 10
    with pytest.raises(ValueError):
        ExactIndex.from_state({**state, "sorted_keys": state["sorted_keys"][:-1]})
    with pytest.raises(ValueError):
        ExactIndex.from_state({**state, "bits": np.array(100)})
