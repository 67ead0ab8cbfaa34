"""peer_health (migration 006): one STRICT row per peer, replaced each round, gone with the peer."""

from __future__ import annotations

from pathlib import Path

from node.store.rows import PeerHealthRow
from node.store.store import Store


def test_peer_health_is_kept_in_a_strict_table_and_forgotten_with_the_peer(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "db.sqlite", create=True)
    assert "006_peer_health" in store.migrations()
    sql = store.db.execute("SELECT sql FROM sqlite_master WHERE name = 'peer_health'").fetchone()
    assert sql[0].rstrip().endswith("STRICT")
    row = PeerHealthRow("p.example", "lying", "20 entries rejected", 2, 9_000, 8_000, 1.5)
    with store.transaction():
        store.members.put_peer("p.example", "127.0.0.1:1")
        store.members.put_peer_health(row)
    assert store.members.peer_health() == {"p.example": row}
    newer = PeerHealthRow("p.example", "healthy", None, 0, 20_000, 19_000, 0.2)
    with store.transaction():
        store.members.put_peer_health(newer)
    assert store.members.peer_health() == {"p.example": newer}
    with store.transaction():
        store.members.delete_peer("p.example")
    assert store.members.peer_health() == {}
    store.close()
