"""Witnessing: the witness keys of origins, the cosignatures of checkpoints, and the newest
checkpoint of each origin this node cosigned (migration 003)."""

from __future__ import annotations

from collections.abc import Sequence

from node.store.faults import guard_store_errors
from node.store.repository import SqliteRepository
from node.store.rows import CosignatureRow, WitnessStateRow, now_ms


class SqliteWitnessing(SqliteRepository):
    """Witness keys, cosignatures and this node's own witness state."""

    def set_witness_key(self, origin: str, witness_key: str | None) -> None:
        self.db.execute("UPDATE origins SET witness_key = ? WHERE name = ?", [witness_key, origin])

    def witness_keys(self) -> dict[str, str]:
        """Witness vkey of every origin that has one (auditors excluded)."""
        rows = self.db.execute(
            "SELECT name, witness_key FROM origins WHERE witness_key IS NOT NULL"
        ).fetchall()
        return {n: k for n, k in rows}

    def put_cosignatures(self, rows: Sequence[CosignatureRow]) -> int:
        """Keep verified cosignatures; a newer one from the same witness replaces the older."""
        now = now_ms()
        before = self.db.conn.total_changes
        # A row from another key of the same witness (rotated) replaces the old one too.
        self.db.conn.executemany(
            "INSERT INTO cosignatures VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT(origin, size, witness) DO UPDATE SET key_id = excluded.key_id, "
            "timestamp = excluded.timestamp, line = excluded.line, "
            "received_ms = excluded.received_ms "
            "WHERE excluded.timestamp > cosignatures.timestamp "
            "OR excluded.key_id != cosignatures.key_id",
            [(r.origin, r.size, r.witness, r.key_id, r.timestamp, r.line, now) for r in rows],
        )
        return self.db.conn.total_changes - before

    def cosignatures(
        self, origin: str, min_size: int = 0, max_size: int | None = None
    ) -> dict[int, list[CosignatureRow]]:
        """Cosignatures of checkpoints sized ``min_size..max_size``, by size, witnesses in name
        order."""
        rows = self.db.execute(
            "SELECT origin, size, witness, key_id, timestamp, line FROM cosignatures "
            "WHERE origin = ? AND size >= ? AND size <= ? ORDER BY size, witness",
            [origin, min_size, 2**63 - 1 if max_size is None else max_size],
        ).fetchall()
        out: dict[int, list[CosignatureRow]] = {}
        for r in rows:
            out.setdefault(r[1], []).append(CosignatureRow(*r))
        return out

    def witness_state(self, origin: str) -> WitnessStateRow | None:
        row = self.db.execute(
            "SELECT origin, size, root, cosigned_ms FROM witness_state WHERE origin = ?", [origin]
        ).fetchone()
        return None if row is None else WitnessStateRow(*row)

    def put_witness_state(self, origin: str, size: int, root: bytes) -> None:
        self.db.execute(
            "INSERT INTO witness_state VALUES (?,?,?,?) ON CONFLICT(origin) DO UPDATE SET "
            "size = excluded.size, root = excluded.root, cosigned_ms = excluded.cosigned_ms",
            [origin, size, root, now_ms()],
        )


guard_store_errors(SqliteWitnessing)
