"""What every SQLite repository of the store shares: the one connection and its file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


class Connection:
    """The store's one SQLite connection, as the repositories use it: statements only.

    sqlite_utils (its table helpers) is loaded only when migrations are due
    (:meth:`node.store.store.Store._migrate`): importing it costs ~60 ms, a quarter of a
    ``hashfed match`` on a small node, which never creates a table.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()
    ) -> sqlite3.Cursor:
        return self.conn.execute(sql, parameters)

    def close(self) -> None:
        self.conn.close()


class SqliteRepository:
    """One concept's tables, read and written over the store's single connection.

    The store opens the connection and owns its transactions; a repository only runs
    statements, so several repositories' writes share one transaction.
    """

    def __init__(self, db: Connection, path: Path) -> None:
        self.db = db
        self.path = path  # named in StoreError messages (node.store.faults)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A consistent snapshot across several reads (WAL readers never block writers)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN")
        try:
            yield
        finally:
            self.db.execute("COMMIT")
