"""Members and peers: the origins this node knows, the member cards it accepted (trust, pinned
TLS certificates), the nodes it peers with, and how syncing with each of them went."""

from __future__ import annotations

import json

from node.errors import NotFoundError
from node.store.faults import guard_store_errors
from node.store.repository import SqliteRepository
from node.store.rows import MemberRow, OriginRow, PeerHealthRow, PeerRow, PeerStatsRow, now_ms


class SqliteMembers(SqliteRepository):
    """Origins, members and their trust, peers, peer statistics and health (migrations 002,
    006)."""

    # -- origins -------------------------------------------------------------------------------

    def add_origin(self, name: str, verifier_key: str, *, is_self: bool) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO origins (name, verifier_key, is_self, added_ms) "
            "VALUES (?, ?, ?, ?)",
            [name, verifier_key, int(is_self), now_ms()],
        )

    def origins(self) -> list[OriginRow]:
        rows = self.db.execute("SELECT name, verifier_key, is_self FROM origins ORDER BY name")
        return [OriginRow(n, k, bool(s)) for n, k, s in rows.fetchall()]

    def origin(self, name: str) -> OriginRow:
        row = self.db.execute(
            "SELECT name, verifier_key, is_self FROM origins WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"origin {name!r} is not known to this node")
        return OriginRow(row[0], row[1], bool(row[2]))

    # -- members and trust ---------------------------------------------------------------------

    def put_member(self, row: MemberRow) -> None:
        now = now_ms()
        self.db.execute(
            "INSERT INTO origins (name, verifier_key, is_self, added_ms) VALUES (?,?,0,?) "
            "ON CONFLICT(name) DO UPDATE SET verifier_key = excluded.verifier_key",
            [row.origin, row.verifier_key, now],
        )
        self.db.execute(
            "INSERT INTO members VALUES (?,?,?,?,?,?) ON CONFLICT(origin) DO UPDATE SET "
            "tls_certificate = excluded.tls_certificate, tls_fingerprint = "
            "excluded.tls_fingerprint, address = excluded.address, trusted = excluded.trusted, "
            "changed_ms = excluded.changed_ms",
            [
                row.origin,
                row.tls_certificate,
                row.tls_fingerprint,
                row.address,
                int(row.trusted),
                now,
            ],
        )
        self.db.execute(
            "INSERT INTO trust_events (origin, trusted, at_ms) VALUES (?,?,?)",
            [row.origin, int(row.trusted), now],
        )

    def members(self) -> list[MemberRow]:
        rows = self.db.execute(
            "SELECT m.origin, o.verifier_key, m.tls_certificate, m.tls_fingerprint, m.address, "
            "m.trusted FROM members m JOIN origins o ON o.name = m.origin ORDER BY m.origin"
        ).fetchall()
        return [MemberRow(a, b, c, d, e, bool(t)) for a, b, c, d, e, t in rows]

    def is_trusted(self, origin: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM members WHERE origin = ? AND trusted = 1", [origin]
        ).fetchone()
        return row is not None

    def trust_changes_since(self, cursor: int) -> tuple[dict[str, bool], int]:
        """Latest trust state of each origin changed after ``cursor``, and the new cursor."""
        rows = self.db.execute(
            "SELECT id, origin, trusted FROM trust_events WHERE id > ? ORDER BY id", [cursor]
        ).fetchall()
        changes = {origin: bool(trusted) for _, origin, trusted in rows}
        return changes, (rows[-1][0] if rows else cursor)

    def trust_cursor(self) -> int:
        """The newest trust event's id (what :meth:`trust_changes_since` returns as its cursor)."""
        row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM trust_events").fetchone()
        return int(row[0])

    def caller_for_fingerprint(self, fingerprint: str) -> tuple[str, str] | None:
        """(name, "member" or "auditor") of the trusted member or auditor holding the TLS
        certificate with this fingerprint; one indexed lookup per peer call."""
        row = self.db.execute(
            "SELECT origin, 'member' FROM members WHERE trusted = 1 AND tls_fingerprint = ? "
            "UNION ALL SELECT name, 'auditor' FROM auditors WHERE tls_fingerprint = ? LIMIT 1",
            [fingerprint, fingerprint],
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    # -- peers ---------------------------------------------------------------------------------

    def put_peer(self, name: str, address: str) -> None:
        self.db.execute(
            "INSERT INTO peers VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET "
            "address = excluded.address",
            [name, address, now_ms()],
        )

    def delete_peer(self, name: str) -> bool:
        # A peer added again starts with a clean schedule, not its old back-off.
        self.db.execute("DELETE FROM peer_health WHERE peer = ?", [name])
        return self.db.execute("DELETE FROM peers WHERE name = ?", [name]).rowcount > 0

    def peers(self) -> list[PeerRow]:
        rows = self.db.execute("SELECT name, address FROM peers ORDER BY name").fetchall()
        return [PeerRow(n, a) for n, a in rows]

    def record_peer(
        self,
        peer: str,
        *,
        received: int = 0,
        rejected: int = 0,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        now = now_ms()
        row = self.db.execute("SELECT reasons FROM peer_stats WHERE peer = ?", [peer]).fetchone()
        reasons: dict[str, int] = json.loads(row[0]) if row else {}
        if reason:
            reasons[reason] = reasons.get(reason, 0) + rejected
        self.db.execute(
            "INSERT INTO peer_stats VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(peer) DO UPDATE SET "
            "last_success_ms = COALESCE(excluded.last_success_ms, last_success_ms), "
            "last_error = COALESCE(excluded.last_error, last_error), "
            "last_error_ms = COALESCE(excluded.last_error_ms, last_error_ms), "
            "received = received + excluded.received, rejected = rejected + excluded.rejected, "
            "reasons = excluded.reasons",
            [
                peer,
                None if error else now,
                error,
                now if error else None,
                received,
                rejected,
                json.dumps(reasons, sort_keys=True),
            ],
        )

    def peer_stats(self) -> dict[str, PeerStatsRow]:
        rows = self.db.execute("SELECT * FROM peer_stats").fetchall()
        return {
            r[0]: PeerStatsRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6])) for r in rows
        }

    def put_peer_health(self, row: PeerHealthRow) -> None:
        self.db.execute(
            "INSERT INTO peer_health VALUES (?,?,?,?,?,?,?) ON CONFLICT(peer) DO UPDATE SET "
            "state = excluded.state, reason = excluded.reason, "
            "consecutive_failures = excluded.consecutive_failures, "
            "next_attempt_ms = excluded.next_attempt_ms, last_round_ms = excluded.last_round_ms, "
            "last_round_s = excluded.last_round_s",
            [
                row.peer,
                row.state,
                row.reason,
                row.consecutive_failures,
                row.next_attempt_ms,
                row.last_round_ms,
                float(row.last_round_s),
            ],
        )

    def peer_health(self) -> dict[str, PeerHealthRow]:
        rows = self.db.execute(
            "SELECT peer, state, reason, consecutive_failures, next_attempt_ms, last_round_ms, "
            "last_round_s FROM peer_health"
        ).fetchall()
        return {r[0]: PeerHealthRow(*r) for r in rows}


guard_store_errors(SqliteMembers)
