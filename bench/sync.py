#!/usr/bin/env python3
"""Verified sync benchmark: two nodes on 127.0.0.1 with mutual TLS, one origin of N entries.

    python bench/sync.py [--entries N] [--incremental K]

Measured side by side, in one run:
- hashfed sync: stream, stage, verify against the origin's signed checkpoint, store, index;
- the transport floor: the same entries streamed over the same mTLS channel and dropped;
- the storage floor: the same rows inserted into SQLite in one transaction, unverified.
Then an incremental sync of K new entries. Prints a table; numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import secrets
import socket
import sqlite3
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from node.core import Node
from node.log.entry import Labels
from node.server.background import BackgroundNode
from node.server.runner import NodeRunner
from node.sync.client import PeerClient, PeerTarget
from node.sync.loop import sync_all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def publish(home: Path, count: int) -> None:
    with Node.open(home) as node:
        for start in range(0, count, 50_000):
            lines = [f"pdq {secrets.token_hex(32)}" for _ in range(min(50_000, count - start))]
            node.import_hash_list(lines, Labels(entity="bench", behaviours=("glorification",)))


async def timed_sync(home: Path) -> tuple[float, int]:
    runner = await NodeRunner.open(home)
    try:
        started = time.perf_counter()
        reports = await sync_all(runner)
        elapsed = time.perf_counter() - started
    finally:
        await runner.close()
    received = sum(r.received for r in reports)
    return elapsed, received


async def transport_floor(home: Path, origin: str, size: int) -> float:
    runner = await NodeRunner.open(home)
    try:
        target = await runner.call(PeerTarget.load, runner.node, origin)
        started = time.perf_counter()
        async with PeerClient(target) as client:
            got = 0
            async for _, bodies in client.stream_entries(origin, 0, size):
                got += len(bodies)
        assert got == size, (got, size)
        return time.perf_counter() - started
    finally:
        await runner.close()


def storage_floor(source: Path, origin: str, folder: Path) -> float:
    with Node.open(source) as node:
        rows = [(r.idx, r.leaf, r.body) for r in node.store.entries(origin)]
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE e (idx INTEGER PRIMARY KEY, leaf BLOB, body BLOB) STRICT")
    started = time.perf_counter()
    db.execute("BEGIN")
    db.executemany("INSERT INTO e VALUES (?,?,?)", rows)
    db.execute("COMMIT")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--incremental", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        a_port, b_port = free_port(), free_port()
        a, b = folder / "a", folder / "b"
        Node.init(a, "origin-a.example", peer_address=f"127.0.0.1:{a_port}").close()
        Node.init(b, "reader-b.example", peer_address=f"127.0.0.1:{b_port}").close()
        with Node.open(a) as na, Node.open(b) as nb:
            na.add_member(json.dumps(nb.identity_card()))
            nb.add_peer(json.dumps(na.identity_card()))
        started = time.perf_counter()
        publish(a, args.entries)
        publish_s = time.perf_counter() - started

        with BackgroundNode(a, peer_address=f"127.0.0.1:{a_port}"):
            floor_s = asyncio.run(transport_floor(b, "origin-a.example", args.entries))
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            full_s, received = asyncio.run(timed_sync(b))
            assert received == args.entries, (received, args.entries)
            publish(a, args.incremental)
            inc_s, inc_received = asyncio.run(timed_sync(b))
            assert inc_received == args.incremental
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        store_s = storage_floor(b, "origin-a.example", folder)
        with Node.open(b) as nb, Node.open(a) as na:
            assert nb.checkpoint("origin-a.example").root == na.checkpoint().root

    console = Console(width=140)
    console.print(
        f"Verified sync over mutual TLS on 127.0.0.1: origin of {args.entries:,} ADD entries "
        f"(one random PDQ each), published in {publish_s:.1f} s; process peak RSS "
        f"{rss_after / 1024:.0f} MB (was {rss_before / 1024:.0f} MB before the syncs; "
        "both nodes run in this one process)"
    )
    table = Table("what", "entries", "seconds", "entries/s", "vs hashfed full sync")
    rows = [
        ("hashfed full sync (fetch, stage, verify, store, index)", args.entries, full_s),
        ("transport floor: same stream over mTLS, dropped", args.entries, floor_s),
        ("storage floor: same rows into SQLite, unverified", args.entries, store_s),
        ("hashfed incremental sync", args.incremental, inc_s),
    ]
    for name, count, seconds in rows:
        table.add_row(
            name,
            f"{count:,}",
            f"{seconds:.2f}",
            f"{count / seconds:,.0f}",
            f"{seconds / full_s:.2f}x" if count == args.entries else "-",
        )
    console.print(table)


if __name__ == "__main__":
    main()
