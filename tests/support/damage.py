"""Deliberate damage to a node's stored log, as a failing disk or a hostile operator makes it.

Raw SQL on purpose: the store's repositories never write an entry whose bytes differ from
what was verified, so a test that needs such a row writes it behind the store's back, through
a connection of its own (the node must not hold the database open meanwhile).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path


def rewrite_entry_body(
    database: Path, origin: str, idx: int, change: Callable[[bytes], bytes]
) -> bytes:
    """Replace entry ``idx`` of ``origin`` by ``change(body)``, leaf untouched; the original."""
    conn = sqlite3.connect(database, timeout=30)
    try:
        with conn:
            (body,) = conn.execute(
                "SELECT body FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
            ).fetchone()
            changed = change(bytes(body))
            assert changed != body, "the change left the entry as it was"
            conn.execute(
                "UPDATE entries SET body = ? WHERE origin = ? AND idx = ?", [changed, origin, idx]
            )
    finally:
        conn.close()
    return bytes(body)


def flip_byte(at: int) -> Callable[[bytes], bytes]:
    """A change that flips the lowest bit of the byte at position ``at`` (negative from the end)."""

    def change(body: bytes) -> bytes:
        out = bytearray(body)
        out[at] ^= 0x01
        return bytes(out)

    return change
