"""The logs: every origin's entries, its signed checkpoints, and the verified heads beyond them.

Every append (entries, their derived rows, and the checkpoint that covers them) runs in one
transaction of the caller's (:meth:`node.store.store.Store.transaction`), so a process killed
at any instant leaves the previous checkpoint and never half a batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from node.errors import NotFoundError
from node.log.entry import INDEX_LIMIT
from node.store import append as bulk
from node.store.faults import guard_store_errors
from node.store.repository import SqliteRepository
from node.store.rows import (
    AppendResult,
    CheckpointNoteRow,
    EntryRow,
    StoredCheckpoint,
    VerifiedHead,
)

_CHECKPOINT = "SELECT origin, size, root, note, frontier, received_ms FROM checkpoints "


class SqliteLog(SqliteRepository):
    """Entries, checkpoints, retractions and opinions as logged, and verified heads."""

    # -- checkpoints ---------------------------------------------------------------------------

    def latest_checkpoint(self, origin: str) -> StoredCheckpoint | None:
        row = self.db.execute(
            _CHECKPOINT + "WHERE origin = ? ORDER BY size DESC LIMIT 1", [origin]
        ).fetchone()
        return None if row is None else StoredCheckpoint(*row)

    def checkpoint_at(self, origin: str, size: int) -> StoredCheckpoint | None:
        row = self.db.execute(
            _CHECKPOINT + "WHERE origin = ? AND size = ?", [origin, size]
        ).fetchone()
        return None if row is None else StoredCheckpoint(*row)

    def checkpoints(self, origin: str) -> list[StoredCheckpoint]:
        rows = self.db.execute(_CHECKPOINT + "WHERE origin = ? ORDER BY size", [origin])
        return [StoredCheckpoint(*r) for r in rows.fetchall()]

    def put_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a checkpoint (the one covering entries appended in this transaction)."""
        self.db.conn.execute(
            "INSERT INTO checkpoints (origin, size, root, note, frontier, received_ms) "
            "VALUES (?,?,?,?,?,?)",
            [
                checkpoint.origin,
                checkpoint.size,
                checkpoint.root,
                checkpoint.note,
                checkpoint.frontier,
                checkpoint.received_ms,
            ],
        )

    def newest_checkpoints(self) -> dict[str, tuple[int, bytes]]:
        """(size, root) of every origin's newest stored checkpoint.

        One primary-key lookup per known origin, not a scan: a node that publishes one entry
        at a time holds a checkpoint per entry.
        """
        out: dict[str, tuple[int, bytes]] = {}
        with self.snapshot():
            for (origin,) in self.db.execute("SELECT name FROM origins").fetchall():
                latest = self.latest_checkpoint(origin)
                if latest is not None:
                    out[origin] = (latest.size, bytes(latest.root))
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

    # -- appending -----------------------------------------------------------------------------

    def append(
        self, origin: str, entries: Sequence[EntryRow], checkpoint: StoredCheckpoint
    ) -> AppendResult:
        """Store entries and the checkpoint covering them. Call inside a transaction."""
        result = self.append_chunk(
            origin,
            [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in entries],
            [(e.idx, s.type, s.value, s.quality) for e in entries for s in e.signals],
            [e for e in entries if e.retracts is not None or e.opinion is not None],
        )
        self.put_checkpoint(checkpoint)
        return result

    def append_chunk(
        self,
        origin: str,
        entries: Sequence[tuple[int, bytes, bytes, str, int]],
        signals: Sequence[tuple[int, str, bytes, int | None]],
        special: Sequence[EntryRow],
        *,
        indexed: bool = True,
    ) -> AppendResult:
        """Store consecutive entries without a checkpoint: one part of a larger append
        (:func:`node.store.append.append_chunk` says how)."""
        return bulk.append_chunk(self.db.conn, origin, entries, signals, special, indexed=indexed)

    # -- entries -------------------------------------------------------------------------------

    def entry(self, origin: str, idx: int) -> tuple[bytes, bytes]:
        """(body, leaf) of one entry."""
        # An index beyond any log (a signed entry's reference, an operator's typo) is not in the
        # store, and SQLite could not even compare it.
        row = (
            self.db.execute(
                "SELECT body, leaf FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
            ).fetchone()
            if 0 <= idx < INDEX_LIMIT
            else None
        )
        if row is None:
            raise NotFoundError(f"origin {origin!r} has no entry {idx} on this node")
        return bytes(row[0]), bytes(row[1])

    def entries(self, origin: str, start: int = 0, stop: int | None = None) -> Iterator[EntryRow]:
        stop = 2**62 if stop is None else stop
        rows = self.db.execute(
            "SELECT idx, leaf, body, kind, create_ms FROM entries "
            "WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        )
        for idx, leaf, body, kind, create_ms in rows:
            yield EntryRow(idx, bytes(leaf), bytes(body), kind, create_ms)

    def bodies(self, origin: str, start: int, stop: int) -> list[bytes]:
        """Bodies of entries ``[start, stop)`` in log order: :meth:`entries` without a record
        per row (what serving a stream needs)."""
        rows = self.db.conn.execute(
            "SELECT body FROM entries WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        ).fetchall()
        return [bytes(body) for (body,) in rows]

    def leaves(self, origin: str, size: int) -> list[bytes]:
        return self.leaf_range(origin, 0, size)

    def leaf_range(self, origin: str, start: int, stop: int) -> list[bytes]:
        rows = self.db.execute(
            "SELECT leaf FROM entries WHERE origin = ? AND idx >= ? AND idx < ? ORDER BY idx",
            [origin, start, stop],
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def counts(self, origin: str) -> dict[str, int]:
        """Entries of ``origin`` by kind (ADD, RETRACT, OPINION)."""
        rows = self.db.execute(
            "SELECT kind, COUNT(*) FROM entries WHERE origin = ? GROUP BY kind", [origin]
        )
        return {k: int(c) for k, c in rows.fetchall()}

    # -- what entries say about earlier ones ---------------------------------------------------

    def retraction_of(self, origin: str, target_idx: int) -> int | None:
        """The index of the RETRACT that took effect on entry ``target_idx``, if any."""
        row = self.db.execute(
            "SELECT idx FROM retractions WHERE origin = ? AND target_idx = ?", [origin, target_idx]
        ).fetchone()
        return None if row is None else int(row[0])

    def is_retracted(self, origin: str, idx: int) -> bool:
        return self.retraction_of(origin, idx) is not None

    def retractions(self, origin: str) -> list[tuple[int, int]]:
        """(target index, RETRACT index) of every retraction that took effect in ``origin``."""
        rows = self.db.execute(
            "SELECT target_idx, idx FROM retractions WHERE origin = ? ORDER BY target_idx",
            [origin],
        ).fetchall()
        return [(int(t), int(i)) for t, i in rows]

    def opinions_on(self, origin: str, idx: int, leaf: bytes) -> list[tuple[str, str, bool]]:
        """Each author's latest opinion on exactly these bytes: (author, verdict, agrees)."""
        rows = self.db.execute(
            "SELECT origin, verdict, agrees FROM opinions o "
            "WHERE target_origin = ? AND target_idx = ? AND target_leaf = ? "
            # Only authors we trust (or ourselves) count; equivocating origins do not.
            "AND (o.origin IN (SELECT name FROM origins WHERE is_self = 1) "
            "OR o.origin IN (SELECT origin FROM members WHERE trusted = 1)) "
            "AND o.origin NOT IN (SELECT origin FROM halted_origins) "
            "AND idx = (SELECT MAX(idx) FROM opinions p WHERE p.origin = o.origin "
            "AND p.target_origin = o.target_origin AND p.target_idx = o.target_idx "
            "AND p.target_leaf = o.target_leaf) ORDER BY origin",
            [origin, idx, leaf],
        )
        return [(a, v, bool(g)) for a, v, g in rows.fetchall()]

    def opinion_indices(self, origin: str) -> list[int]:
        """Indices of the OPINION entries of ``origin`` whose opinion was recorded."""
        rows = self.db.execute(
            "SELECT idx FROM opinions WHERE origin = ? ORDER BY idx", [origin]
        ).fetchall()
        return [int(r[0]) for r in rows]

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


guard_store_errors(SqliteLog)
