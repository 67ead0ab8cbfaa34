#!/usr/bin/env python3
"""Verified sync benchmark: two nodes on 127.0.0.1 with mutual TLS, one origin of N entries.

    python bench/sync.py [--entries N] [--incremental K]

The origin serves from this process (a BackgroundNode); the receiver runs in a process of its
own, as a served node would: it loads its match index first (not timed), then syncs, so the
time covers fetch, the verification of every batch (its consistency proof into the origin's
signed checkpoint), storage in groups while the stream goes on, and the index update; its peak
RSS is the receiving process alone. Measured side by side:
- hashfed sync (first full sync of N entries, then an incremental sync of K new entries);
- the transport floor: the same entries streamed over the same mTLS channel and dropped, by a
  receiver process of its own;
- the storage floor: the same rows inserted into SQLite in one transaction, unverified;
- the origin's tree levels, built once per served origin (on its first stream or proof) to
  compute each batch's consistency proof: timed on their own in the serving node before the
  floor, so the floor and the syncs find them warm, as a node serving for a while does.
The origin is built with bulk ``import_hash_list`` in batches of 100,000 (its own signed log;
publishing is not what is measured). Prints a table; numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from homes import fill_pdq, machine_line
from rich.console import Console
from rich.table import Table

from node.core import Node
from node.service.runner import NodeRunner
from node.sync.client import PeerClient, PeerTarget
from node.sync.loop import sync_all
from node.testing.background import BackgroundNode

ORIGIN = "origin-a.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish(home: Path, count: int) -> None:
    with Node.open(home) as node:
        fill_pdq(node, count)


# -- the receiving process ------------------------------------------------------------------


async def child_sync(home: Path) -> dict[str, float]:
    runner = await NodeRunner.open(home)
    try:
        await runner.call(lambda: runner.node.index)  # a served node holds its index
        cpu = time.process_time()
        started = time.perf_counter()
        reports = await sync_all(runner)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await runner.close()
    received = sum(r.received for r in reports)
    return {"seconds": elapsed, "cpu": cpu, "count": received}


async def child_floor(home: Path, size: int) -> dict[str, float]:
    runner = await NodeRunner.open(home)
    try:
        target = await runner.call(PeerTarget.load, runner.node, ORIGIN)
        cpu = time.process_time()
        started = time.perf_counter()
        async with PeerClient(target) as client:
            got = 0
            async for _, bodies, _proof in client.stream_entries(ORIGIN, 0, size):
                got += len(bodies)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        await runner.close()
    return {"seconds": elapsed, "cpu": cpu, "count": got}


def child(mode: str, home: Path, size: int) -> None:
    result = asyncio.run(child_sync(home) if mode == "sync" else child_floor(home, size))
    result["maxrss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM; ru_maxrss would count the forking parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_child(mode: str, home: Path, size: int = 0) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--home", str(home), "--entries", str(size)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    if out.returncode != 0:
        sys.exit(f"the {mode} receiver failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# -- the storage floor -----------------------------------------------------------------------


def storage_floor(source: Path, folder: Path) -> float:
    with Node.open(source) as node:
        rows = [(r.idx, r.leaf, r.body) for r in node.store.log.entries(ORIGIN)]
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE e (idx INTEGER PRIMARY KEY, leaf BLOB, body BLOB) STRICT")
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO e VALUES (?,?,?)", rows)
    db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--incremental", type=int, default=1_000)
    parser.add_argument("--child", choices=("sync", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.home, args.entries)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        a_port, b_port = free_port(), free_port()
        a, b = folder / "a", folder / "b"
        Node.init(a, ORIGIN, peer_address=f"127.0.0.1:{a_port}").close()
        Node.init(b, "reader-b.example", peer_address=f"127.0.0.1:{b_port}").close()
        with Node.open(a) as na, Node.open(b) as nb:
            na.members.add(json.dumps(nb.identity_card()))
            nb.members.add_peer(json.dumps(na.identity_card()))
        started = time.perf_counter()
        publish(a, args.entries)
        publish_s = time.perf_counter() - started

        with BackgroundNode(a, peer_address=f"127.0.0.1:{a_port}") as served:
            # Built once per served origin (on its first stream or proof) and kept: timed here
            # on their own, so the floor below is transport only, as before batch proofs.
            runner = served.running.runner
            started = time.perf_counter()
            levels = runner.call(
                runner.node.importer.batch_proofs, ORIGIN, [args.entries], args.entries
            )
            served.run(levels, timeout=600)
            levels_s = time.perf_counter() - started
            floor = in_child("floor", b, args.entries)
            assert floor["count"] == args.entries, floor
            full = in_child("sync", b)
            assert full["count"] == args.entries, full
            publish(a, args.incremental)
            inc = in_child("sync", b)
            assert inc["count"] == args.incremental, inc
        store_s = storage_floor(b, folder)
        with Node.open(b) as nb, Node.open(a) as na:
            assert nb.reader.checkpoint(ORIGIN).root == na.reader.checkpoint().root

    console = Console(width=150)
    console.print(
        f"Verified sync over mutual TLS on 127.0.0.1: origin of {args.entries:,} ADD entries "
        f"(one random PDQ each), built in {publish_s:.1f} s by bulk import; "
        f"{machine_line()}, SQLite {sqlite3.sqlite_version}. The origin serves from the parent "
        "process, each receiver is a process of its own (its index loaded before the clock starts)."
    )
    table = Table(
        "what",
        "entries",
        "seconds",
        "receiver CPU s",
        "entries/s",
        "vs full sync",
        "receiver peak RSS",
    )
    rows = [
        ("hashfed full sync (fetch, verify each batch, store, index)", args.entries, full),
        ("transport floor: same stream over mTLS, dropped", args.entries, floor),
        ("storage floor: same rows into SQLite, unverified", args.entries, {"seconds": store_s}),
        ("hashfed incremental sync", args.incremental, inc),
        ("origin: tree levels for batch proofs, built once", args.entries, {"seconds": levels_s}),
    ]
    for name, count, r in rows:
        seconds = r["seconds"]
        table.add_row(
            name,
            f"{count:,}",
            f"{seconds:.2f}",
            f"{r['cpu']:.2f}" if "cpu" in r else "-",
            f"{count / seconds:,.0f}",
            f"{seconds / full['seconds']:.2f}x" if count == args.entries else "-",
            f"{r['maxrss_mb']:.0f} MB" if "maxrss_mb" in r else "-",
        )
    console.print(table)
    console.print("targets: full sync of 1M <= 5 s, incremental of 1,000 <= 0.5 s, receiver < 1 GB")


if __name__ == "__main__":
    main()
