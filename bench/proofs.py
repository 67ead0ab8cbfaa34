#!/usr/bin/env python3
"""Proof service cost: inclusion and consistency proofs over a large log.

    python bench/proofs.py [--entries N] [--home DIR] [--queries K]

Compares, on the same log, the plain RFC 9162 generators (read every leaf hash from the store
and hash the whole tree per proof: what a node without stored interior nodes does) with the
node's cached tree levels (``Reader.inclusion`` / ``Reader.consistency``: levels built from
the store once, then O(log^2 n) per proof). Prints a table; numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from homes import fill_pdq, machine_line
from rich.console import Console
from rich.table import Table

from node.core import Node
from node.log.proofs import consistency_proof, inclusion_proof


def build(home: Path, count: int) -> None:
    Node.init(home, "proofs.example").close()
    with Node.open(home) as node:
        fill_pdq(node, count)


def measure(home: Path, queries: int) -> None:
    rng = random.Random(20261130)
    with Node.open(home) as node:
        origin, size = node.origin, node.reader.checkpoint().size
        index, old = size // 3, size // 2

        started = time.perf_counter()
        leaves = node.store.log.leaves(origin, size)
        plain_inclusion = inclusion_proof(index, leaves)
        plain_inclusion_s = time.perf_counter() - started
        started = time.perf_counter()
        plain_consistency = consistency_proof(old, node.store.log.leaves(origin, size))
        plain_consistency_s = time.perf_counter() - started

        started = time.perf_counter()
        first = node.reader.inclusion(origin, index)[1]
        first_s = time.perf_counter() - started
        assert first == plain_inclusion
        steady = []
        for _ in range(queries):
            i = rng.randrange(size)
            started = time.perf_counter()
            node.reader.inclusion(origin, i)
            steady.append(time.perf_counter() - started)
        steady.sort()
        started = time.perf_counter()
        cached_consistency = node.reader.consistency(origin, old, size)
        cached_consistency_s = time.perf_counter() - started
        assert cached_consistency == plain_consistency
        levels_mb = node.trees.get(origin, size).nbytes() / 1e6

    console = Console(width=130)
    console.print(
        f"Proofs over a log of {size:,} entries; {machine_line()}; "
        f"load {os.getloadavg()[0]:.2f}. Cached levels: {levels_mb:.0f} MB."
    )
    table = Table("what", "seconds per proof", "speed vs the plain inclusion proof")
    p50, p99 = steady[len(steady) // 2], steady[int(len(steady) * 0.99) - 1]
    rows = [
        ("plain generator: inclusion (read leaves, hash all)", plain_inclusion_s),
        ("plain generator: consistency n/2 -> n", plain_consistency_s),
        ("Reader.inclusion, first call (builds the levels)", first_s),
        (f"Reader.inclusion, then (p50 of {queries})", p50),
        (f"Reader.inclusion, then (p99 of {queries})", p99),
        ("Reader.consistency n/2 -> n, levels built", cached_consistency_s),
    ]
    for name, seconds in rows:
        ratio = plain_inclusion_s / seconds
        table.add_row(name, f"{seconds:.6f}", f"{ratio:,.2f}x" if ratio < 100 else f"{ratio:,.0f}x")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--home", type=Path, help="an existing node home to measure instead")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    if args.home is not None:
        measure(args.home, args.queries)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        build(home, args.entries)
        measure(home, args.queries)


if __name__ == "__main__":
    main()
