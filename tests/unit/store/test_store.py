"""The SQLite store: migrations, STRICT tables, WAL, and all-or-nothing appends."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.errors import NotFoundError, StoreError
from node.store.migrations import MIGRATIONS
from node.store.rows import EntryRow, OpinionRow, SignalRow, StoredCheckpoint
from node.store.store import Store


def _checkpoint(size: int) -> StoredCheckpoint:
    return StoredCheckpoint("a.example", size, b"r" * 32, "note\n", b"f" * 32, 0)


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    names = [name for name, _ in MIGRATIONS]
    assert names[:3] == ["001_initial", "002_federation", "003_witness_audit"]
    assert store.migrations() == names
    store.close()
    again = Store(tmp_path / "db.sqlite", create=True)
    assert again.migrations() == names
    mode = again.db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_tables_are_strict(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.db.execute("INSERT INTO entries VALUES ('a', 'not an int', x'00', x'00', 'ADD', 0)")
    for table in ("origins", "entries", "checkpoints", "signals", "retractions", "opinions"):
        sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[
            0
        ]
        assert sql.rstrip().endswith("STRICT"), table


def test_newer_database_is_refused(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    store.db.execute("INSERT INTO _migrations VALUES ('999_future', 0)")
    store.close()
    with pytest.raises(StoreError, match="newer hashfed"):
        Store(tmp_path / "db.sqlite", create=True)


def test_failed_append_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    rows = [
        EntryRow(0, b"l" * 32, b"body", "ADD", 0, (SignalRow("md5", b"\x01" * 16, None),)),
        EntryRow(0, b"l" * 32, b"body", "ADD", 0),  # duplicate index: the insert fails
    ]
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.log.append("a.example", rows, _checkpoint(2))
    for table in ("entries", "signals", "checkpoints"):
        assert store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    assert store.log.latest_checkpoint("a.example") is None


def test_signal_rows_are_dense_per_type_and_retraction_marks_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    md5 = SignalRow("md5", b"\x01" * 16, None)
    sha = SignalRow("sha256", b"\x02" * 32, None)
    with store.transaction():
        first = store.log.append(
            "a.example",
            [
                EntryRow(0, b"a" * 32, b"0", "ADD", 0, (md5, sha)),
                EntryRow(1, b"b" * 32, b"1", "ADD", 0, (md5,)),
            ],
            _checkpoint(2),
        )
    assert sorted((s.type, s.row) for s in first.added) == [("md5", 0), ("md5", 1), ("sha256", 0)]
    with store.transaction():
        second = store.log.append(
            "a.example", [EntryRow(2, b"c" * 32, b"2", "RETRACT", 0, retracts=0)], _checkpoint(3)
        )
    assert sorted(second.retracted) == [("md5", 0), ("sha256", 0)]
    values, dead = store.signals.signal_rows("md5")
    assert len(values) == 2 and dead == [0]
    assert store.log.is_retracted("a.example", 0)
    changed, cursor = store.signals.retracted_since(0)
    assert sorted(changed) == [("md5", 0), ("sha256", 0)] and cursor == 1
    assert store.signals.retracted_since(cursor) == ([], 1)


def test_missing_entry_is_not_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with pytest.raises(NotFoundError, match="no entry 5"):
        store.log.entry("a.example", 5)


def test_append_outside_transaction_is_a_bug(tmp_path: Path) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with pytest.raises(RuntimeError):
        store.log.append("a.example", [], _checkpoint(0))


def test_missing_database_is_never_recreated_silently(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="forking its signed history"):
        Store(tmp_path / "gone.sqlite")
    assert not (tmp_path / "gone.sqlite").exists()


def test_readers_do_not_wait_for_a_writer(tmp_path: Path) -> None:
    writer = Store(tmp_path / "db.sqlite", create=True)
    writer.db.execute("BEGIN IMMEDIATE")  # a long publish holds the write lock
    try:
        reader = Store(tmp_path / "db.sqlite")  # would block 30 s if opening took the lock
        assert reader.log.latest_checkpoint("a.example") is None
        reader.close()
    finally:
        writer.db.execute("ROLLBACK")


def test_effects_that_cannot_apply_store_the_entry_and_nothing_else(tmp_path: Path) -> None:
    """RETRACTs and OPINIONs a signed log may carry but that cannot apply: each entry is stored,
    no derived row is, and nothing overflows SQLite's 64-bit integers."""
    store = Store(tmp_path / "db.sqlite", create=True)
    md5 = SignalRow("md5", b"\x01" * 16, None)
    target = OpinionRow("b.example", 2**64 - 1, b"t" * 32, "true_positive", True)
    rows = [
        EntryRow(0, b"a" * 32, b"0", "ADD", 0, (md5,)),
        EntryRow(1, b"b" * 32, b"1", "RETRACT", 0, retracts=0),
        EntryRow(2, b"c" * 32, b"2", "RETRACT", 0, retracts=0),  # already retracted
        EntryRow(3, b"d" * 32, b"3", "RETRACT", 0, retracts=1),  # a RETRACT, not an ADD
        EntryRow(4, b"e" * 32, b"4", "RETRACT", 0, retracts=2**63),
        EntryRow(5, b"f" * 32, b"5", "RETRACT", 0, retracts=2**64 - 1),
        EntryRow(6, b"g" * 32, b"6", "RETRACT", 0, retracts=6),  # itself
        EntryRow(7, b"h" * 32, b"7", "OPINION", 0, opinion=target),
    ]
    with store.transaction():
        result = store.log.append("a.example", rows, _checkpoint(8))
    assert result.retracted == (("md5", 0),)
    assert store.integrity.row_counts()["entries"] == 8
    assert store.log.retractions("a.example") == [(0, 1)]
    assert store.integrity.row_counts()["retractions"] == 1
    assert store.integrity.row_counts()["opinions"] == 0
    assert store.log.retraction_of("a.example", 0) == 1
    assert store.log.retraction_of("a.example", 1) is None
    # A second chunk retracting the same ADD again changes nothing either.
    with store.transaction():
        again = store.log.append(
            "a.example", [EntryRow(8, b"i" * 32, b"8", "RETRACT", 0, retracts=0)], _checkpoint(9)
        )
    assert again.retracted == ()


@pytest.mark.parametrize("idx", [-1, 2**63, 2**64 - 1])
def test_an_index_beyond_any_log_is_not_found(tmp_path: Path, idx: int) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    with pytest.raises(NotFoundError, match=f"no entry {idx}"):
        store.log.entry("a.example", idx)


@pytest.mark.parametrize("n", [1, 499, 500, 501, 1_250])
def test_bulk_rows_go_in_whole_and_in_order(tmp_path: Path, n: int) -> None:
    """Rows are inserted many per statement: every count, full statements or not, stores
    exactly the rows given."""
    store = Store(tmp_path / "db.sqlite", create=True)
    entries = [(i, bytes([i % 256]) * 32, b"body %d" % i, "ADD", i * 3) for i in range(n)]
    signals = [(i, "md5", bytes([i % 256]) * 16, None) for i in range(n)]
    signals += [(i, "pdq", bytes([i % 256]) * 32, i % 101) for i in range(0, n, 2)]
    signals.sort(key=lambda s: s[0])
    with store.transaction():
        result = store.log.append_chunk("a.example", entries, signals, [])
    assert store.integrity.row_counts()["entries"] == n
    stored = [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in store.log.entries("a.example")]
    assert stored == entries
    hits = store.signals.signal_hits("pdq", range(store.signals.signal_count("pdq")))
    pdq = [(r, h.idx, h.value, h.quality) for r, h in sorted(hits.items())]
    assert store.integrity.row_counts()["signals"] == n + len(pdq)
    assert pdq == [(r, i, bytes([i % 256]) * 32, i % 101) for r, i in enumerate(range(0, n, 2))]
    assert store.signals.signal_rows("md5")[0] == [bytes([i % 256]) * 16 for i in range(n)]
    assert len(result.added) == len(signals)
