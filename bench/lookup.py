#!/usr/bin/env python3
"""Lookup service benchmark: a served node with N stored PDQ hashes, asked over gRPC.

    python bench/lookup.py [--rows N] [--seconds S] [--clients C] [--per-message M]
                           [--seed S] [--home DIR]

The node runs in a process of its own (a BackgroundNode: the same servers ``hashfed serve``
starts, LocalService in plaintext on 127.0.0.1); the clients run in this process. Measured in
one run, on the same 1,000 queries (seed printed; half stored hashes with 0-39 random bits
flipped, half random; threshold 31, as bench/match.py):
- unary ``MatchSignal`` lookups/s with C concurrent clients (grpc.aio, one channel each);
- streaming bulk lookups/s: one ``StreamMatches`` call, M queries per message;
- in-process batched ``BitIndex.search_many`` over the same hashes (the index alone), so each
  gRPC figure is also a fraction of it; and in-process ``Matcher.match_signals`` with 1,000
  signals at once (the facade StreamMatches calls: index plus store reads and result objects),
  which splits the gap into what the facade costs and what gRPC and encoding cost.
The load average (``/proc/loadavg``) is printed beside the figures: the machine is shared.

The store is built validly, through the node's own bulk import (``import_hash_list`` in batches
of 100,000: signed checkpoints, entries, signals, as ``hashfed import`` writes them), from seeded
random hashes. 10M takes a while; ``--home DIR`` keeps the built node in DIR and reuses any node
home that already exists there (one built by bench/startup.py too; ``--rows`` then defaults to
what it holds). Prints a table; numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
from homes import fill_pdq, machine_line
from match import THRESHOLD, make_queries, uniform
from rich.console import Console
from rich.table import Table

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.hashing import Signal
from node.index import BitIndex

ORIGIN = "lookup-bench.example"
BUILD_BATCH = 100_000
QUERIES = 1_000


# -- the store -------------------------------------------------------------------------------


def database(home: Path) -> Path:
    return home / "hashfed.db"


def build(home: Path, rows: int, seed: int) -> float:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    Node.init(home, ORIGIN).close()

    def lines(count: int) -> list[str]:
        return [f"pdq {v.tobytes().hex()}" for v in uniform(rng, count)]

    with Node.open(home) as node:
        fill_pdq(node, rows, lines, batch=BUILD_BATCH, progress=True)
    return time.perf_counter() - started


def load_values(home: Path) -> np.ndarray:
    """Every stored PDQ value in row order (through the store: its schema may change)."""
    with Node.open(home) as node:
        values, count = node.store.signals.signal_values_since("pdq", 0, 32)
    return np.frombuffer(values, dtype=np.uint8).reshape(count, 32)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- the served node (child process) ---------------------------------------------------------


def serve(home: Path) -> None:
    from node.testing.background import BackgroundNode

    started = time.perf_counter()
    with BackgroundNode(home, peer_address="127.0.0.1:0", local_address="127.0.0.1:0") as bg:
        ready = time.perf_counter() - started
        print(json.dumps({"local": bg.local_address, "ready_s": ready}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of process ``pid``."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- clients ---------------------------------------------------------------------------------


def query_pb(value: bytes) -> local_pb2.SignalQuery:
    return local_pb2.SignalQuery(type="pdq", value=value.hex(), threshold=THRESHOLD)


async def unary(
    address: str, queries: list[bytes], clients: int, seconds: float
) -> tuple[float, int]:
    requests = [local_pb2.MatchSignalRequest(query=query_pb(q)) for q in queries]
    channels = [grpc.aio.insecure_channel(address) for _ in range(clients)]
    stubs = [local_pb2_grpc.LocalServiceStub(c) for c in channels]
    for stub in stubs:
        await stub.MatchSignal(requests[0])  # connect and warm up
    done = 0
    stop = time.perf_counter() + seconds

    async def client(number: int) -> None:
        nonlocal done
        stub, i = stubs[number], number
        while time.perf_counter() < stop:
            await stub.MatchSignal(requests[i % len(requests)])
            i += clients
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.perf_counter() - started
    for channel in channels:
        await channel.close()
    return done / elapsed, done


async def streaming(
    address: str, queries: list[bytes], per_message: int, seconds: float
) -> tuple[float, int, int]:
    """Lookups/s over one StreamMatches call, lookups answered, and the matches found for one
    pass of the queries (answered before the clock starts)."""
    messages = [
        local_pb2.StreamMatchesRequest(queries=[query_pb(q) for q in queries[i : i + per_message]])
        for i in range(0, len(queries), per_message)
    ]
    async with grpc.aio.insecure_channel(
        address, options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)]
    ) as channel:
        stub = local_pb2_grpc.LocalServiceStub(channel)
        first = [r async for r in stub.StreamMatches(iter(messages))]
        matches = sum(len(res.matches) for r in first for res in r.results)
        sent = 0
        stop = time.perf_counter() + seconds

        async def requests():  # type: ignore[no-untyped-def]
            nonlocal sent
            while time.perf_counter() < stop:
                message = messages[sent // per_message % len(messages)]
                sent += len(message.queries)
                yield message

        started = time.perf_counter()
        answered = 0
        async for response in stub.StreamMatches(requests()):
            answered += len(response.results)
        elapsed = time.perf_counter() - started
    assert answered == sent, (answered, sent)
    return answered / elapsed, answered, matches


def timed_rate(call: Callable[[], object], per_call: int, seconds: float) -> tuple[float, float]:
    """Run ``call`` (``per_call`` lookups each) for at least ``seconds``, once at least: lookups
    per wall second and per CPU second of this process."""
    done = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while True:
        call()
        done += per_call
        if time.perf_counter() - started >= seconds:
            break
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu
    return done / wall, done / cpu


def in_process(
    values: np.ndarray, queries: np.ndarray, seconds: float
) -> tuple[float, float, int, float]:
    """Batched lookups/s of a BitIndex over ``values`` (per wall and per CPU second), its
    matches, and its build time."""
    started = time.perf_counter()
    index = BitIndex(256, max_threshold=THRESHOLD)
    index.append(values, first_row=0)
    build_s = time.perf_counter() - started
    hits = index.search_many(queries, THRESHOLD)
    per_wall, per_cpu = timed_rate(
        lambda: index.search_many(queries, THRESHOLD), len(queries), seconds
    )
    return per_wall, per_cpu, sum(len(h) for h in hits), build_s


def facade(home: Path, queries: np.ndarray, seconds: float) -> tuple[float, float, int]:
    """In-process ``Matcher.match_signals`` of all queries at once: lookups/s per wall and per CPU
    second, and the matches found (the same as StreamMatches must find)."""
    signals = [Signal("pdq", q.tobytes()) for q in queries]
    with Node.open(home) as node:
        results = node.matcher.match_signals(signals, THRESHOLD)  # index loaded, kernel warm
        per_wall, per_cpu = timed_rate(
            lambda: node.matcher.match_signals(signals, THRESHOLD), len(signals), seconds
        )
    return per_wall, per_cpu, sum(len(r.matches) for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, help="stored hashes (default 1M, or what --home already holds)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-message", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--home", type=Path, help="keep (and reuse) the built node here")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "node"
        build_s: float | None = None
        if not database(home).exists():
            args.rows = args.rows or 1_000_000
            build_s = build(home, args.rows, args.seed)
        values = load_values(home)
        args.rows = args.rows or len(values)
        if len(values) != args.rows:
            raise SystemExit(
                f"{home} holds {len(values):,} rows, not {args.rows:,}; use another --home"
            )
        rng = np.random.default_rng(args.seed + 1)
        queries = make_queries(rng, values, QUERIES)
        query_bytes = [q.tobytes() for q in queries]

        load: dict[str, str] = {"start": load_average()}
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        try:
            assert server.stdout is not None
            info = json.loads(server.stdout.readline())
            address = info["local"]
            cpu = cpu_s(server.pid)
            unary_qps, unary_done = asyncio.run(
                unary(address, query_bytes, args.clients, args.seconds)
            )
            unary_per_cpu = unary_done / (cpu_s(server.pid) - cpu)
            load["unary"] = load_average()
            cpu = cpu_s(server.pid)
            stream_qps, stream_done, stream_matches = asyncio.run(
                streaming(address, query_bytes, args.per_message, args.seconds)
            )
            # The untimed first pass (QUERIES lookups) is counted here too.
            stream_per_cpu = (stream_done + QUERIES) / (cpu_s(server.pid) - cpu)
            load["stream"] = load_average()
            server_rss, server_peak = rss_mb(server.pid)
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(timeout=60)
        facade_qps, facade_cpu_qps, facade_matches = facade(home, queries, args.seconds)
        load["facade"] = load_average()
        batched_qps, batched_cpu_qps, batched_matches, index_s = in_process(
            values, queries, args.seconds
        )
        load["batched"] = load_average()

    console = Console(width=150)
    console.print(
        f"Lookup service: {args.rows:,} stored PDQ hashes"
        + (f" (built by bulk import in {build_s:.0f} s)" if build_s is not None else "")
        + f"; {QUERIES:,} queries, seed {args.seed}, threshold {THRESHOLD}; "
        f"{machine_line()}, grpcio {grpc.__version__}. "
        f"Server: own process, ready in {info['ready_s']:.1f} s, RSS {server_rss:.0f} MB "
        f"(peak {server_peak:.0f} MB); clients in the parent process."
    )
    if not stream_matches == facade_matches == batched_matches:
        console.print(
            f"[red]MISMATCH: StreamMatches found {stream_matches} matches, "
            f"match_signals {facade_matches}, search_many {batched_matches}[/red]"
        )
    table = Table(
        "what",
        "lookups/s",
        "vs in-process batched",
        "lookups per server CPU s",
        "vs in-process per CPU s",
        "target",
        "load avg (1/5/15 min) after",
    )
    # The targets are set at 1M and 10M; homes reused after freshness runs hold a few more.
    target = 4_000 if args.rows < 5_000_000 else 1_000
    table.add_row(
        f"unary MatchSignal, {args.clients} concurrent clients",
        f"{unary_qps:,.0f}",
        f"{unary_qps / batched_qps:.3f}",
        f"{unary_per_cpu:,.0f}",
        f"{unary_per_cpu / batched_cpu_qps:.3f}",
        "-",
        load["unary"],
    )
    table.add_row(
        f"StreamMatches, {args.per_message:,} queries per message",
        f"{stream_qps:,.0f}",
        f"{stream_qps / batched_qps:.3f}",
        f"{stream_per_cpu:,.0f}",
        f"{stream_per_cpu / batched_cpu_qps:.3f}",
        f">= {target:,}/s",
        load["stream"],
    )
    table.add_row(
        "in-process Matcher.match_signals (1,000 at once; what StreamMatches calls)",
        f"{facade_qps:,.0f}",
        f"{facade_qps / batched_qps:.3f}",
        f"{facade_cpu_qps:,.0f}",
        f"{facade_cpu_qps / batched_cpu_qps:.3f}",
        "-",
        load["facade"],
    )
    table.add_row(
        f"in-process BitIndex.search_many (1,000 at once; index built in {index_s:.1f} s)",
        f"{batched_qps:,.0f}",
        "1.000",
        f"{batched_cpu_qps:,.0f}",
        "1.000",
        "-",
        load["batched"],
    )
    console.print(table)
    console.print(f"load average at the start: {load['start']}")
    console.print(f"matches per pass of the queries: {batched_matches:,} (both ways)")


if __name__ == "__main__":
    main()
