"""Storage faults leave the store as StoreError with a one-line reason, from any method (its
mixins' included), any generator and the transaction's own BEGIN/COMMIT, on real SQLite files.

A full disk is made real with ``PRAGMA max_page_count`` (SQLite then fails exactly as on a full
disk: SQLITE_FULL, "database or disk is full"); a damaged page by overwriting it in the file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.errors import StoreError
from node.store.faults import SQLITE_CORRUPT, SQLITE_FULL, SQLITE_READONLY, fault_code, store_error
from node.store.rows import EntryRow, SignalRow, StoredCheckpoint
from node.store.store import Store
from tests.support.storage import damage_a_page


def _rows(start: int, count: int) -> list[EntryRow]:
    return [
        EntryRow(
            i, bytes([i % 256]) * 32, b"b" * 200, "ADD", 0, (SignalRow("md5", b"%016d" % i, None),)
        )
        for i in range(start, start + count)
    ]


def _checkpoint(size: int) -> StoredCheckpoint:
    return StoredCheckpoint("a.example", size, b"r" * 32, "note\n", b"f" * 32, 0)


def _cap(store: Store, extra_pages: int) -> None:
    (pages,) = store.db.execute("PRAGMA page_count").fetchone()
    store.db.execute(f"PRAGMA max_page_count = {pages + extra_pages}")


def test_a_full_disk_is_a_store_error_and_nothing_is_written(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with store.transaction():
        store.log.append("a.example", _rows(0, 3), _checkpoint(3))
    _cap(store, 2)
    with pytest.raises(StoreError) as caught, store.transaction():
        store.log.append("a.example", _rows(3, 2000), _checkpoint(2003))
    message = str(caught.value)
    assert "database or disk is full" in message and str(tmp_path / "db.sqlite") in message
    assert "free space" in message and "\n" not in message
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert not store.db.conn.in_transaction
    assert store.log.latest_checkpoint("a.example") == _checkpoint(3)
    store.db.execute("PRAGMA max_page_count = 1073741823")  # space again: the store goes on
    with store.transaction():
        store.log.append("a.example", _rows(3, 2000), _checkpoint(2003))
    assert len(list(store.log.entries("a.example"))) == 2003


def test_mixin_methods_are_covered_too(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    _cap(store, 0)
    with pytest.raises(StoreError, match="disk is full"), store.transaction():
        for i in range(2000):  # AuditTables.add_audit_read, until a new page is needed
            store.audit.add_audit_read("auditor.example", "ListOrigins", "x" * 200 + str(i))


def test_a_damaged_page_is_a_store_error_from_plain_and_generator_methods(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    store = Store(path, create=True)
    with store.transaction():
        store.log.append("a.example", _rows(0, 3000), _checkpoint(3000))
    store.close()
    damage_a_page(path)
    store = Store(path)
    with pytest.raises(StoreError) as caught:
        list(store.log.entries("a.example"))  # a generator: the fault comes mid-iteration
    assert "malformed" in str(caught.value) and "hashfed check" in str(caught.value)
    with pytest.raises(StoreError, match="malformed"):
        store.log.leaf_range("a.example", 0, 3000)
    try:  # SQLite's own check either lists the damage or meets it
        assert store.integrity.quick_check() != []
    except StoreError as exc:
        assert "malformed" in str(exc)


def test_constraint_and_misuse_errors_are_not_storage_faults(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with store.transaction():
        store.log.append("a.example", _rows(0, 1), _checkpoint(1))
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.log.append("a.example", _rows(0, 1), _checkpoint(2))  # index 0 again: a bug
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.log.latest_checkpoint("a.example")


def test_real_sqlite_errors_are_classified(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    Store(path, create=True).close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as read_only:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert fault_code(read_only.value) == SQLITE_READONLY
    assert "read-only" in str(store_error(path, read_only.value))

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x BLOB)")
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError) as full:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    conn.close()
    assert fault_code(full.value) == SQLITE_FULL

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 8000)
    conn = sqlite3.connect(junk)
    with pytest.raises(sqlite3.DatabaseError) as corrupt:
        conn.execute("SELECT * FROM sqlite_master").fetchall()
    conn.close()
    assert fault_code(corrupt.value) in (SQLITE_CORRUPT, 26)
    assert "damaged" in str(store_error(junk, corrupt.value))


def test_a_file_that_is_not_a_database_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    path.write_bytes(b"this is not a database" * 300)
    with pytest.raises(StoreError, match=r"cannot open it: file is not a database.*damaged"):
        Store(path)
