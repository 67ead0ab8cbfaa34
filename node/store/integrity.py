"""Reads for ``hashfed check`` (node.service.integrity_check): checkpoints, derived rows and
SQLite's own check, in bounded chunks so that a check of millions of entries holds only one
chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence

from node.errors import StoreError
from node.store.faults import guard_store_errors
from node.store.repository import SqliteRepository
from node.store.rows import DroppedHead

QUICK_CHECK_LINES = 20

# What row_counts() counts: the log, what its entries add, and the verified heads beyond it.
COUNTED = ("entries", "signals", "checkpoints", "retractions", "opinions", "verified_heads")


class SqliteIntegrity(SqliteRepository):
    """Bounded reads of everything a check compares, SQLite's own check, and the one repair
    that puts a damaged entry back in place (node.service.repair)."""

    def checkpoint_chunk(
        self, origin: str, min_size: int, limit: int
    ) -> list[tuple[int, bytes, str, bytes]]:
        """(size, root, note, frontier) of up to ``limit`` checkpoints from ``min_size`` on."""
        rows = self.db.execute(
            "SELECT size, root, note, frontier FROM checkpoints WHERE origin = ? AND size >= ? "
            "ORDER BY size LIMIT ?",
            [origin, min_size, limit],
        ).fetchall()
        return [(int(s), bytes(r), str(n), bytes(f)) for s, r, n, f in rows]

    def entry_chunk(
        self, origin: str, start: int, limit: int, *, bodies: bool = True
    ) -> list[tuple[int, bytes, bytes | None, str]]:
        """(idx, leaf, body or None, kind) of up to ``limit`` entries from index ``start`` on,
        in log order; ``bodies=False`` reads the leaves only (far less to read)."""
        body = "body" if bodies else "NULL"
        rows = self.db.execute(
            f"SELECT idx, leaf, {body}, kind FROM entries WHERE origin = ? AND idx >= ? "
            "ORDER BY idx LIMIT ?",
            [origin, start, limit],
        ).fetchall()
        return rows  # STRICT columns: already int, bytes, bytes, str

    def entry_count(self, origin: str) -> tuple[int, int]:
        """(number of entries, highest index + 1) stored for ``origin``."""
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(idx) + 1, 0) FROM entries WHERE origin = ?", [origin]
        ).fetchone()
        return int(row[0]), int(row[1])

    def signals_between(
        self, origin: str, start: int, stop: int
    ) -> list[tuple[int, str, bytes, int | None, int]]:
        """(idx, type, value, quality, retracted) of the signal rows of entries [start, stop)."""
        rows = self.db.execute(
            "SELECT idx, type, value, quality, retracted FROM signals "
            "WHERE origin = ? AND idx >= ? AND idx < ?",
            [origin, start, stop],
        ).fetchall()
        return rows  # STRICT columns; retracted is 0 or 1

    def retracted_between(self, origin: str, start: int, stop: int) -> set[int]:
        """Targets in [start, stop) of RETRACTs that came after them (which mark their rows)."""
        rows = self.db.execute(
            "SELECT target_idx FROM retractions WHERE origin = ? AND target_idx >= ? "
            "AND target_idx < ? AND idx > target_idx",
            [origin, start, stop],
        ).fetchall()
        return {int(r[0]) for r in rows}

    def row_counts(self) -> dict[str, int]:
        """Rows held of each kind, all origins together: the totals a check or a test compares
        with what the checkpoints say (keys as in :data:`COUNTED`)."""
        return {
            name: int(self.db.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            for name in COUNTED
        }

    def quick_check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: [] when the file's structure is sound, else its
        first complaints."""
        rows = self.db.execute(f"PRAGMA quick_check({QUICK_CHECK_LINES})").fetchall()
        lines = [str(r[0]) for r in rows]
        return [] if lines == ["ok"] else lines

    def replace_entry(
        self,
        origin: str,
        idx: int,
        body: bytes,
        leaf: bytes,
        kind: str,
        signals: Sequence[tuple[str, bytes, int | None]],
    ) -> bool:
        """Put back one entry's body, leaf and kind, and its signal values where its stored
        signal rows have the same types (their row numbers, on which the match index relies,
        and their retraction marks stay). False, and nothing changed, when the rows cannot
        take the values in place. Call inside a transaction."""
        stored = self.db.execute(
            "SELECT type, row FROM signals WHERE origin = ? AND idx = ? ORDER BY type, row",
            [origin, idx],
        ).fetchall()
        if sorted(t for t, _ in stored) != sorted(t for t, _, _ in signals):
            return False
        self.db.execute(
            "UPDATE entries SET body = ?, leaf = ?, kind = ? WHERE origin = ? AND idx = ?",
            [body, leaf, kind, origin, idx],
        )
        for (signal_type, row), (_, value, quality) in zip(
            stored, sorted(signals, key=lambda s: s[0]), strict=True
        ):
            self.db.execute(
                "UPDATE signals SET value = ?, quality = ? WHERE type = ? AND row = ?",
                [value, quality, signal_type, row],
            )
        return True

    def drop_verified_head_entries(self, origin: str) -> DroppedHead:
        """Forget ``origin``'s verified head and every entry beyond its newest stored checkpoint,
        with what was derived from them: signal rows, retractions (the rows they marked
        retracted are live again) and opinions. Entries a stored checkpoint covers stay.

        For a head that can no longer be trusted (``hashfed check --repair``): those entries
        were proven only into the head's target note, and the next sync fetches them again,
        proven afresh. Signal rows must stay dense per type (the row is the match index's
        position), so the rows above the new end of each type move down into the gaps; the
        caller drops the saved index snapshot. Call inside a transaction.
        """
        conn = self.db.conn
        if not conn.in_transaction:
            raise RuntimeError("drop_verified_head_entries must run inside Store.transaction()")
        (kept,) = conn.execute(
            "SELECT COALESCE(MAX(size), 0) FROM checkpoints WHERE origin = ?", [origin]
        ).fetchone()
        targets = [
            int(t)
            for (t,) in conn.execute(
                "SELECT target_idx FROM retractions WHERE origin = ? AND idx >= ? "
                "AND target_idx < ?",
                [origin, kept, kept],
            )
        ]
        for target in targets:
            conn.execute(
                "UPDATE signals SET retracted = 0 WHERE origin = ? AND idx = ?", [origin, target]
            )
        conn.execute("DELETE FROM retractions WHERE origin = ? AND idx >= ?", [origin, kept])
        conn.execute("DELETE FROM opinions WHERE origin = ? AND idx >= ?", [origin, kept])
        types = [
            str(t)
            for (t,) in conn.execute(
                "SELECT DISTINCT type FROM signals WHERE origin = ? AND idx >= ?", [origin, kept]
            )
        ]
        ends = {
            t: int(
                conn.execute(
                    "SELECT COALESCE(MAX(row) + 1, 0) FROM signals WHERE type = ?", [t]
                ).fetchone()[0]
            )
            for t in types
        }
        gaps: dict[str, list[int]] = {}
        for signal_type, row in conn.execute(
            "DELETE FROM signals WHERE origin = ? AND idx >= ? RETURNING type, row", [origin, kept]
        ).fetchall():
            gaps.setdefault(str(signal_type), []).append(int(row))
        for signal_type, rows in gaps.items():
            self._close_signal_gaps(signal_type, ends[signal_type], rows)
        entries = conn.execute(
            "DELETE FROM entries WHERE origin = ? AND idx >= ?", [origin, kept]
        ).rowcount
        conn.execute("DELETE FROM verified_heads WHERE origin = ?", [origin])
        return DroppedHead(origin, int(kept), entries, sum(len(r) for r in gaps.values()))

    def _close_signal_gaps(self, signal_type: str, end: int, removed: list[int]) -> None:
        """Rows ``removed`` of a type that was dense in [0, end): move the rows left above the
        new end into the gaps below it, lowest first, so the type is dense again in
        [0, end - len(removed)). Only as many rows move as were removed."""
        conn = self.db.conn
        new_end = end - len(removed)
        holes = sorted(r for r in removed if r < new_end)
        movers = [
            int(r)
            for (r,) in conn.execute(
                "SELECT row FROM signals WHERE type = ? AND row >= ? ORDER BY row",
                [signal_type, new_end],
            )
        ]
        if len(movers) != len(holes):
            raise StoreError(
                f"signals of type {signal_type} were not dense before the repair "
                f"({len(movers)} rows above {new_end}, {len(holes)} gaps below); nothing changed"
            )
        for hole, row in zip(holes, movers, strict=True):
            conn.execute(
                "UPDATE signals SET row = ? WHERE type = ? AND row = ?", [hole, signal_type, row]
            )


guard_store_errors(SqliteIntegrity)
