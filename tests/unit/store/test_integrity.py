"""Store.drop_verified_head_entries on a real SQLite file: what a damaged head's repair removes,
what it keeps, and that the signal rows stay dense for the match index."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import StoreError
from node.store.rows import EntryRow, OpinionRow, SignalRow, StoredCheckpoint, VerifiedHead
from node.store.store import Store

X, Y = "x.example", "y.example"


def _add(idx: int, value: int) -> EntryRow:
    signals = (SignalRow("md5", bytes([value]) * 16, None),)
    return EntryRow(idx, bytes([idx]) * 32, b"body", "ADD", 0, signals)


def _store(tmp_path: Path) -> Store:
    """X: entries 0, 1 under checkpoint 2, then 2..5 in a head (an ADD, a RETRACT of entry 0,
    an ADD, an OPINION); Y: two ADDs synced after, whose md5 rows follow X's head rows."""
    store = Store(tmp_path / "hashfed.db", create=True)
    store.members.add_origin(X, "x-key", is_self=False)
    store.members.add_origin(Y, "y-key", is_self=False)
    with store.transaction():
        store.log.append(
            X, [_add(0, 0x10), _add(1, 0x11)], StoredCheckpoint(X, 2, b"r" * 32, "n", b"", 0)
        )
        head = [
            _add(2, 0x12),
            EntryRow(3, b"\x03" * 32, b"body", "RETRACT", 0, retracts=0),
            _add(4, 0x14),
            EntryRow(
                5,
                b"\x05" * 32,
                b"body",
                "OPINION",
                0,
                opinion=OpinionRow(Y, 0, b"l" * 32, "true_positive", True),
            ),
        ]
        store.log.append_chunk(
            X,
            [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in head],
            [(e.idx, s.type, s.value, s.quality) for e in head for s in e.signals],
            [e for e in head if e.retracts is not None or e.opinion is not None],
        )
        store.log.put_verified_head(VerifiedHead(X, 6, b"f" * 32, "target", 0))
        store.log.append(
            Y, [_add(0, 0x20), _add(1, 0x21)], StoredCheckpoint(Y, 2, b"s" * 32, "n", b"", 0)
        )
    return store


def _md5(store: Store) -> list[tuple[int, str, int, bytes, int]]:
    rows = store.db.execute(
        "SELECT row, origin, idx, value, retracted FROM signals WHERE type = 'md5' ORDER BY row"
    ).fetchall()
    return [(r, o, i, bytes(v)[:1], t) for r, o, i, v, t in rows]


def test_the_head_and_what_derives_from_its_entries_go_and_the_rows_stay_dense(
    tmp_path: Path,
) -> None:
    store = _store(tmp_path)
    assert _md5(store)[0] == (0, X, 0, b"\x10", 1)  # retracted by entry 3, beyond the checkpoint
    with store.transaction():
        dropped = store.integrity.drop_verified_head_entries(X)
    assert (dropped.kept, dropped.entries, dropped.signal_rows) == (2, 4, 2)
    assert store.integrity.entry_count(X) == (2, 2) and store.integrity.entry_count(Y) == (2, 2)
    assert store.log.verified_head(X) is None
    assert store.log.latest_checkpoint(X) is not None
    # Y's rows moved down into the gaps X's head left; entry 0 of X is live again.
    assert _md5(store) == [
        (0, X, 0, b"\x10", 0),
        (1, X, 1, b"\x11", 0),
        (2, Y, 0, b"\x20", 0),
        (3, Y, 1, b"\x21", 0),
    ]
    assert store.signals.signal_rows("md5")[1] == []  # dense from 0, nothing dead
    assert store.db.execute("SELECT COUNT(*) FROM retractions").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM opinions").fetchone()[0] == 0


def test_nothing_changes_when_the_rows_were_not_dense(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.db.execute("DELETE FROM signals WHERE origin = ? AND idx = 1", [Y])
    store.db.execute("UPDATE signals SET row = 9 WHERE origin = ? AND idx = 0", [Y])
    before = _md5(store)
    with pytest.raises(StoreError, match="not dense"), store.transaction():
        store.integrity.drop_verified_head_entries(X)
    assert _md5(store) == before and store.integrity.entry_count(X) == (6, 6)
    assert store.log.verified_head(X) is not None


def test_it_runs_only_inside_a_transaction(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with pytest.raises(RuntimeError, match="inside"):
        store.integrity.drop_verified_head_entries(X)
