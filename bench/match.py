#!/usr/bin/env python3
"""PDQ match index benchmark: hashfed's BitIndex beside numpy brute force and FAISS, in one run.

    python bench/match.py [--rows N] [--queries Q] [--seed S] [--dataset uniform|skewed]

Queries: half are stored hashes with 0-39 random bits flipped, half uniform random; threshold 31.
FAISS (`pip install faiss-cpu`, the `bench` extra) is what HMA uses today:
IndexBinaryMultiHash(256, 16, 16) with nflip 1, and IndexBinaryFlat range search (strict, so
given T+1). Recall is measured against brute force. Prints a table; numbers go to
docs/performance.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from node.index import BitIndex

THRESHOLD = 31
SINGLE_LIMIT_SECONDS = 10.0  # slow engines answer a prefix of the single queries


@dataclass
class Result:
    engine: str
    build_s: float
    bytes_per_hash: float
    single_qps: float
    batched_qps: float | None
    recall: float


def uniform(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)


def skewed(rng: np.random.Generator, rows: int) -> np.ndarray:
    """99% as clusters of 100 (a centre and 99 variants 1-8 bits away), 1% near one centre."""
    heavy = rows // 100
    centres = uniform(rng, max(1, (rows - heavy) // 100))
    body = np.repeat(centres, 100, axis=0)[: rows - heavy]
    body = flip(rng, body, rng.integers(1, 9, size=len(body)))
    hot = flip(rng, np.repeat(uniform(rng, 1), heavy, axis=0), rng.integers(0, 5, size=heavy))
    return np.concatenate([body, hot])


def flip(rng: np.random.Generator, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(values, axis=1)
    for i, count in enumerate(counts):
        where = rng.choice(256, size=int(count), replace=False)
        bits[i, where] ^= 1
    return np.packbits(bits, axis=1)


def make_queries(rng: np.random.Generator, values: np.ndarray, count: int) -> np.ndarray:
    near = values[rng.integers(0, len(values), size=count // 2)]
    near = flip(rng, near, rng.integers(0, 40, size=len(near)))
    return np.concatenate([near, uniform(rng, count - len(near))])


def brute(values: np.ndarray) -> Callable[[np.ndarray], list[set[int]]]:
    words = values.view(">u8").astype(np.uint64)

    def search(queries: np.ndarray) -> list[set[int]]:
        out = []
        for q in queries.view(">u8").astype(np.uint64):
            distance = np.bitwise_count(words ^ q).sum(axis=1)
            out.append(set(np.flatnonzero(distance <= THRESHOLD).tolist()))
        return out

    return search


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def timed_single(
    search_one: Callable[[np.ndarray], set[int]], queries: np.ndarray
) -> tuple[float, list[set[int]]]:
    answers = []
    started = time.perf_counter()
    for q in queries:
        answers.append(search_one(q))
        if time.perf_counter() - started > SINGLE_LIMIT_SECONDS:
            break
    return len(answers) / (time.perf_counter() - started), answers


def recall(answers: list[set[int]], truth: list[set[int]]) -> float:
    wanted = sum(len(t) for t in truth[: len(answers)])
    found = sum(len(a & t) for a, t in zip(answers, truth, strict=False))
    return 1.0 if wanted == 0 else found / wanted


def bench_hashfed(values: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> Result:
    before = rss_bytes()
    started = time.perf_counter()
    index = BitIndex(256, max_threshold=THRESHOLD)
    index.append(values, first_row=0)
    build = time.perf_counter() - started
    del before
    qps, answers = timed_single(
        lambda q: {h.row for h in index.search(q.tobytes(), THRESHOLD)}, queries
    )
    started = time.perf_counter()
    batched = index.search_many(queries, THRESHOLD)
    batched_qps = len(queries) / (time.perf_counter() - started)
    assert [{h.row for h in hits} for hits in batched] == truth
    return Result(
        "hashfed BitIndex",
        build,
        index.memory_bytes() / len(values),
        qps,
        batched_qps,
        recall(answers, truth),
    )


def bench_faiss(values: np.ndarray, queries: np.ndarray, truth: list[set[int]]) -> list[Result]:
    try:
        import faiss  # type: ignore[import-untyped]
    except ImportError:
        print("faiss-cpu is not installed (pip install -e '.[bench]'): FAISS rows skipped")
        return []
    faiss.omp_set_num_threads(1)

    def multi_hash() -> object:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
        return index

    engines = [
        ("FAISS MultiHash(256,16,16) nflip 1", multi_hash),
        ("FAISS IndexBinaryFlat", lambda: faiss.IndexBinaryFlat(256)),
    ]
    return [measure_faiss(name, make, values, queries, truth) for name, make in engines]


def measure_faiss(
    name: str,
    make: Callable[[], object],
    values: np.ndarray,
    queries: np.ndarray,
    truth: list[set[int]],
) -> Result:
    before = rss_bytes()
    started = time.perf_counter()
    index = make()
    index.add(values)  # type: ignore[attr-defined]
    build = time.perf_counter() - started
    memory = max(32.0, (rss_bytes() - before) / len(values))

    def range_search(q: np.ndarray) -> list[set[int]]:
        # FAISS range search is strict (distance < radius), so radius T+1 means <= T.
        lims, _, ids = index.range_search(q, THRESHOLD + 1)  # type: ignore[attr-defined]
        return [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(q))]

    qps, answers = timed_single(lambda q: range_search(q[None, :])[0], queries)
    started = time.perf_counter()
    range_search(queries)
    batched = len(queries) / (time.perf_counter() - started)
    return Result(name, build, memory, qps, batched, recall(answers, truth))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--dataset", choices=["uniform", "skewed"], default="uniform")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    values = (uniform if args.dataset == "uniform" else skewed)(rng, args.rows)
    queries = make_queries(rng, values, args.queries)

    search_brute = brute(values)
    started = time.perf_counter()
    truth = search_brute(queries)
    brute_qps = len(queries) / (time.perf_counter() - started)
    results = [Result("numpy brute force", 0.0, 32.0, brute_qps, None, 1.0)]
    results.append(bench_hashfed(values, queries, truth))
    results.extend(bench_faiss(values, queries, truth))

    console = Console(width=150)
    console.print(
        f"PDQ match, {args.dataset} {args.rows:,} hashes, {args.queries} queries "
        f"({sum(map(len, truth))} true matches), threshold {THRESHOLD}, seed {args.seed}; "
        f"{platform.processor() or platform.machine()}, numpy {np.__version__}"
    )
    base = next((r for r in results if r.engine.startswith("FAISS Multi")), results[0])
    table = Table(
        "engine",
        "build s",
        "bytes/hash",
        "single q/s",
        "batched q/s",
        "recall",
        f"single vs {base.engine.split(' ')[0]} {base.engine.split(' ')[1]}",
    )
    for r in results:
        table.add_row(
            r.engine,
            f"{r.build_s:.2f}",
            f"{r.bytes_per_hash:.1f}",
            f"{r.single_qps:,.0f}",
            "-" if r.batched_qps is None else f"{r.batched_qps:,.0f}",
            f"{r.recall:.4f}",
            f"{r.single_qps / base.single_qps:.1f}x",
        )
    console.print(table)


if __name__ == "__main__":
    main()
