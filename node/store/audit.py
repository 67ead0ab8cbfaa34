"""Audit: the auditors admitted to read, every read they made, the operator's decisions, and
the evidence of equivocation that halts an origin (migrations 002, 003)."""

from __future__ import annotations

from node.store.faults import guard_store_errors
from node.store.repository import SqliteRepository
from node.store.rows import AuditorRow, AuditReadRow, EvidenceRow, OperatorLogRow, now_ms


class SqliteAudit(SqliteRepository):
    """Auditors and their reads, the operator log, evidence and halted origins."""

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

    # -- evidence ------------------------------------------------------------------------------

    def add_evidence(
        self, origin: str, kind: str, first: str, second: str, detail: str, peer: str | None
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO evidence (origin, kind, first_note, second_note, detail, peer, "
            "detected_ms) VALUES (?,?,?,?,?,?,?)",
            [origin, kind, first, second, detail, peer, now_ms()],
        )
        evidence_id = int(cursor.lastrowid or 0)
        self.db.execute(
            "INSERT OR IGNORE INTO halted_origins VALUES (?,?,?)", [origin, evidence_id, now_ms()]
        )
        return evidence_id

    def evidence(self) -> list[EvidenceRow]:
        rows = self.db.execute(
            "SELECT id, origin, kind, first_note, second_note, detail, peer, detected_ms "
            "FROM evidence ORDER BY id"
        ).fetchall()
        return [EvidenceRow(*r) for r in rows]

    def halted_origins(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT origin FROM halted_origins").fetchall()}

    def clear_halt(self, origin: str) -> bool:
        return self.db.execute("DELETE FROM halted_origins WHERE origin = ?", [origin]).rowcount > 0


guard_store_errors(SqliteAudit)
