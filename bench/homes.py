"""Shared by the bench scripts: filling a node home with PDQ hashes, the machine line."""

from __future__ import annotations

import os
import platform
import secrets
import sys
from collections.abc import Callable

from node.core import Node
from node.log.entry import Labels

BENCH_LABELS = Labels(entity="bench", behaviours=("glorification",))


def random_pdq_lines(count: int) -> list[str]:
    """``count`` hash-list lines, each a random PDQ hash."""
    return [f"pdq {secrets.token_hex(32)}" for _ in range(count)]


def fill_pdq(
    node: Node,
    rows: int,
    lines: Callable[[int], list[str]] | None = None,
    batch: int = 100_000,
    progress: bool = False,
    labels: Labels = BENCH_LABELS,
) -> None:
    """Publish ``rows`` PDQ hashes on ``node`` by bulk ``import_hash_list``, ``batch`` at a time.

    ``lines(count)`` gives each batch's hash-list lines (default: random PDQ hashes);
    ``progress`` prints the running total to stderr after each batch.
    """
    make = lines or random_pdq_lines
    for start in range(0, rows, batch):
        chunk = make(min(batch, rows - start))
        node.publisher.import_hash_list(chunk, labels)
        if progress:
            print(f"  built {start + len(chunk):,} / {rows:,}", file=sys.stderr, flush=True)


def machine_line() -> str:
    """``N CPUs, Python X``: what the benchmark headers say about the machine."""
    return f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
