"""Index growth probe: ``python bench/index_growth.py [rows]`` on uniform random 256-bit hashes."""

from __future__ import annotations

import sys
import time

import numpy as np

from node.index.bit_index import BitIndex


def main(rows: int = 1_000_000, queries: int = 1000, threshold: int = 31) -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)
    index = BitIndex(256, max_threshold=31)
    started = time.perf_counter()
    index.append(values, first_row=0)
    print(f"build {rows} rows: {time.perf_counter() - started:.2f} s")
    print(f"memory: {index.memory_bytes() / rows:.1f} bytes/hash")
    # Half the queries are near a stored hash so verification also finds real matches.
    probes = rng.integers(0, 256, size=(queries, 32), dtype=np.uint8)
    probes[::2] = values[rng.integers(0, rows, size=(queries + 1) // 2)]
    measure(index, probes, threshold, "fresh")
    started = time.perf_counter()
    extra = rng.integers(0, 256, size=(rows // 10, 32), dtype=np.uint8)
    for start in range(0, len(extra), 1000):
        index.append(extra[start : start + 1000], first_row=len(index))
    index.set_live(rng.integers(0, len(index), size=rows // 100), False)
    elapsed = time.perf_counter() - started
    print(f"{len(extra)} appends in batches of 1000 + {rows // 100} set_live: {elapsed:.2f} s")
    print(f"memory: {index.memory_bytes() / len(index):.1f} bytes/hash")
    measure(index, probes, threshold, "with delta and tail")


def measure(index: BitIndex, probes: np.ndarray, threshold: int, label: str) -> None:
    started = time.perf_counter()
    for probe in probes:
        index.search(probe.tobytes(), threshold)
    single = len(probes) / (time.perf_counter() - started)
    started = time.perf_counter()
    index.search_many(probes, threshold)
    batched = len(probes) / (time.perf_counter() - started)
    print(f"{label}, threshold {threshold}: single {single:.0f} q/s, batched {batched:.0f} q/s")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:]))
