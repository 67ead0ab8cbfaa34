"""Staging in groups (migration 004): same answers as one row per entry, fewer rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from node.store.store import Store

ORG, P, Q = "o.example", "p.example", "q.example"


def bodies(first: int, count: int, tag: str = "") -> list[bytes]:
    return [f"{tag}entry {i}".encode() * (1 + i % 3) for i in range(first, first + count)]


def open_store(tmp_path: Path) -> Store:
    return Store(tmp_path / "db.sqlite", create=True)


def staged_count(store: Store, origin: str, peer: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM staged_entries WHERE origin = ?"
    args: list[object] = [origin]
    if peer is not None:
        sql += " AND peer = ?"
        args.append(peer)
    return int(store.db.execute(sql, args).fetchone()[0])


def test_groups_read_back_as_one_contiguous_run(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.transaction():
        store.stage(ORG, P, 0, bodies(0, 10))
        store.stage(ORG, P, 10, bodies(10, 5))
        store.stage(ORG, P, 20, bodies(20, 5))  # after a gap: not part of the run
    assert store.staged(ORG, P, 0) == bodies(0, 15)
    assert store.staged(ORG, P, 7) == bodies(7, 8)
    assert store.staged(ORG, P, 15) == []
    assert store.staged(ORG, P, 22) == bodies(22, 3)
    assert store.staged(ORG, Q, 0) == []
    assert staged_count(store, ORG) == 20
    rows = store.db.execute("SELECT idx FROM staged_entries WHERE origin = ? ORDER BY idx", [ORG])
    assert [r[0] for r in rows] == [*range(15), *range(20, 25)]


def test_restaging_replaces_exactly_the_same_indices(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.transaction():
        store.stage(ORG, P, 0, bodies(0, 10))
        store.stage(ORG, P, 4, bodies(4, 3, "new "))
    assert store.staged(ORG, P, 0) == bodies(0, 4) + bodies(4, 3, "new ") + bodies(7, 3)
    assert staged_count(store, ORG) == 10


def test_discard_below_keeps_the_rest_of_a_straddling_group(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    with store.transaction():
        store.stage(ORG, P, 0, bodies(0, 10))
        store.stage(ORG, P, 10, bodies(10, 10))
        store.stage(ORG, Q, 0, bodies(0, 30, "q "))
        store.stage(P, P, 0, bodies(0, 3))
        store.discard_staged(ORG, below=15)
    assert store.staged(ORG, P, 15) == bodies(15, 5)
    assert store.staged(ORG, P, 0) == []
    assert store.staged(ORG, Q, 15) == bodies(15, 15, "q ")
    assert staged_count(store, ORG) == 5 + 15
    with store.transaction():
        store.discard_staged(ORG, Q)
    assert staged_count(store, ORG, Q) == 0 and staged_count(store, ORG, P) == 5
    with store.transaction():
        store.discard_staged(ORG)
    assert staged_count(store, ORG) == 0
    assert store.staged(P, P, 0) == bodies(0, 3)


def test_empty_bodies_and_large_groups(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    many = [b"x" * (i % 7) for i in range(70_000)]  # includes empty bodies, more than a group
    with store.transaction():
        store.stage(ORG, P, 5, many)
    assert store.staged(ORG, P, 5) == many
    assert staged_count(store, ORG) == 70_000


def test_rows_staged_before_004_move_into_groups(tmp_path: Path) -> None:
    from node.store import migrations

    path = tmp_path / "old.sqlite"
    old = tuple(m for m in migrations.MIGRATIONS if m[0] < "004")
    real = migrations.MIGRATIONS
    migrations.MIGRATIONS = old
    try:
        import node.store.store as store_module

        store_module.MIGRATIONS = old
        Store(path, create=True).close()
    finally:
        migrations.MIGRATIONS = real
        store_module.MIGRATIONS = real
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO staged_entries VALUES (?,?,?,?)",
        [(ORG, P, i, b) for i, b in enumerate(bodies(0, 6))]
        + [(ORG, P, 8 + i, b) for i, b in enumerate(bodies(8, 2))]
        + [(ORG, Q, 3, b"q")],
    )
    db.commit()
    db.close()
    store = Store(path)
    assert "004_staged_groups" in store.migrations()
    assert store.staged(ORG, P, 0) == bodies(0, 6)
    assert store.staged(ORG, P, 8) == bodies(8, 2)
    assert store.staged(ORG, Q, 3) == [b"q"]
    assert staged_count(store, ORG) == 9
