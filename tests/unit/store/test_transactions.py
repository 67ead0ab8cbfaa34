"""Store.transaction() nests: an inner call is a savepoint of the outer transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.errors import StoreError
from node.store.rows import StoredCheckpoint
from node.store.store import Store

A = "a.example"


class _PlannedError(Exception):
    pass


def _checkpoint(size: int) -> StoredCheckpoint:
    return StoredCheckpoint(A, size, bytes([size]) * 32, f"note {size}\n", b"f" * 32, 0)


def _sizes(store: Store) -> list[int]:
    return [c.size for c in store.log.checkpoints(A)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "db.sqlite", create=True)


def test_a_nested_transaction_commits_with_the_outer(store: Store, tmp_path: Path) -> None:
    with store.transaction():
        store.log.put_checkpoint(_checkpoint(1))
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(2))
        assert _sizes(store) == [1, 2]
        # Not yet visible to another connection: the savepoint did not commit anything.
        other = Store(tmp_path / "db.sqlite")
        assert other.log.checkpoints(A) == []
        other.close()
    assert _sizes(store) == [1, 2]
    again = Store(tmp_path / "db.sqlite")
    assert [c.size for c in again.log.checkpoints(A)] == [1, 2]


def test_a_failed_nested_transaction_is_undone_and_the_outer_commits(store: Store) -> None:
    with store.transaction():
        store.log.put_checkpoint(_checkpoint(1))
        with pytest.raises(_PlannedError), store.transaction():
            store.log.put_checkpoint(_checkpoint(2))
            raise _PlannedError
        assert _sizes(store) == [1]
        store.log.put_checkpoint(_checkpoint(3))
    assert _sizes(store) == [1, 3]
    assert not store.db.conn.in_transaction


def test_a_constraint_broken_in_a_nested_transaction_leaves_the_outer_usable(
    store: Store,
) -> None:
    with store.transaction():
        store.log.put_checkpoint(_checkpoint(1))
        with pytest.raises(sqlite3.IntegrityError), store.transaction():
            store.log.put_checkpoint(_checkpoint(2))
            store.log.put_checkpoint(_checkpoint(1))  # the same size twice
        store.log.put_checkpoint(_checkpoint(4))
    assert _sizes(store) == [1, 4]


def test_a_failed_outer_transaction_undoes_the_inner_work(store: Store) -> None:
    with pytest.raises(_PlannedError), store.transaction():
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(1))
            with store.transaction():
                store.log.put_checkpoint(_checkpoint(2))
        raise _PlannedError
    assert _sizes(store) == []
    assert not store.db.conn.in_transaction
    with store.transaction():  # and the next transaction starts afresh
        store.log.put_checkpoint(_checkpoint(5))
    assert _sizes(store) == [5]


def test_savepoints_nest_several_levels(store: Store) -> None:
    with store.transaction():
        store.log.put_checkpoint(_checkpoint(1))
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(2))
            with pytest.raises(_PlannedError), store.transaction():
                store.log.put_checkpoint(_checkpoint(3))
                raise _PlannedError
            store.log.put_checkpoint(_checkpoint(4))
    assert _sizes(store) == [1, 2, 4]


def test_a_write_transaction_cannot_start_inside_a_read_snapshot(store: Store) -> None:
    with (
        pytest.raises(RuntimeError, match="transaction_read"),
        store.transaction_read(),
        store.transaction(),
    ):
        pass  # pragma: no cover - never entered
    assert not store.db.conn.in_transaction


def test_a_read_snapshot_inside_a_transaction_sees_its_writes(store: Store) -> None:
    with store.transaction():
        store.log.put_checkpoint(_checkpoint(1))
        with store.transaction_read():
            assert _sizes(store) == [1]
    assert _sizes(store) == [1]


def test_durable_wraps_a_nested_transaction(store: Store) -> None:
    def synchronous() -> int:
        return int(store.db.execute("PRAGMA synchronous").fetchone()[0])

    with store.durable(), store.transaction():
        assert synchronous() == 2  # FULL
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(1))
    assert synchronous() == 1  # NORMAL again
    assert _sizes(store) == [1]


def test_exclusive_takes_nested_transactions_as_savepoints(store: Store) -> None:
    with store.exclusive():
        store.log.put_checkpoint(_checkpoint(1))
        with pytest.raises(_PlannedError), store.transaction():
            store.log.put_checkpoint(_checkpoint(2))
            raise _PlannedError
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(3))
    assert _sizes(store) == [1, 3]
    with pytest.raises(_PlannedError), store.exclusive():
        with store.transaction():
            store.log.put_checkpoint(_checkpoint(6))
        raise _PlannedError
    assert _sizes(store) == [1, 3]
    with store.transaction():  # the exclusive lock was given back
        store.log.put_checkpoint(_checkpoint(7))
    assert _sizes(store) == [1, 3, 7]


def test_exclusive_refuses_while_another_connection_writes(store: Store, tmp_path: Path) -> None:
    other = Store(tmp_path / "db.sqlite")
    with other.transaction(), pytest.raises(StoreError, match="to itself"), store.exclusive():
        pass  # pragma: no cover - never entered
    other.close()
    with store.exclusive():
        store.log.put_checkpoint(_checkpoint(1))
    assert _sizes(store) == [1]
