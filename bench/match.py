#!/usr/bin/env python3
"""PDQ match index benchmark: hashfed's BitIndex beside numpy brute force and FAISS, in one run.

    python bench/match.py [--rows N] [--dataset uniform|skewed|both] [--queries Q] [--seed S]
                          [--single-seconds S] [--json PATH]

Threshold 31. Queries: half are stored hashes with 0-39 random distinct bits flipped, half
uniform random. Data sets:

- ``uniform``: uniform random 256-bit hashes;
- ``skewed``: 99% as N/100 random centres with 99 variants each (1-8 random distinct bits
  flipped; the centre itself is not stored), plus 1% within 0-4 bits of one single centre (a
  heavy cluster, as a popular meme makes); rows shuffled.

Engines: hashfed BitIndex (array API: rows and distances as numpy arrays, like FAISS returns; and
the list[Hit] API the node uses), FAISS ``IndexBinaryMultiHash(256, 16, 16)`` with nflip 1 (what
HMA runs today), FAISS ``IndexBinaryFlat`` range search (strict, so given T+1) and numpy brute
force. Single queries: FAISS with 1 thread; every single-query loop slower than the time limit
answers only a prefix of the queries (the q/s is that prefix's). Batched: all queries in one call,
FAISS with 1 and with 2 threads, hashfed's kernel likewise.

Ground truth is exhaustive search over every query: FAISS IndexBinaryFlat's batched answers,
checked equal to the numpy brute force on the prefix the latter answered (numpy brute force for
every query when faiss-cpu is missing). Recall of each engine is against that truth.

Bytes/hash: hashfed counts everything its index holds (``BitIndex.memory_bytes``); FAISS is the
growth of the C heap in use while adding (glibc mallinfo2). Add/retract: 100k new hashes (stored
hashes with 1-8 bits flipped) appended in batches of 1,000, then 10k rows retracted in batches of
100; FAISS adds the same batches (its binary indexes cannot remove ids in place).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from node.index import BitIndex

THRESHOLD = 31
ADD_ROWS, ADD_BATCH = 100_000, 1_000
RETRACT_ROWS, RETRACT_BATCH = 10_000, 100
MULTI_HASH = "FAISS MultiHash(256,16,16) nflip 1"

Answers = list[set[int]]


@dataclass
class Result:
    engine: str
    build_s: float | None = None
    bytes_per_hash: float | None = None
    single_qps: float | None = None
    single_answered: int = 0
    batched_qps_1: float | None = None
    batched_qps_2: float | None = None
    recall: float | None = None
    add_100k_s: float | None = None
    retract_10k_s: float | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------- data


def uniform(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(0, 256, size=(rows, 32), dtype=np.uint8)


def distinct_positions(rng: np.random.Generator, rows: int, per_row: int) -> np.ndarray:
    """``(rows, per_row)`` bit positions in [0, 256), distinct within each row."""
    if per_row == 0:
        return np.zeros((rows, 0), dtype=np.int64)
    if per_row > 16 or rows * 256 <= 1 << 22:
        # Few rows (the queries): the first columns of a random permutation per row.
        return np.argsort(rng.random((rows, 256)), axis=1)[:, :per_row]
    positions = rng.integers(0, 256, size=(rows, per_row), dtype=np.int64)
    todo = np.arange(rows)
    while len(todo):
        ordered = np.sort(positions[todo], axis=1)
        todo = todo[(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)]
        positions[todo] = rng.integers(0, 256, size=(len(todo), per_row), dtype=np.int64)
    return positions


def flipped(rng: np.random.Generator, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``values`` with ``counts[i]`` distinct random bits of row i flipped (vectorised)."""
    out = np.array(values, dtype=np.uint8, order="C")
    words = out.view(np.uint64)
    positions = distinct_positions(rng, len(out), int(counts.max()) if len(counts) else 0)
    for column in range(positions.shape[1]):
        rows = np.flatnonzero(counts > column)
        bit = positions[rows, column]
        # Each row appears once per column, so a fancy-index XOR is exact.
        words[rows, bit >> 6] ^= np.left_shift(np.uint64(1), (bit & 63).astype(np.uint64))
    return out


def skewed(rng: np.random.Generator, rows: int) -> np.ndarray:
    heavy = rows // 100
    centres = uniform(rng, max(1, rows // 100))
    body = np.repeat(centres, 99, axis=0)[: rows - heavy]
    body = flipped(rng, body, rng.integers(1, 9, size=len(body)))
    hot = np.repeat(uniform(rng, 1), rows - len(body), axis=0)
    hot = flipped(rng, hot, rng.integers(0, 5, size=len(hot)))
    values = np.concatenate([body, hot])
    return values[rng.permutation(len(values))]


def make_queries(rng: np.random.Generator, values: np.ndarray, count: int) -> np.ndarray:
    near = values[rng.integers(0, len(values), size=count // 2)]
    near = flipped(rng, near, rng.integers(0, 40, size=len(near)))
    return np.concatenate([near, uniform(rng, count - len(near))])


# ---------------------------------------------------------------------------- helpers


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def heap_bytes() -> int:
    """Bytes the C heap has handed out and not freed (glibc mallinfo2); RSS where unavailable.

    RSS growth under-reports an index built after others were freed (their pages are reused);
    in-use heap bytes do not, and FAISS and numpy both allocate through malloc.
    """
    gc.collect()
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return rss_bytes()
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return int(info.uordblks + info.hblkhd)


def timed_single(
    search_one: Callable[[np.ndarray], set[int]], queries: np.ndarray, limit: float
) -> tuple[float, Answers]:
    """q/s over the prefix of ``queries`` answered within ``limit`` seconds."""
    search_one(queries[0])  # warm up (JIT load, first-touch of pages)
    answers: Answers = []
    spent = 0.0
    for q in queries:
        started = time.perf_counter()
        found = search_one(q)
        spent += time.perf_counter() - started
        answers.append(found)
        if spent > limit:
            break
    return len(answers) / spent, answers


def recall(answers: Answers, truth: Answers) -> float:
    wanted = sum(len(t) for t in truth[: len(answers)])
    found = sum(len(a & t) for a, t in zip(answers, truth, strict=False))
    return 1.0 if wanted == 0 else found / wanted


def worst_recall(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def additions(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    base = values[rng.integers(0, len(values), size=ADD_ROWS)]
    return flipped(rng, base, rng.integers(1, 9, size=ADD_ROWS))


# ---------------------------------------------------------------------------- engines


def numpy_brute(values: np.ndarray) -> Callable[[np.ndarray], set[int]]:
    words = values.view(np.uint64)
    columns = [np.ascontiguousarray(words[:, j]) for j in range(words.shape[1])]

    def search(query: np.ndarray) -> set[int]:
        q = query.view(np.uint64)
        distance = np.bitwise_count(columns[0] ^ q[0]).astype(np.uint16)
        for j in range(1, len(columns)):
            distance += np.bitwise_count(columns[j] ^ q[j])
        return set(np.flatnonzero(distance <= THRESHOLD).tolist())

    return search


def bench_brute(
    values: np.ndarray, queries: np.ndarray, limit: float
) -> tuple[Result, Answers, Callable[[np.ndarray], set[int]]]:
    search = numpy_brute(values)
    qps, answers = timed_single(search, queries, limit)
    result = Result("numpy brute force", bytes_per_hash=32.0, single_qps=qps)
    result.single_answered = len(answers)
    return result, answers, search


def bench_faiss(
    values: np.ndarray, queries: np.ndarray, added: np.ndarray, limit: float
) -> tuple[list[Result], Answers | None]:
    """MultiHash and Flat results, and Flat's batched answers (exhaustive: the truth)."""
    try:
        import faiss  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        print("faiss-cpu is not installed (pip install -e '.[bench]'): FAISS rows skipped")
        return [], None

    def multi_hash() -> Any:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
        return index

    results: list[Result] = []
    flat_answers: Answers | None = None
    for name, make in ((MULTI_HASH, multi_hash), ("FAISS IndexBinaryFlat", flat_index(faiss))):
        faiss.omp_set_num_threads(1)
        before = heap_bytes()
        started = time.perf_counter()
        index = make()
        index.add(values)
        result = Result(name, build_s=time.perf_counter() - started)
        result.bytes_per_hash = (heap_bytes() - before) / len(values)

        def range_search(q: np.ndarray, index: Any = index) -> Answers:
            # FAISS range search is strict (distance < radius), so radius T+1 means <= T.
            lims, _, ids = index.range_search(q, THRESHOLD + 1)
            return [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(q))]

        def timed_range_search(q: np.ndarray, index: Any = index) -> tuple[float, Any]:
            started = time.perf_counter()
            raw = index.range_search(q, THRESHOLD + 1)
            return time.perf_counter() - started, raw

        def one(
            q: np.ndarray, range_search: Callable[[np.ndarray], Answers] = range_search
        ) -> set[int]:
            return range_search(q[None, :])[0]

        result.single_qps, single = timed_single(one, queries, limit)
        result.single_answered = len(single)
        batched: Answers = []
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            seconds, (lims, _, ids) = timed_range_search(queries)
            batched = [set(ids[lims[i] : lims[i + 1]].tolist()) for i in range(len(queries))]
            setattr(result, f"batched_qps_{threads}", len(queries) / seconds)
        faiss.omp_set_num_threads(1)
        if name == MULTI_HASH:
            started = time.perf_counter()
            for a0 in range(0, len(added), ADD_BATCH):
                index.add(added[a0 : a0 + ADD_BATCH])
            result.add_100k_s = time.perf_counter() - started
        else:
            flat_answers = batched
        result.notes.append(f"single-query recall {recall(single, batched):.4f} (vs own batch)")
        result.recall = batched  # type: ignore[assignment]  # resolved against truth later
        result.notes.append(f"single {len(single)} queries")
        results.append(result)
        del index
    return results, flat_answers


def flat_index(faiss: Any) -> Callable[[], Any]:
    return lambda: faiss.IndexBinaryFlat(256)


def bench_hashfed(
    values: np.ndarray, queries: np.ndarray, truth: Answers, added: np.ndarray
) -> list[Result]:
    import numba  # type: ignore[import-untyped,import-not-found,unused-ignore]

    all_threads = numba.get_num_threads()
    before = heap_bytes()
    started = time.perf_counter()
    index = BitIndex(256, max_threshold=THRESHOLD)
    index.append(values, first_row=0)
    build = time.perf_counter() - started
    heap_growth = (heap_bytes() - before) / len(values)
    memory = index.memory_bytes() / len(values)
    index.search_many_arrays(queries[:4], THRESHOLD)  # load the compiled kernels

    arrays = Result("hashfed BitIndex (arrays)", build_s=build, bytes_per_hash=memory)
    hits = Result("hashfed BitIndex (list[Hit])", build_s=build, bytes_per_hash=memory)
    arrays.notes.append(f"C heap growth while building {heap_growth:.1f} bytes/hash")
    qps, answers = timed_single(
        lambda q: set(index.search_arrays(q.tobytes(), THRESHOLD)[0].tolist()), queries, 1e9
    )
    arrays.single_qps, arrays.single_answered = qps, len(answers)
    single_recall = recall(answers, truth)
    qps, answers = timed_single(
        lambda q: {h.row for h in index.search(q.tobytes(), THRESHOLD)}, queries, 1e9
    )
    hits.single_qps, hits.single_answered = qps, len(answers)
    hit_recall = recall(answers, truth)
    batch_recalls = []
    for threads in (1, 2):
        numba.set_num_threads(min(threads, all_threads))
        started = time.perf_counter()
        found = index.search_many_arrays(queries, THRESHOLD)
        setattr(arrays, f"batched_qps_{threads}", len(queries) / (time.perf_counter() - started))
        batch_recalls.append(recall([set(rows.tolist()) for rows, _ in found], truth))
        started = time.perf_counter()
        found_hits = index.search_many(queries, THRESHOLD)
        setattr(hits, f"batched_qps_{threads}", len(queries) / (time.perf_counter() - started))
        batch_recalls.append(recall([{h.row for h in hs} for hs in found_hits], truth))
    numba.set_num_threads(all_threads)
    arrays.recall = worst_recall(single_recall, *batch_recalls[::2])
    hits.recall = worst_recall(hit_recall, *batch_recalls[1::2])

    started = time.perf_counter()
    for a0 in range(0, len(added), ADD_BATCH):
        index.append(added[a0 : a0 + ADD_BATCH], first_row=len(index))
    arrays.add_100k_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    retracted = rng.choice(len(index), size=RETRACT_ROWS, replace=False)
    started = time.perf_counter()
    for r0 in range(0, RETRACT_ROWS, RETRACT_BATCH):
        index.set_live(retracted[r0 : r0 + RETRACT_BATCH], False)
    arrays.retract_10k_s = time.perf_counter() - started
    # After the changes the index must still agree with brute force on a few queries.
    live = np.ones(len(index), dtype=np.bool_)
    live[retracted] = False
    grown = np.concatenate([values, added])
    check = numpy_brute(grown)
    for q in queries[:: max(1, len(queries) // 20)]:
        expected = {r for r in check(q) if live[r]}
        if set(index.search_arrays(q.tobytes(), THRESHOLD)[0].tolist()) != expected:
            arrays.notes.append("MISMATCH after add/retract")
            arrays.recall = 0.0
    hits.add_100k_s, hits.retract_10k_s = arrays.add_100k_s, arrays.retract_10k_s
    return [arrays, hits]


# ---------------------------------------------------------------------------- driver


def run_dataset(
    name: str, rows: int, query_count: int, seed: int, limit: float
) -> tuple[list[Result], dict[str, Any]]:
    rng = np.random.default_rng([seed, 0 if name == "uniform" else 1])
    started = time.perf_counter()
    values = uniform(rng, rows) if name == "uniform" else skewed(rng, rows)
    queries = make_queries(rng, values, query_count)
    added = additions(rng, values)
    generated = time.perf_counter() - started
    print(f"[{name}] generated {rows:,} hashes in {generated:.1f} s", file=sys.stderr)

    brute, brute_answers, _ = bench_brute(values, queries, limit)
    print(f"[{name}] brute force {brute.single_qps:.1f} q/s", file=sys.stderr)
    faiss_results, flat_answers = bench_faiss(values, queries, added, limit)
    if flat_answers is None:
        truth = [numpy_brute(values)(q) for q in queries]
        truth_source = "numpy brute force, every query"
    else:
        truth = flat_answers
        checked = len(brute_answers)
        if truth[:checked] != brute_answers:
            raise SystemExit("FAISS IndexBinaryFlat disagrees with numpy brute force")
        truth_source = f"FAISS Flat batched, equal to numpy brute force on {checked} queries"
    brute.recall = 1.0
    for result in faiss_results:
        result.recall = recall(result.recall, truth)  # type: ignore[arg-type]
    print(f"[{name}] FAISS done", file=sys.stderr)
    ours = bench_hashfed(values, queries, truth, added)
    info = {
        "dataset": name,
        "rows": rows,
        "queries": query_count,
        "true_matches": sum(map(len, truth)),
        "queries_with_matches": sum(1 for t in truth if t),
        "largest_answer": max(map(len, truth)),
        "truth": truth_source,
        "generate_s": generated,
    }
    return [*ours, *faiss_results, brute], info


def ratio(value: float | None, base: float | None, higher_is_better: bool = True) -> str:
    if value is None or base is None or value == 0 or base == 0:
        return "-"
    return f"{(value / base if higher_is_better else base / value):.1f}x"


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_table(console: Console, results: list[Result], info: dict[str, Any], meta: str) -> None:
    console.print(
        f"\nPDQ match, {info['dataset']} {info['rows']:,} hashes, {info['queries']} queries "
        f"({info['true_matches']:,} true matches over {info['queries_with_matches']} queries, "
        f"largest answer {info['largest_answer']:,}), threshold {THRESHOLD}; {meta}"
    )
    base = next((r for r in results if r.engine == MULTI_HASH), None)
    table = Table(
        "engine",
        "build s",
        "bytes/hash",
        "single q/s",
        "batched q/s 1 thr",
        "batched q/s 2 thr",
        "recall",
        "single vs MH",
        "batched vs MH (1/2 thr)",
        "memory vs MH",
        "add 100k s",
        "retract 10k s",
    )
    for r in results:
        table.add_row(
            r.engine,
            number(r.build_s, 2),
            number(r.bytes_per_hash, 1),
            number(r.single_qps)
            + ("" if r.single_answered >= info["queries"] else f" ({r.single_answered} q)"),
            number(r.batched_qps_1),
            number(r.batched_qps_2),
            number(r.recall, 4),
            ratio(r.single_qps, base.single_qps if base else None),
            f"{ratio(r.batched_qps_1, base.batched_qps_1 if base else None)} / "
            f"{ratio(r.batched_qps_2, base.batched_qps_2 if base else None)}",
            ratio(r.bytes_per_hash, base.bytes_per_hash if base else None, higher_is_better=False),
            number(r.add_100k_s, 2),
            number(r.retract_10k_s, 4),
        )
    console.print(table)
    console.print(f"truth: {info['truth']}; data generated in {info['generate_s']:.1f} s")
    for r in results:
        if r.notes:
            console.print(f"  {r.engine}: {'; '.join(r.notes)}")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for module in ("numba", "faiss"):
        try:
            found[module] = __import__(module).__version__
        except ImportError:
            found[module] = "missing"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--dataset", choices=["uniform", "skewed", "both"], default="both")
    parser.add_argument(
        "--single-seconds",
        type=float,
        default=10.0,
        help="time budget of each slow single-query loop (a prefix of the queries is answered)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    args = parser.parse_args()
    datasets = ["uniform", "skewed"] if args.dataset == "both" else [args.dataset]
    found = versions()
    meta = (
        f"seed {args.seed}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, " + ", ".join(f"{k} {v}" for k, v in found.items())
    )
    console = Console(width=200)
    console.print(f"seed {args.seed}")
    report: dict[str, Any] = {
        "seed": args.seed,
        "threshold": THRESHOLD,
        "versions": found,
        "cores": os.cpu_count(),
        "datasets": [],
    }
    for name in datasets:
        results, info = run_dataset(name, args.rows, args.queries, args.seed, args.single_seconds)
        print_table(console, results, info, meta)
        report["datasets"].append({**info, "results": [asdict(r) for r in results]})
        gc.collect()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
