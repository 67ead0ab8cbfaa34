"""The node's SQLite store: every table is read and written here and nowhere else.

WAL mode so lookups never wait for a publish; STRICT tables so a wrong type is an error, not a
silent conversion; every append (entries, their signals, and the checkpoint that covers them) in
one ``BEGIN IMMEDIATE`` transaction, so a process killed at any instant leaves the previous
checkpoint and never half a batch, and two processes publishing at once are serialised.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, count, islice, repeat
from operator import itemgetter
from pathlib import Path

import sqlite_utils

from node.errors import NotFoundError, StoreError
from node.log.entry import INDEX_LIMIT
from node.store import columns
from node.store.audit import AuditTables
from node.store.faults import guard_store_errors, store_error
from node.store.federation import FederationTables, now_ms
from node.store.integrity import IntegrityReads
from node.store.migrations import MIGRATIONS, own_signal_index_sql

BUSY_TIMEOUT_MS = 30_000


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


@dataclass(frozen=True)
class StoredCheckpoint:
    origin: str
    size: int
    root: bytes
    note: str
    frontier: bytes
    received_ms: int


@dataclass(frozen=True)
class SignalRow:
    type: str
    value: bytes
    quality: int | None


@dataclass(frozen=True)
class OpinionRow:
    target_origin: str
    target_idx: int
    target_leaf: bytes
    verdict: str
    agrees: bool


@dataclass(frozen=True)
class EntryRow:
    """One entry as the store keeps it, with what its statement adds to the derived tables."""

    idx: int
    leaf: bytes
    body: bytes
    kind: str
    create_ms: int
    signals: tuple[SignalRow, ...] = ()
    retracts: int | None = None
    opinion: OpinionRow | None = None


@dataclass(frozen=True)
class IndexedSignal:
    type: str
    row: int
    value: bytes


@dataclass(frozen=True)
class AppendResult:
    """What an append changed that the in-memory index must follow."""

    added: tuple[IndexedSignal, ...]
    retracted: tuple[tuple[str, int], ...]  # (signal type, row) no longer live
    appended: tuple[tuple[str, int, int, bytes], ...] = ()
    """Per signal type, the rows appended as (type, first row, count, values end to end) when
    ``indexed=False`` and the values were at hand (else not listed): what the index may take
    from memory once the transaction commits (:meth:`node.matching.MatchIndex.hold`)."""


@dataclass(frozen=True)
class SignalHit:
    origin: str
    idx: int
    type: str
    value: bytes
    quality: int | None


@dataclass(frozen=True)
class OriginRow:
    name: str
    verifier_key: str
    is_self: bool


class Store(FederationTables, AuditTables, IntegrityReads):
    def __init__(self, path: Path, *, create: bool = False) -> None:
        """Open the database; only ``create=True`` (``hashfed init``) may make a new file.

        A node whose database vanished must not quietly start a new log: it would sign a
        second history under the same key, which every peer would see as equivocation.
        """
        self.path = path
        if not create and not path.exists():
            raise StoreError(
                f"database {path} is missing; this node's log cannot be recreated without "
                "forking its signed history. Restore it from a backup"
            )
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across process crashes in WAL mode; only power loss can lose the
            # last transactions, never corrupt or half-apply them.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise store_error(path, exc, "cannot open it") from exc
        self.db = sqlite_utils.Database(conn)
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        # Readers must not queue behind a writer: look first, lock only if something is due.
        if self._pending_migrations() == []:
            return
        with self.transaction():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL) STRICT"
            )
            done = {r[0] for r in self.db.execute("SELECT name FROM _migrations").fetchall()}
            known = {name for name, _ in MIGRATIONS}
            if unknown := done - known:
                raise StoreError(
                    f"database {self.path} has migrations this version does not know: "
                    f"{sorted(unknown)}; it was written by a newer hashfed"
                )
            for name, migrate in MIGRATIONS:
                if name not in done:
                    migrate(self.db)
                    self.db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, now_ms()])

    def _pending_migrations(self) -> list[str] | None:
        """Names still to apply, or None when the table does not exist yet."""
        exists = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
        ).fetchone()
        if exists is None:
            return None
        done = {r[0] for r in self.db.execute("SELECT name FROM _migrations").fetchall()}
        if done - {name for name, _ in MIGRATIONS}:
            return None  # a newer database: let _migrate report it
        return [name for name, _ in MIGRATIONS if name not in done]

    def migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so concurrent writers queue instead of deadlocking."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise store_error(self.path, exc) from exc
        try:
            with self.db.atomic():
                yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        try:
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            # A COMMIT that fails (disk full) may leave the transaction open: end it, so the
            # connection is usable again and nothing half-written stays pending.
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    # -- origins -------------------------------------------------------------------------------

    def add_origin(self, name: str, verifier_key: str, *, is_self: bool) -> None:
        self.db.table("origins").insert(
            {
                "name": name,
                "verifier_key": verifier_key,
                "is_self": int(is_self),
                "added_ms": now_ms(),
            },
            replace=True,
        )

    def origins(self) -> list[OriginRow]:
        rows = self.db.execute("SELECT name, verifier_key, is_self FROM origins ORDER BY name")
        return [OriginRow(n, k, bool(s)) for n, k, s in rows.fetchall()]

    def origin(self, name: str) -> OriginRow:
        row = self.db.execute(
            "SELECT name, verifier_key, is_self FROM origins WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"origin {name!r} is not known to this node")
        return OriginRow(row[0], row[1], bool(row[2]))

    # -- log -----------------------------------------------------------------------------------

    def latest_checkpoint(self, origin: str) -> StoredCheckpoint | None:
        row = self.db.execute(
            "SELECT origin, size, root, note, frontier, received_ms FROM checkpoints "
            "WHERE origin = ? ORDER BY size DESC LIMIT 1",
            [origin],
        ).fetchone()
        return None if row is None else StoredCheckpoint(*row)

    def checkpoint_at(self, origin: str, size: int) -> StoredCheckpoint | None:
        row = self.db.execute(
            "SELECT origin, size, root, note, frontier, received_ms FROM checkpoints "
            "WHERE origin = ? AND size = ?",
            [origin, size],
        ).fetchone()
        return None if row is None else StoredCheckpoint(*row)

    def checkpoints(self, origin: str) -> list[StoredCheckpoint]:
        rows = self.db.execute(
            "SELECT origin, size, root, note, frontier, received_ms FROM checkpoints "
            "WHERE origin = ? ORDER BY size",
            [origin],
        )
        return [StoredCheckpoint(*r) for r in rows.fetchall()]

    def append(
        self, origin: str, entries: Sequence[EntryRow], checkpoint: StoredCheckpoint
    ) -> AppendResult:
        """Store entries and the checkpoint covering them. Call inside :meth:`transaction`."""
        result = self.append_chunk(
            origin,
            [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in entries],
            [(e.idx, s.type, s.value, s.quality) for e in entries for s in e.signals],
            [e for e in entries if e.retracts is not None or e.opinion is not None],
        )
        self.put_checkpoint(checkpoint)
        return result

    def append_chunk(
        self,
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
        that retract or give an opinion. Call inside :meth:`transaction` and finish with
        :meth:`put_checkpoint` in the same transaction, so nothing is visible without it.
        With ``indexed=False`` the result names no added rows (the caller refreshes the index
        from the store instead of holding a record per signal).
        """
        if not self.db.conn.in_transaction:
            raise RuntimeError("Store.append must run inside Store.transaction()")
        next_row = self._next_rows({s[1] for s in signals})
        retracted: list[tuple[str, int]] = []
        conn = self.db.conn
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
        added = (
            [IndexedSignal(t, row, value) for t, row, value, *_ in signal_rows] if indexed else []
        )
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

    @contextmanager
    def large_cache(self, mib: int = 128) -> Iterator[None]:
        """A page cache of up to ``mib`` MiB for one large write (the default is 2 MiB), so a
        long transaction does not spill and rewrite the same pages; restored afterwards."""
        before = self.db.execute("PRAGMA cache_size").fetchone()[0]
        self.db.execute(f"PRAGMA cache_size = {-1024 * int(mib)}")
        try:
            yield
        finally:
            self.db.execute(f"PRAGMA cache_size = {int(before)}")

    @contextmanager
    def durable(self) -> Iterator[None]:
        """``synchronous = FULL`` for the transactions inside, restored to NORMAL afterwards.

        NORMAL (the default here) survives process crashes but a power loss may drop the last
        commits. A publish of our own log writes the fsync'd signed-state file right after its
        commit (node/own_log.py): the commit must be on disk first, or after a power cut the
        file is ahead of the database and the node may not publish again. The pragma only
        takes effect outside a transaction, so it wraps BEGIN, not the other way round.
        """
        self.db.execute("PRAGMA synchronous = FULL")
        try:
            yield
        finally:
            self.db.execute("PRAGMA synchronous = NORMAL")

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """One durable write transaction with the database to ourselves, or a clear refusal
        at once (``hashfed recover``).

        In WAL mode an EXCLUSIVE locking-mode connection cannot start a write while any other
        connection has the database open (``hashfed serve``, a sync, a publish), and no other
        connection can read or write until it is back in NORMAL mode. Here, not in the caller,
        so that a full disk at COMMIT is a StoreError like every other storage fault.
        """
        db = self.db
        db.execute("PRAGMA busy_timeout = 0")
        db.execute("PRAGMA locking_mode = EXCLUSIVE")
        db.execute("PRAGMA synchronous = FULL")  # see durable()
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise  # a storage fault: the wrapper says what
                raise StoreError(
                    f"another process has {self.path} open ({exc}): recover needs the "
                    "database to itself. Stop `hashfed serve` (and any other hashfed command "
                    "on this home) first, then run recover again"
                ) from None
            try:
                yield
            except BaseException:
                if db.conn.in_transaction:
                    db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.DatabaseError:
                if db.conn.in_transaction:  # as in transaction(): leave nothing pending
                    db.execute("ROLLBACK")
                raise
        finally:
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA locking_mode = NORMAL")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("SELECT 1 FROM origins LIMIT 1").fetchall()  # gives the lock back

    def put_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a checkpoint (the one covering entries appended in this transaction)."""
        self.db.conn.execute(
            "INSERT INTO checkpoints (origin, size, root, note, frontier, received_ms) "
            "VALUES (?,?,?,?,?,?)",
            [
                checkpoint.origin,
                checkpoint.size,
                checkpoint.root,
                checkpoint.note,
                checkpoint.frontier,
                checkpoint.received_ms,
            ],
        )

    def _next_rows(self, types: set[str]) -> dict[str, int]:
        out = {}
        for t in types:
            row = self.db.execute(
                "SELECT COALESCE(MAX(row) + 1, 0) FROM signals WHERE type = ?", [t]
            ).fetchone()
            out[t] = int(row[0])
        return out

    def entry(self, origin: str, idx: int) -> tuple[bytes, bytes]:
        """(body, leaf) of one entry."""
        # An index beyond any log (a signed entry's reference, an operator's typo) is not in the
        # store, and SQLite could not even compare it.
        row = (
            self.db.execute(
                "SELECT body, leaf FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
            ).fetchone()
            if 0 <= idx < INDEX_LIMIT
            else None
        )
        if row is None:
            raise NotFoundError(f"origin {origin!r} has no entry {idx} on this node")
        return bytes(row[0]), bytes(row[1])

    def entries(self, origin: str, start: int = 0, stop: int | None = None) -> Iterator[EntryRow]:
        stop = 2**62 if stop is None else stop
        rows = self.db.execute(
            "SELECT idx, leaf, body, kind, create_ms FROM entries "
            "WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        )
        for idx, leaf, body, kind, create_ms in rows:
            yield EntryRow(idx, bytes(leaf), bytes(body), kind, create_ms)

    def bodies(self, origin: str, start: int, stop: int) -> list[bytes]:
        """Bodies of entries ``[start, stop)`` in log order: :meth:`entries` without a record
        per row (what serving a stream needs)."""
        rows = self.db.conn.execute(
            "SELECT body FROM entries WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        ).fetchall()
        return [bytes(body) for (body,) in rows]

    def leaves(self, origin: str, size: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT leaf FROM entries WHERE origin = ? AND idx < ? ORDER BY idx", [origin, size]
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def retraction_of(self, origin: str, target_idx: int) -> int | None:
        """The index of the RETRACT that took effect on entry ``target_idx``, if any."""
        row = self.db.execute(
            "SELECT idx FROM retractions WHERE origin = ? AND target_idx = ?", [origin, target_idx]
        ).fetchone()
        return None if row is None else int(row[0])

    def is_retracted(self, origin: str, idx: int) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM retractions WHERE origin = ? AND target_idx = ?", [origin, idx]
        ).fetchone()
        return row is not None

    # -- own signals already published (idempotent publishing) ---------------------------------

    def index_own_signals(self, origin: str) -> None:
        """Create the partial index :meth:`live_own_signals` uses (done once, by ``init``)."""
        self.db.execute(own_signal_index_sql(origin))

    def live_own_signals(
        self, origin: str, wanted: Sequence[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], int]:
        """For each ``(type, value)`` that a live (unretracted) ADD of ``origin`` carries, the
        smallest such entry index. ``origin`` must be this node's own (the indexed one)."""
        by_type: dict[str, list[bytes]] = {}
        for signal_type, value in wanted:
            by_type.setdefault(signal_type, []).append(value)
        literal = origin.replace("'", "''")
        found: dict[tuple[str, bytes], int] = {}
        for signal_type, values in by_type.items():
            for start in range(0, len(values), 500):
                chunk = values[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.conn.execute(
                    # The literal origin term lets SQLite use the partial index.
                    f"SELECT value, MIN(idx) FROM signals WHERE origin = '{literal}' "
                    f"AND type = ? AND value IN ({marks}) AND retracted = 0 GROUP BY value",
                    [signal_type, *chunk],
                )
                for value, idx in rows:
                    found[signal_type, bytes(value)] = int(idx)
        return found

    # -- index support -------------------------------------------------------------------------

    def signal_types(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT type FROM signals").fetchall()]

    def signal_rows(self, signal_type: str) -> tuple[list[bytes], list[int]]:
        """Every stored value of one type in row order, and the rows that are not live."""
        values: list[bytes] = []
        dead: list[int] = []
        rows = self.db.execute(
            "SELECT row, value, retracted FROM signals WHERE type = ? ORDER BY row",
            [signal_type],
        )
        for row, value, retracted in rows:
            if row != len(values):
                raise StoreError(f"signals of type {signal_type} have a gap at row {len(values)}")
            values.append(bytes(value))
            if retracted:
                dead.append(row)
        return values, dead

    def signal_hits(self, signal_type: str, rows: Sequence[int]) -> dict[int, SignalHit]:
        out: dict[int, SignalHit] = {}
        for chunk_start in range(0, len(rows), 500):
            chunk = list(rows[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            found = self.db.execute(
                f"SELECT row, origin, idx, value, quality FROM signals "
                f"WHERE type = ? AND row IN ({marks})",
                [signal_type, *chunk],
            )
            for row, origin, idx, value, quality in found:
                out[row] = SignalHit(origin, idx, signal_type, bytes(value), quality)
        return out

    def signals_since(self, signal_type: str, first_row: int) -> list[IndexedSignal]:
        rows = self.db.execute(
            "SELECT row, value FROM signals WHERE type = ? AND row >= ? ORDER BY row",
            [signal_type, first_row],
        )
        return [IndexedSignal(signal_type, r, bytes(v)) for r, v in rows]

    def retracted_since(self, cursor: int) -> tuple[list[tuple[str, int]], int]:
        """Signal rows retracted after ``cursor`` (a retractions rowid), and the new cursor."""
        with self.transaction_read():
            top = self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM retractions").fetchone()
            rows = self.db.execute(
                "SELECT s.type, s.row FROM retractions r JOIN signals s "
                "ON s.origin = r.origin AND s.idx = r.target_idx "
                "WHERE r.rowid > ? AND r.rowid <= ?",
                [cursor, top[0]],
            ).fetchall()
        return [(t, int(r)) for t, r in rows], int(top[0])

    @contextmanager
    def transaction_read(self) -> Iterator[None]:
        """A consistent snapshot across several reads (WAL readers never block writers)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")

    def opinions_on(self, origin: str, idx: int, leaf: bytes) -> list[tuple[str, str, bool]]:
        """Each author's latest opinion on exactly these bytes: (author, verdict, agrees)."""
        rows = self.db.execute(
            "SELECT origin, verdict, agrees FROM opinions o "
            "WHERE target_origin = ? AND target_idx = ? AND target_leaf = ? "
            # Only authors we trust (or ourselves) count; equivocating origins do not.
            "AND (o.origin IN (SELECT name FROM origins WHERE is_self = 1) "
            "OR o.origin IN (SELECT origin FROM members WHERE trusted = 1)) "
            "AND o.origin NOT IN (SELECT origin FROM halted_origins) "
            "AND idx = (SELECT MAX(idx) FROM opinions p WHERE p.origin = o.origin "
            "AND p.target_origin = o.target_origin AND p.target_idx = o.target_idx "
            "AND p.target_leaf = o.target_leaf) ORDER BY origin",
            [origin, idx, leaf],
        )
        return [(a, v, bool(g)) for a, v, g in rows.fetchall()]

    def counts(self, origin: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT kind, COUNT(*) FROM entries WHERE origin = ? GROUP BY kind", [origin]
        )
        return {k: int(c) for k, c in rows.fetchall()}

    # -- index start-up and snapshots (node.matching, node.index_snapshot) ---------------------
    # Read-only helpers: a bulk read for building an index, and the cursors and checkpoints a
    # saved index snapshot records so that it can be checked against this store before use.

    def signal_count(self, signal_type: str) -> int:
        """Rows stored for ``signal_type`` (rows are dense from 0, so MAX(row) + 1)."""
        row = self.db.execute(
            "SELECT COALESCE(MAX(row) + 1, 0) FROM signals WHERE type = ?", [signal_type]
        ).fetchone()
        return int(row[0])

    def signal_values_since(
        self, signal_type: str, first_row: int, size: int
    ) -> tuple[bytearray, int]:
        """Values of rows ``first_row..`` of one type, end to end, and how many there are.

        One query, read in chunks into one preallocated buffer: ~4x faster per row than
        :meth:`signals_since` and no per-row objects kept, which matters when an index is built
        from millions of rows. Every value must be ``size`` bytes and the rows dense; anything
        else is a :class:`StoreError`.
        """
        with self.transaction_read():
            stop = self.signal_count(signal_type)
            if stop <= first_row:
                return bytearray(), 0
            count = stop - first_row
            out = bytearray(count * size)
            view = memoryview(out)
            cursor = self.db.execute(
                "SELECT CASE WHEN length(value) = ? THEN value END FROM signals "
                "WHERE type = ? AND row >= ? AND row < ? ORDER BY row",
                [size, signal_type, first_row, stop],
            )
            done = 0
            while rows := cursor.fetchmany(65_536):
                if done + len(rows) > count:
                    break
                try:
                    chunk = b"".join([v for (v,) in rows])
                except TypeError as exc:  # a NULL: a value of the wrong length
                    raise StoreError(
                        f"a stored {signal_type} value is not {size} bytes long"
                    ) from exc
                view[done * size : (done + len(rows)) * size] = chunk
                done += len(rows)
        if done != count:
            raise StoreError(
                f"signals of type {signal_type} have a gap between rows {first_row} and {stop}"
            )
        return out, count

    def retraction_cursor(self) -> int:
        """The newest retraction's rowid (what :meth:`retracted_since` returns as its cursor)."""
        row = self.db.execute("SELECT COALESCE(MAX(rowid), 0) FROM retractions").fetchone()
        return int(row[0])

    def trust_cursor(self) -> int:
        """The newest trust event's id (what :meth:`trust_changes_since` returns as its cursor)."""
        row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM trust_events").fetchone()
        return int(row[0])

    def newest_checkpoints(self) -> dict[str, tuple[int, bytes]]:
        """(size, root) of every origin's newest stored checkpoint.

        One primary-key lookup per known origin, not a scan: a node that publishes one entry
        at a time holds a checkpoint per entry.
        """
        out: dict[str, tuple[int, bytes]] = {}
        with self.transaction_read():
            for (origin,) in self.db.execute("SELECT name FROM origins").fetchall():
                latest = self.latest_checkpoint(origin)
                if latest is not None:
                    out[origin] = (latest.size, bytes(latest.root))
        return out

    def signal_sample(
        self, signal_type: str, rows: Sequence[int]
    ) -> list[tuple[int, str, int, bytes]]:
        """(row, origin, idx, value) of the given rows of one type, in row order."""
        out: list[tuple[int, str, int, bytes]] = []
        for chunk_start in range(0, len(rows), 500):
            chunk = list(rows[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            found = self.db.execute(
                f"SELECT row, origin, idx, value FROM signals "
                f"WHERE type = ? AND row IN ({marks}) ORDER BY row",
                [signal_type, *chunk],
            )
            out.extend((int(r), str(o), int(i), bytes(v)) for r, o, i, v in found)
        return out


# Every Store method, its mixins' included, turns storage faults into StoreError
# (node.store.faults).
guard_store_errors(Store)
