"""What every SQLite repository of the store shares: the one connection and its file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils


class SqliteRepository:
    """One concept's tables, read and written over the store's single connection.

    The store opens the connection and owns its transactions; a repository only runs
    statements, so several repositories' writes share one transaction.
    """

    def __init__(self, db: sqlite_utils.Database, path: Path) -> None:
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
