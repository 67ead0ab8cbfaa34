"""Reads for ``hashfed check`` (node.service.integrity_check): checkpoints, derived rows and
SQLite's own check, in bounded chunks so that a check of millions of entries holds only one
chunk at a time."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlite_utils

QUICK_CHECK_LINES = 20


class IntegrityReads:
    db: sqlite_utils.Database
    path: Path

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
