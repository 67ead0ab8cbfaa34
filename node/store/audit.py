"""Store tables for witnessing and audit: cosignatures, witness state, auditors, read log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlite_utils

from node.store.federation import now_ms


@dataclass(frozen=True)
class CosignatureRow:
    origin: str
    size: int
    witness: str
    key_id: bytes
    timestamp: int
    line: str


@dataclass(frozen=True)
class CheckpointNoteRow:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class WitnessStateRow:
    origin: str
    size: int
    root: bytes
    cosigned_ms: int


@dataclass(frozen=True)
class AuditorRow:
    name: str
    witness_key: str | None
    tls_certificate: str
    tls_fingerprint: str
    added_ms: int


@dataclass(frozen=True)
class AuditReadRow:
    id: int
    auditor: str
    method: str
    request: str
    at_ms: int


@dataclass(frozen=True)
class OperatorLogRow:
    id: int
    action: str
    subject: str
    detail: str
    at_ms: int


class AuditTables:
    """Cosignatures, witness state, auditors and the audit logs (migration 003)."""

    db: sqlite_utils.Database

    # -- witness keys --------------------------------------------------------------------------

    def set_witness_key(self, origin: str, witness_key: str | None) -> None:
        self.db.execute("UPDATE origins SET witness_key = ? WHERE name = ?", [witness_key, origin])

    def witness_keys(self) -> dict[str, str]:
        """Witness vkey of every origin that has one (auditors excluded)."""
        rows = self.db.execute(
            "SELECT name, witness_key FROM origins WHERE witness_key IS NOT NULL"
        ).fetchall()
        return {n: k for n, k in rows}

    # -- cosignatures --------------------------------------------------------------------------

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

    def checkpoint_notes_from(
        self, origin: str, min_size: int, cosigned_only: bool, limit: int
    ) -> list[CheckpointNoteRow]:
        """Up to ``limit`` stored checkpoints of ``origin`` from ``min_size`` on, ascending; the
        work is bounded by ``limit`` however many checkpoints the origin has."""
        cosigned = (
            " AND EXISTS (SELECT 1 FROM cosignatures k WHERE k.origin = c.origin "
            "AND k.size = c.size)"
            if cosigned_only
            else ""
        )
        rows = self.db.execute(
            "SELECT size, root, note FROM checkpoints c WHERE origin = ? AND size >= ?"
            f"{cosigned} ORDER BY size LIMIT ?",
            [origin, min_size, limit],
        ).fetchall()
        return [CheckpointNoteRow(int(a), bytes(b), c) for a, b, c in rows]

    def checkpoint_at_or_below(self, origin: str, size: int) -> tuple[int, bytes] | None:
        """(size, frontier) of the largest stored checkpoint of ``origin`` not above ``size``."""
        row = self.db.execute(
            "SELECT size, frontier FROM checkpoints WHERE origin = ? AND size <= ? "
            "ORDER BY size DESC LIMIT 1",
            [origin, size],
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def leaf_range(self, origin: str, start: int, stop: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT leaf FROM entries WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def change_stamp(self) -> tuple[int, int]:
        """Changes by any connection since this one opened: (data_version, total_changes). Equal
        stamps mean no table changed, so derived values may be reused."""
        (version,) = self.db.execute("PRAGMA data_version").fetchone()
        return int(version), self.db.conn.total_changes

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

    # -- auditors ------------------------------------------------------------------------------

    def put_auditor(self, row: AuditorRow) -> None:
        self.db.execute(
            "INSERT INTO auditors VALUES (?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
            "witness_key = excluded.witness_key, tls_certificate = excluded.tls_certificate, "
            "tls_fingerprint = excluded.tls_fingerprint",
            [row.name, row.witness_key, row.tls_certificate, row.tls_fingerprint, row.added_ms],
        )

    def delete_auditor(self, name: str) -> bool:
        return self.db.execute("DELETE FROM auditors WHERE name = ?", [name]).rowcount > 0

    def auditors(self) -> list[AuditorRow]:
        rows = self.db.execute(
            "SELECT name, witness_key, tls_certificate, tls_fingerprint, added_ms FROM auditors "
            "ORDER BY name"
        ).fetchall()
        return [AuditorRow(*r) for r in rows]

    def caller_for_fingerprint(self, fingerprint: str) -> tuple[str, str] | None:
        """(name, "member" or "auditor") of the trusted member or auditor holding the TLS
        certificate with this fingerprint; one indexed lookup per peer call."""
        row = self.db.execute(
            "SELECT origin, 'member' FROM members WHERE trusted = 1 AND tls_fingerprint = ? "
            "UNION ALL SELECT name, 'auditor' FROM auditors WHERE tls_fingerprint = ? LIMIT 1",
            [fingerprint, fingerprint],
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def add_audit_read(self, auditor: str, method: str, request: str) -> None:
        self.db.execute(
            "INSERT INTO audit_reads (auditor, method, request, at_ms) VALUES (?,?,?,?)",
            [auditor, method, request, now_ms()],
        )

    def audit_reads(self, auditor: str | None = None, limit: int = 1000) -> list[AuditReadRow]:
        """Newest first."""
        sql = "SELECT id, auditor, method, request, at_ms FROM audit_reads"
        args: list[object] = []
        if auditor is not None:
            sql += " WHERE auditor = ?"
            args.append(auditor)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [AuditReadRow(*r) for r in self.db.execute(sql, args).fetchall()]

    # -- operator decisions --------------------------------------------------------------------

    def add_operator_log(self, action: str, subject: str, detail: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO operator_log (action, subject, detail, at_ms) VALUES (?,?,?,?)",
            [action, subject, detail, now_ms()],
        )
        return int(cursor.lastrowid or 0)

    def operator_log(self) -> list[OperatorLogRow]:
        rows = self.db.execute(
            "SELECT id, action, subject, detail, at_ms FROM operator_log ORDER BY id"
        ).fetchall()
        return [OperatorLogRow(*r) for r in rows]

    def clear_halt(self, origin: str) -> bool:
        return self.db.execute("DELETE FROM halted_origins WHERE origin = ?", [origin]).rowcount > 0
