"""Store tables for federation: members, peers, verified heads, evidence, peer statistics."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlite_utils


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class VerifiedHead:
    """Entries of ``origin`` held beyond its newest stored signed checkpoint (migration 005).

    ``size`` entries are stored; ``frontier`` is the Merkle frontier at that size; every one of
    them was proven, batch by batch, to be in the origin's signed tree of ``target_note`` (a
    larger size), so they are the origin's own. No checkpoint covers ``size`` itself: proofs
    and bundles for these entries wait until one does.
    """

    origin: str
    size: int
    frontier: bytes
    target_note: str
    updated_ms: int


@dataclass(frozen=True)
class MemberRow:
    origin: str
    verifier_key: str
    tls_certificate: str
    tls_fingerprint: str
    address: str
    trusted: bool


@dataclass(frozen=True)
class PeerRow:
    name: str
    address: str


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    origin: str
    kind: str
    first_note: str
    second_note: str
    detail: str
    peer: str | None
    detected_ms: int


@dataclass(frozen=True)
class PeerStatsRow:
    peer: str
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None
    received: int
    rejected: int
    reasons: dict[str, int]


@dataclass(frozen=True)
class PeerHealthRow:
    """How the latest sync round with a peer ended and when the next one is due
    (``node.sync.health``; migration 006)."""

    peer: str
    state: str
    reason: str | None
    consecutive_failures: int
    next_attempt_ms: int | None
    last_round_ms: int
    last_round_s: float


class FederationTables:
    """Members, peers, verified heads, evidence and peer statistics (migrations 002, 005)."""

    db: sqlite_utils.Database

    # -- members and peers ---------------------------------------------------------------------

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

    def origin_signal_rows(self, origin: str) -> list[tuple[str, int, bool]]:
        rows = self.db.execute(
            "SELECT type, row, retracted FROM signals WHERE origin = ?", [origin]
        ).fetchall()
        return [(t, int(r), bool(x)) for t, r, x in rows]

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

    # -- verified heads ------------------------------------------------------------------------
    # One row per origin whose stored entries reach beyond its newest stored checkpoint. The
    # row and the entries it describes change in one transaction, so after a crash the row
    # always names exactly the entries held.

    def verified_head(self, origin: str) -> VerifiedHead | None:
        row = self.db.conn.execute(
            "SELECT origin, size, frontier, target_note, updated_ms FROM verified_heads "
            "WHERE origin = ?",
            [origin],
        ).fetchone()
        return None if row is None else VerifiedHead(row[0], row[1], bytes(row[2]), row[3], row[4])

    def put_verified_head(self, head: VerifiedHead) -> None:
        self.db.conn.execute(
            "INSERT INTO verified_heads VALUES (?,?,?,?,?) ON CONFLICT(origin) DO UPDATE SET "
            "size = excluded.size, frontier = excluded.frontier, "
            "target_note = excluded.target_note, updated_ms = excluded.updated_ms",
            [head.origin, head.size, head.frontier, head.target_note, head.updated_ms],
        )

    def drop_verified_head(self, origin: str, *, up_to: int | None = None) -> None:
        """Forget the head of ``origin`` (only if its size is at most ``up_to``, when given:
        a checkpoint of that size now covers it)."""
        if up_to is None:
            self.db.conn.execute("DELETE FROM verified_heads WHERE origin = ?", [origin])
        else:
            self.db.conn.execute(
                "DELETE FROM verified_heads WHERE origin = ? AND size <= ?", [origin, up_to]
            )

    # -- evidence and peer statistics ----------------------------------------------------------

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
