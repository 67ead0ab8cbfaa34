"""Bulk appends: entries and the derived rows their statements add, many rows per statement.

The hot path of publishing and of a verified sync; :class:`node.store.log.SqliteLog` calls it
inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from itertools import chain, count, islice, repeat
from operator import itemgetter

from node.log.entry import INDEX_LIMIT
from node.store import columns
from node.store.rows import AppendResult, EntryRow, IndexedSignal

# Rows per INSERT statement in bulk appends. One multi-row statement binds the same values as
# that many single-row ones but is stepped once: a third less CPU per row than executemany
# (bench/rows.py; 500 rows ~9% less than 100). 500 divides the import chunk and a streamed batch
# of 1,000, so the statement is prepared once; fewer where SQLite allows fewer parameters.
ROWS_PER_INSERT = 500


def _insert_rows(
    conn: sqlite3.Connection, head: str, width: int, rows: int, values: Iterator[object]
) -> None:
    """Insert ``rows`` rows of ``width`` columns, given as one flat sequence of values, with
    ``head`` (``INSERT INTO t (...) VALUES ``), many rows per statement."""
    per = max(1, min(ROWS_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))
    one = "(" + ",".join("?" * width) + ")"
    full, rest = divmod(rows, per)
    if full:
        many = head + ",".join([one] * per)
        step = per * width
        for _ in range(full):
            conn.execute(many, list(islice(values, step)))
    if rest:
        conn.execute(head + ",".join([one] * rest), list(values))


def append_chunk(
    conn: sqlite3.Connection,
    origin: str,
    entries: Sequence[tuple[int, bytes, bytes, str, int]],
    signals: Sequence[tuple[int, str, bytes, int | None]],
    special: Sequence[EntryRow],
    *,
    indexed: bool = True,
) -> AppendResult:
    """Store consecutive entries without a checkpoint: one part of a larger append.

    ``entries`` are ``(idx, leaf, body, kind, create_ms)``, ``signals`` the signals they
    carry as ``(idx, type, value, quality)`` in log order, ``special`` the rows among them
    that retract or give an opinion. Call inside :meth:`Store.transaction` and finish with
    :meth:`SqliteLog.put_checkpoint` in the same transaction, so nothing is visible without it.
    With ``indexed=False`` the result names no added rows (the caller refreshes the index
    from the store instead of holding a record per signal).
    """
    if not conn.in_transaction:
        raise RuntimeError("an append must run inside Store.transaction()")
    next_row = _next_rows(conn, {s[1] for s in signals})
    retracted: list[tuple[str, int]] = []
    if not columns.insert_entries(conn, origin, entries):
        _insert_rows(
            conn,
            "INSERT INTO entries (origin, idx, leaf, body, kind, create_ms) VALUES ",
            6,
            len(entries),
            chain.from_iterable((origin, *e) for e in entries),
        )
    signal_rows: list[tuple[str, int, bytes, int | None, str, int, int]] = []
    appended: list[tuple[str, int, int, bytes]] = []
    for signal_type, first in next_row.items():
        # Rows are dense per type, in log order: number each type's signals in turn.
        of_type = signals if len(next_row) == 1 else [s for s in signals if s[1] == signal_type]
        values = columns.insert_signals(conn, origin, signal_type, first, of_type)
        if values is not None:
            if not indexed:
                appended.append((signal_type, first, len(of_type), values))
            if indexed:
                signal_rows.extend(
                    (signal_type, row, s[2], s[3], origin, s[0], 0)
                    for row, s in zip(count(first), of_type)
                )
            continue
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
        _insert_rows(
            conn,
            "INSERT INTO signals VALUES ",
            7,
            len(of_type),
            chain.from_iterable(signal_rows[-len(of_type) :]),
        )
    added = [IndexedSignal(t, row, value) for t, row, value, *_ in signal_rows] if indexed else []
    for e in special:
        # A signed entry is stored whatever it refers to; only an effect that can apply is
        # recorded (reader rules, protocol.md §2): a RETRACT of an earlier ADD not yet
        # retracted, an OPINION on an index a log can have. Anything else would either
        # overflow SQLite's integers or make the origin's whole log unimportable.
        if e.retracts is not None and 0 <= e.retracts < min(e.idx, INDEX_LIMIT):
            added_row = conn.execute(
                "INSERT OR IGNORE INTO retractions (origin, target_idx, idx) "
                "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM entries "
                "WHERE origin = ? AND idx = ? AND kind = 'ADD')",
                [origin, e.retracts, e.idx, origin, e.retracts],
            ).rowcount
            if added_row:
                hit = conn.execute(
                    "UPDATE signals SET retracted = 1 WHERE origin = ? AND idx = ? "
                    "RETURNING type, row",
                    [origin, e.retracts],
                ).fetchall()
                retracted.extend((t, r) for t, r in hit)
        if e.opinion is not None and 0 <= e.opinion.target_idx < INDEX_LIMIT:
            o = e.opinion
            conn.execute(
                "INSERT INTO opinions VALUES (?,?,?,?,?,?,?)",
                [
                    origin,
                    e.idx,
                    o.target_origin,
                    o.target_idx,
                    o.target_leaf,
                    o.verdict,
                    int(o.agrees),
                ],
            )
    # Added rows retracted in the same batch must not enter the index as live.
    dead = set(retracted)
    return AppendResult(
        tuple(a for a in added if (a.type, a.row) not in dead) if dead else tuple(added),
        tuple(retracted),
        tuple(appended),
    )


def _next_rows(conn: sqlite3.Connection, types: set[str]) -> dict[str, int]:
    out = {}
    for t in types:
        row = conn.execute(
            "SELECT COALESCE(MAX(row) + 1, 0) FROM signals WHERE type = ?", [t]
        ).fetchone()
        out[t] = int(row[0])
    return out
