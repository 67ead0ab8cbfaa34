#!/usr/bin/env python3
"""Storing received entries: ``rows_of`` per entry and ``Store.append_chunk`` per 1M rows.

    python bench/rows.py [--entries N] [--repeat R]

The entries are those of ``bench/sync.py``'s origin: ADDs of one random PDQ hash each with the
bench labels, one creation time per bulk batch of 100,000, encoded by the real encoder. Each
function is timed beside the version it replaced, kept here as the reference (``REFERENCE_*``),
on the same bodies:

Times are CPU seconds of the process (``time.process_time``), best of R with before and after
alternating: on a shared machine they vary far less than wall time.

- ``rows_of``: the rows of every entry, in chunks of 50,000 (an import's chunk); and on 50,000
  entries published one at a time (each its own creation time and quality), where no two share
  a shape;
- ``append_chunk``: every entry row and signal row into a fresh database in one transaction,
  as ``import_verified`` does (page cache raised by ``Store.large_cache``, chunks of 50,000,
  commit included); per 1M extrapolated from N (the machine is shared: N <= 200k);
- the storage floor of bench/sync.py beside it: the same entry rows into a plain
  ``(idx INTEGER PRIMARY KEY, leaf, body)`` table, no signals, no checks.
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Callable, Sequence
from itertools import count, repeat
from operator import itemgetter
from pathlib import Path

from google.protobuf.message import DecodeError
from homes import BENCH_LABELS, machine_line
from rich.console import Console
from rich.table import Table

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.hashing import ComputedSignal, Signal, signal_types
from node.log.entry import MAX_ENTRY_BYTES, Add, Entry, encode_entry
from node.log.merkle import leaf_hash
from node.service.entry_rows import EntryTuple, SignalTuple, SlowFn, rows_of
from node.service.verified_import import CHUNK, _slow_rows
from node.store.rows import EntryRow
from node.store.store import Store

ORIGIN = "origin-a.example"
BULK = 100_000


def bodies_of(n: int, *, one_off: bool = False) -> list[bytes]:
    """Bulk-published entries, or (``one_off``) entries published one at a time: each its own
    creation time and PDQ quality, as ``hashfed add`` of one file after another makes them."""
    out = []
    for i in range(n):
        now = 1_700_000_000_000 + (i if one_off else i - i % BULK)
        quality = 50 + i % 50 if one_off else None
        pdq = ComputedSignal(Signal("pdq", secrets.token_bytes(32)), quality)
        out.append(encode_entry(Entry(ORIGIN, now, Add((pdq,), BENCH_LABELS))))
    return out


# -- the references: the functions as they were before issue 9 ------------------------------


def REFERENCE_rows_of(  # noqa: N802
    origin: str,
    first_idx: int,
    bodies: Sequence[bytes],
    leaves: Sequence[bytes],
    slow: SlowFn,
) -> tuple[list[EntryTuple], list[SignalTuple], list[EntryRow]]:
    sizes = {t.name: t.size for t in signal_types()}
    msg = pb.Entry()
    parse = msg.ParseFromString
    which = msg.WhichOneof
    entries: list[EntryTuple] = []
    signals: list[SignalTuple] = []
    special: list[EntryRow] = []
    add_entry, add_signal = entries.append, signals.append
    idx = first_idx
    for body, leaf in zip(bodies, leaves, strict=True):
        fast = len(body) <= MAX_ENTRY_BYTES
        if fast:
            try:
                parse(body)
            except DecodeError:
                fast = False
        if fast and msg.origin == origin and which("statement") == "add":
            found: list[SignalTuple] = []
            for s in msg.add.signals:
                value = s.value
                if sizes.get(s.type) != len(value):
                    fast = False
                    break
                found.append((idx, s.type, value, s.quality if s.HasField("quality") else None))
            if fast:
                add_entry((idx, leaf, body, "ADD", msg.create_time_unix_millis))
                for f in found:
                    add_signal(f)
                idx += 1
                continue
        row = slow(idx, body, leaf)
        add_entry((row.idx, row.leaf, row.body, row.kind, row.create_ms))
        signals.extend((idx, s.type, s.value, s.quality) for s in row.signals)
        if row.retracts is not None or row.opinion is not None:
            special.append(row)
        idx += 1
    return entries, signals, special


def REFERENCE_append_chunk(  # noqa: N802
    store: Store,
    origin: str,
    entries: Sequence[tuple[int, bytes, bytes, str, int]],
    signals: Sequence[tuple[int, str, bytes, int | None]],
    special: Sequence[EntryRow],
) -> None:
    """The inserts of ``Store.append_chunk`` before issue 9 (entries, then signals; the
    bench has no special rows)."""
    assert not special
    conn = store.db.conn
    next_row = {
        t: int(
            conn.execute(
                "SELECT COALESCE(MAX(row) + 1, 0) FROM signals WHERE type = ?", [t]
            ).fetchone()[0]
        )
        for t in {s[1] for s in signals}
    }
    conn.executemany(
        "INSERT INTO entries (origin, idx, leaf, body, kind, create_ms) VALUES (?,?,?,?,?,?)",
        [(origin, *e) for e in entries],
    )
    signal_rows: list[tuple[str, int, bytes, int | None, str, int, int]] = []
    for signal_type, first in next_row.items():
        of_type = signals if len(next_row) == 1 else [s for s in signals if s[1] == signal_type]
        signal_rows.extend(
            zip(
                repeat(signal_type),
                count(first),
                map(itemgetter(2), of_type),
                map(itemgetter(3), of_type),
                repeat(origin),
                map(itemgetter(0), of_type),
                repeat(0),
            )
        )
    conn.executemany("INSERT INTO signals VALUES (?,?,?,?,?,?,?)", signal_rows)


# -- timing ---------------------------------------------------------------------------------

RowsFn = Callable[
    [str, int, Sequence[bytes], Sequence[bytes], SlowFn],
    tuple[list[EntryTuple], list[SignalTuple], list[EntryRow]],
]
Chunks = list[tuple[list[EntryTuple], list[SignalTuple], list[EntryRow]]]


def time_rows(fn: RowsFn, bodies: list[bytes], leaves: list[bytes]) -> tuple[float, Chunks]:
    slow = _slow_rows(ORIGIN)
    started = time.process_time()
    chunks = [
        fn(ORIGIN, start, bodies[start : start + CHUNK], leaves[start : start + CHUNK], slow)
        for start in range(0, len(bodies), CHUNK)
    ]
    return time.process_time() - started, chunks


def time_append(folder: Path, chunks: Chunks, *, reference: bool) -> float:
    path = folder / f"store-{secrets.token_hex(4)}.db"
    store = Store(path, create=True)
    try:
        store.members.add_origin(ORIGIN, "key", is_self=False)
        started = time.process_time()
        with store.large_cache(), store.transaction():
            for entries, signals, special in chunks:
                if reference:
                    REFERENCE_append_chunk(store, ORIGIN, entries, signals, special)
                else:
                    store.log.append_chunk(ORIGIN, entries, signals, special, indexed=False)
        elapsed = time.process_time() - started
        n = sum(len(c[0]) for c in chunks)
        stored = store.db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        assert stored == n, (stored, n)
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return elapsed


def time_floor(folder: Path, bodies: list[bytes], leaves: list[bytes]) -> float:
    path = folder / "floor.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("CREATE TABLE e (idx INTEGER PRIMARY KEY, leaf BLOB, body BLOB) STRICT")
    rows = list(zip(range(len(bodies)), leaves, bodies, strict=True))
    started = time.process_time()
    db.execute("BEGIN")
    db.executemany("INSERT INTO e VALUES (?,?,?)", rows)
    db.execute("COMMIT")
    elapsed = time.process_time() - started
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.entries
    bodies = bodies_of(n)
    leaves = [leaf_hash(b) for b in bodies]

    # Before and after alternate, so that load from other work on the machine falls on both.
    rows_s = {"before": float("inf"), "after": float("inf")}
    chunks: dict[str, Chunks] = {}
    for _ in range(args.repeat):
        for name, fn in (("before", REFERENCE_rows_of), ("after", rows_of)):
            seconds, chunks[name] = time_rows(fn, bodies, leaves)
            rows_s[name] = min(rows_s[name], seconds)
    assert chunks["before"] == chunks["after"], "rows_of and its reference disagree"
    one_off = bodies_of(min(n, CHUNK), one_off=True)
    one_off_leaves = [leaf_hash(b) for b in one_off]
    one_off_s = {"before": float("inf"), "after": float("inf")}
    for _ in range(args.repeat):
        for name, fn in (("before", REFERENCE_rows_of), ("after", rows_of)):
            seconds, _ = time_rows(fn, one_off, one_off_leaves)
            one_off_s[name] = min(one_off_s[name], seconds)

    append_s = {"before": float("inf"), "after": float("inf")}
    floor_s = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):
            for name in ("before", "after"):
                seconds = time_append(folder, chunks["after"], reference=name == "before")
                append_s[name] = min(append_s[name], seconds)
            floor_s = min(floor_s, time_floor(folder, bodies, leaves))

    per_m = 1_000_000 / n
    console = Console(width=120)
    console.print(
        f"Storing {n:,} received ADD entries (one random PDQ each; {n:,} entry rows + {n:,} "
        f"signal rows), CPU seconds of this process (the machine is shared), best of "
        f"{args.repeat}; {machine_line()}, SQLite {sqlite3.sqlite_version}. "
        "Per 1M extrapolated linearly."
    )
    table = Table("what", "before", "after", "after / before")
    table.add_row(
        "rows_of, µs per entry",
        f"{rows_s['before'] / n * 1e6:.2f}",
        f"{rows_s['after'] / n * 1e6:.2f}",
        f"{rows_s['after'] / rows_s['before']:.2f}x",
    )
    table.add_row(
        f"rows_of, µs per entry, {len(one_off):,} one-off entries",
        f"{one_off_s['before'] / len(one_off) * 1e6:.2f}",
        f"{one_off_s['after'] / len(one_off) * 1e6:.2f}",
        f"{one_off_s['after'] / one_off_s['before']:.2f}x",
    )
    table.add_row(
        "append_chunk, s per 1M entries + 1M signals",
        f"{append_s['before'] * per_m:.2f}",
        f"{append_s['after'] * per_m:.2f}",
        f"{append_s['after'] / append_s['before']:.2f}x",
    )
    table.add_row(
        "rows_of + append_chunk, s per 1M",
        f"{(rows_s['before'] + append_s['before']) * per_m:.2f}",
        f"{(rows_s['after'] + append_s['after']) * per_m:.2f}",
        f"{(rows_s['after'] + append_s['after']) / (rows_s['before'] + append_s['before']):.2f}x",
    )
    floor = f"{floor_s * per_m:.2f}"
    table.add_row("storage floor (entry rows only, plain table), s per 1M", "", floor, "")
    console.print(table)


if __name__ == "__main__":
    main()
