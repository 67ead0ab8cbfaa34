"""The node's SQLite store: one connection, its transactions, and the repositories on it.

WAL mode so lookups never wait for a publish; STRICT tables so a wrong type is an error, not a
silent conversion; writes in ``BEGIN IMMEDIATE`` transactions, so two processes publishing at
once are serialised and a process killed at any instant leaves no half-written batch. The
tables are read and written by one repository per concept (``store.log``, ``store.signals``,
``store.members``, ``store.witnessing``, ``store.audit``, ``store.integrity``), each
implementing a Protocol of node/store/interfaces.py, so that callers never see SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.errors import StoreError
from node.store.audit import SqliteAudit
from node.store.faults import guard_store_errors, store_error
from node.store.integrity import SqliteIntegrity
from node.store.interfaces import (
    AuditRepository,
    IntegrityRepository,
    LogRepository,
    MemberRepository,
    SignalRepository,
    WitnessRepository,
)
from node.store.log import SqliteLog
from node.store.members import SqliteMembers
from node.store.migrations import MIGRATIONS
from node.store.repository import Connection, SqliteRepository
from node.store.rows import now_ms
from node.store.signals import SqliteSignals
from node.store.witnessing import SqliteWitnessing

BUSY_TIMEOUT_MS = 30_000


class Store:
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
        self.db = Connection(conn)
        # Write transactions open on this connection: 0 outside, 1 in the outermost, more in
        # savepoints nested inside it.
        self._depth = 0
        self._reads = SqliteRepository(self.db, path)
        # Typed as the interfaces, so that callers cannot come to depend on SQLite's classes.
        self.log: LogRepository = SqliteLog(self.db, path)
        self.signals: SignalRepository = SqliteSignals(self.db, path)
        self.members: MemberRepository = SqliteMembers(self.db, path)
        self.witnessing: WitnessRepository = SqliteWitnessing(self.db, path)
        self.audit: AuditRepository = SqliteAudit(self.db, path)
        self.integrity: IntegrityRepository = SqliteIntegrity(self.db, path)
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        # Readers must not queue behind a writer: look first, lock only if something is due.
        if self._pending_migrations() == []:
            return
        import sqlite_utils  # its table helpers, for the migrations only

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
                    migrate(sqlite_utils.Database(self.db.conn))
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

    # -- transactions --------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; IMMEDIATE so concurrent writers queue instead of deadlocking.

        Inside another (or inside :meth:`exclusive`) it is a savepoint: its work is kept when
        it ends normally and undone when it raises, while the outer transaction goes on and
        alone decides what is committed. A use case can thus call another that writes.
        """
        if self._depth:
            with self._savepoint():
                yield
            return
        if self.db.conn.in_transaction:
            # A read snapshot cannot become a write: SQLite would refuse the upgrade as soon as
            # another connection had written, so this would fail only under load.
            raise RuntimeError("Store.transaction() cannot start inside Store.transaction_read()")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise store_error(self.path, exc) from exc
        with self._outermost():
            yield

    @contextmanager
    def _outermost(self) -> Iterator[None]:
        """The body and the end of a transaction this connection has just begun."""
        self._depth = 1
        try:
            yield
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
        try:
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError:
            # A COMMIT that fails (disk full) may leave the transaction open: end it, so the
            # connection is usable again and nothing half-written stays pending.
            if self.db.conn.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        name = f"nested_{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            # An error that ended the whole transaction (SQLite rolls back on some, such as a
            # full disk) took the savepoint with it: the outer transaction reports that.
            if self.db.conn.in_transaction:
                self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self.db.execute(f"RELEASE {name}")

    @contextmanager
    def transaction_read(self) -> Iterator[None]:
        """A consistent snapshot across several reads (WAL readers never block writers)."""
        with self._reads.snapshot():
            yield

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
        commit (node/service/signed_head.py): the commit must be on disk first, or after a power
        cut the file is ahead of the database and the node may not publish again. The pragma only
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
        Transactions inside it are savepoints of it.
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
            with self._outermost():
                yield
        finally:
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA locking_mode = NORMAL")
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("SELECT 1 FROM origins LIMIT 1").fetchall()  # gives the lock back

    def change_stamp(self) -> tuple[int, int]:
        """Changes by any connection since this one opened: (data_version, total_changes). Equal
        stamps mean no table changed, so derived values may be reused."""
        (version,) = self.db.execute("PRAGMA data_version").fetchone()
        return int(version), self.db.conn.total_changes


# Every Store method turns storage faults into StoreError (node.store.faults), as every
# repository's does.
guard_store_errors(Store)
