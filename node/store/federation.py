"""Store tables for federation: members, peers, staged entries, evidence, peer statistics."""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import sqlite_utils


def now_ms() -> int:
    return time.time_ns() // 1_000_000


MAX_STAGED_GROUP = 65_536
"""Most entries in one ``staged_groups`` row (a sync stages groups of about 8,000)."""


def _pack_lengths(bodies: Sequence[bytes]) -> bytes:
    return struct.pack(f"<{len(bodies)}I", *map(len, bodies))


def _unpack(count: int, lengths: bytes, data: bytes) -> list[bytes]:
    """The bodies of one staged group; ValueError if the row is not a well-formed group."""
    try:
        sizes = struct.unpack(f"<{count}I", lengths)
    except struct.error as exc:
        raise ValueError(f"staged group of {count} entries has malformed lengths") from exc
    ends = list(accumulate(sizes))
    if (ends[-1] if ends else 0) != len(data):
        raise ValueError(f"staged group of {count} entries has {len(data)} bytes of bodies")
    data = bytes(data)
    return [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


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
    """Members, peers, staging, evidence and peer statistics (migration 002)."""

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

    # -- staging -------------------------------------------------------------------------------
    # Staged entries are kept in groups (migration 004): one ``staged_groups`` row per group of
    # consecutive entries from one peer, keyed by (origin, peer, first index), with the bodies
    # end to end and their lengths beside them. Writing and deleting a group is one row, not
    # thousands; the ``staged_entries`` view still lists one (origin, peer, idx) row per entry.
    # Groups of one (origin, peer) never overlap: staging replaces whatever was staged at the
    # same indices, exactly as one row per entry did.

    def stage(self, origin: str, peer: str, start: int, bodies: Sequence[bytes]) -> None:
        if not bodies:
            return
        self._cut_staged(origin, peer, start, start + len(bodies))
        conn = self.db.conn
        for first in range(0, len(bodies), MAX_STAGED_GROUP):
            part = bodies[first : first + MAX_STAGED_GROUP]
            conn.execute(
                "INSERT INTO staged_groups (origin, peer, start, count, lengths, bodies) "
                "VALUES (?,?,?,?,?,?)",
                [origin, peer, start + first, len(part), _pack_lengths(part), b"".join(part)],
            )

    def staged(self, origin: str, peer: str, start: int) -> list[bytes]:
        """The contiguous run of staged bodies from ``start`` on."""
        rows = self.db.conn.execute(
            "SELECT start, count, lengths, bodies FROM staged_groups "
            "WHERE origin = ? AND peer = ? AND start + count > ? ORDER BY start",
            [origin, peer, start],
        )
        out: list[bytes] = []
        for first, count, lengths, data in rows:
            position = start + len(out)
            if first > position:
                break
            try:
                out.extend(_unpack(count, lengths, data)[position - first :])
            except ValueError:
                break  # an unreadable group ends the run: it is fetched again
        return out

    def discard_staged(
        self, origin: str, peer: str | None = None, below: int | None = None
    ) -> None:
        if below is None:
            sql = "DELETE FROM staged_groups WHERE origin = ?"
            args: list[object] = [origin]
            if peer is not None:
                sql += " AND peer = ?"
                args.append(peer)
            self.db.conn.execute(sql, args)
            return
        for p in [peer] if peer is not None else self._staging_peers(origin):
            self._cut_staged(origin, p, 0, below)

    def _staging_peers(self, origin: str) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT DISTINCT peer FROM staged_groups WHERE origin = ?", [origin]
        ).fetchall()
        return [str(r[0]) for r in rows]

    def _cut_staged(self, origin: str, peer: str, start: int, end: int) -> None:
        """Remove staged entries ``[start, end)`` of (origin, peer), keeping the rest of any
        group that reaches outside the range."""
        conn = self.db.conn
        hit = conn.execute(
            "SELECT start, count FROM staged_groups "
            "WHERE origin = ? AND peer = ? AND start < ? AND start + count > ?",
            [origin, peer, end, start],
        ).fetchall()
        for first, count in hit:
            if start <= first and first + count <= end:
                conn.execute(
                    "DELETE FROM staged_groups WHERE origin = ? AND peer = ? AND start = ?",
                    [origin, peer, first],
                )
                continue
            lengths, data = conn.execute(
                "DELETE FROM staged_groups WHERE origin = ? AND peer = ? AND start = ? "
                "RETURNING lengths, bodies",
                [origin, peer, first],
            ).fetchone()
            try:
                bodies = _unpack(count, lengths, data)
            except ValueError:
                continue  # unreadable: dropped whole, fetched again if needed
            for keep_start, part in (
                (first, bodies[: max(0, start - first)]),
                (max(first, end), bodies[max(0, end - first) :]),
            ):
                if part:
                    conn.execute(
                        "INSERT INTO staged_groups (origin, peer, start, count, lengths, bodies) "
                        "VALUES (?,?,?,?,?,?)",
                        [origin, peer, keep_start, len(part), _pack_lengths(part), b"".join(part)],
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
