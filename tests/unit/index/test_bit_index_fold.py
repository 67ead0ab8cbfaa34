"""Folding on another thread: appends, live flags and searches meanwhile stay exact."""

from __future__ import annotations

import threading

import numpy as np

from node.index import BitIndex, brute_force
from tests.unit.index.data import clustered, near


def test_rows_appended_unfolded_are_found_and_fold_into_buckets_later() -> None:
    rng = np.random.default_rng(7)
    centres = rng.integers(0, 256, size=(3, 32), dtype=np.uint8)
    values = clustered(rng, 5_000, 256, centres)
    index = BitIndex(256, max_threshold=31, tail_rows=64)
    index.append(values[:1_000], first_row=0)
    index.append(values[1_000:], first_row=1_000, fold=False)
    assert index.unfolded == 4_000 and index.fold_due()
    live = np.ones(len(values), dtype=np.bool_)
    queries = [bytes(c) for c in centres] + [near(rng, values[4_321], 256, 9)]
    expected = [brute_force(values, live, q, 31) for q in queries]
    assert index.search_many(queries, 31) == expected
    assert index.fold()
    assert index.unfolded == 0 and index.folded == 5_000 and not index.fold()
    assert index.search_many(queries, 31) == expected


def test_a_fold_on_another_thread_keeps_every_append_and_live_flag_made_meanwhile() -> None:
    rng = np.random.default_rng(11)
    centres = rng.integers(0, 256, size=(4, 32), dtype=np.uint8)
    values = clustered(rng, 60_000, 256, centres)
    live = np.ones(len(values), dtype=np.bool_)
    index = BitIndex(256, max_threshold=31, tail_rows=256)
    stop = threading.Event()
    folds = 0

    def folder() -> None:
        nonlocal folds
        while not stop.is_set():
            folds += index.fold()

    worker = threading.Thread(target=folder)
    worker.start()
    try:
        for start in range(0, len(values), 2_000):
            index.append(values[start : start + 2_000], first_row=start, fold=start % 6_000 == 0)
            dead = rng.integers(0, start + 2_000, size=50)
            index.set_live(dead.tolist(), False)
            live[dead] = False
            query = near(rng, values[start], 256, 5)
            assert index.search(query, 31) == brute_force(
                values[: start + 2_000], live[: start + 2_000], query, 31
            )
    finally:
        stop.set()
        worker.join()
    index.fold()
    assert folds > 0 and index.unfolded <= 256
    queries = [bytes(c) for c in centres] + [near(rng, values[r], 256, 8) for r in (5, 59_999)]
    assert index.search_many(queries, 31) == [brute_force(values, live, q, 31) for q in queries]
