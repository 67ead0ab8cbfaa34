"""Bulk inserts that bind a few values per chunk instead of several per row.

A multi-row ``INSERT ... VALUES`` binds every value of every row from Python, holding the GIL
for each: about 1 µs of CPU per entry row and per signal row. Here a chunk of rows travels as a
few blobs (fixed-width columns end to end, variable-width ones with their offsets) and SQLite
cuts the rows out itself: a recursive CTE counts ``i`` from 0, ``substr`` on a blob is O(1),
and integers travel as fixed-width decimal text (a sign and 19 digits, which ``CAST`` reads
exactly for every 64-bit value). The work per row is then SQLite's alone, which runs without
the GIL, so a sync's event loop goes on receiving meanwhile.

Each function returns False or None (and inserts nothing) when the rows do not fit its layout
(a leaf that is not 32 bytes, indices that are not consecutive, values of several lengths, an
integer outside 64 bits, a mix of known and unknown qualities); the caller then inserts them the
plain way. Both ways store the same rows: ``tests/unit/store/test_columns.py`` compares them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import accumulate

_WIDTH = 20  # sign + 19 digits: every int64
_KIND_CODES = {"ADD": 0x41, "RETRACT": 0x52, "OPINION": 0x4F}
_COUNT = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :n) "


def _at(blob: str, i: str = "i") -> str:
    """SQL for the integer at position ``i`` of a :func:`int_column` blob parameter."""
    return f"CAST(substr(:{blob}, {_WIDTH} * ({i}) + 1, {_WIDTH}) AS INTEGER)"


_ENTRIES_SQL = (
    _COUNT + "INSERT INTO entries (origin, idx, leaf, body, kind, create_ms) "
    "SELECT :origin, :first + i, substr(:leaves, 32 * i + 1, 32), "
    f"substr(:bodies, {_at('offsets')} + 1, {_at('offsets', 'i + 1')} - {_at('offsets')}), "
    "{kind}, " + _at("create") + " FROM n"
)
_ALL_ADD = "'ADD'"
_KIND_CASE = (
    "CASE substr(:kinds, i + 1, 1) WHEN x'41' THEN 'ADD' WHEN x'52' THEN 'RETRACT' "
    "WHEN x'4F' THEN 'OPINION' END"
)
_SIGNALS_SQL = (
    _COUNT + "INSERT INTO signals (type, row, value, quality, origin, idx, retracted) "
    "SELECT :type, :first + i, substr(:values, :size * i + 1, :size), {quality}, :origin, "
    + _at("idx")
    + ", 0 FROM n"
)


def int_column(values: Sequence[int | None]) -> bytes | None:
    """``values`` as fixed-width decimal text, ``_WIDTH`` bytes each; None when one is not an
    integer of 64 bits."""
    import numpy as np  # here, not at import: every CLI command imports the store

    try:
        a = np.asarray(values, dtype=np.int64)
    except (OverflowError, TypeError, ValueError):
        return None
    if a.ndim != 1 or len(a) != len(values):
        return None
    negative = a < 0
    magnitude = a.astype(np.uint64)
    magnitude[negative] = np.uint64(0) - magnitude[negative]  # exact for -2**63 too
    powers = np.uint64(10) ** np.arange(18, -1, -1, dtype=np.uint64)
    out = np.empty((len(a), _WIDTH), dtype=np.uint8)
    out[:, 0] = np.where(negative, ord("-"), ord("+"))
    out[:, 1:] = (magnitude[:, None] // powers) % np.uint64(10) + np.uint64(ord("0"))
    return out.tobytes()


def insert_entries(
    conn: sqlite3.Connection,
    origin: str,
    entries: Sequence[tuple[int, bytes, bytes, str, int]],
) -> bool:
    """Insert ``(idx, leaf, body, kind, create_ms)`` rows of consecutive indices; False (nothing
    inserted) when they do not fit the layout."""
    n = len(entries)
    if n == 0:
        return True
    first = entries[0][0]
    idx = [e[0] for e in entries]
    leaves = [e[1] for e in entries]
    bodies = [e[2] for e in entries]
    kinds = [e[3] for e in entries]
    if idx != list(range(first, first + n)) or set(map(len, leaves)) != {32}:
        return False
    offsets = int_column([0, *accumulate(map(len, bodies))])
    create = int_column([e[4] for e in entries])
    if (
        offsets is None
        or create is None
        or not all(isinstance(b, bytes) for b in bodies)
        or min(map(len, bodies)) == 0  # an empty blob binds as NULL: the plain way
    ):
        return False
    params: dict[str, object] = {
        "n": n,
        "origin": origin,
        "first": first,
        "leaves": b"".join(leaves),
        "bodies": b"".join(bodies),
        "offsets": offsets,
        "create": create,
    }
    if kinds.count("ADD") == n:
        kind = _ALL_ADD
    else:
        try:
            params["kinds"] = bytes([_KIND_CODES[k] for k in kinds])
        except KeyError:
            return False
        kind = _KIND_CASE
    conn.execute(_ENTRIES_SQL.format(kind=kind), params)
    return True


def insert_signals(
    conn: sqlite3.Connection,
    origin: str,
    signal_type: str,
    first_row: int,
    signals: Sequence[tuple[int, str, bytes, int | None]],
) -> bytes | None:
    """Insert one type's ``(idx, type, value, quality)`` signals as rows ``first_row, …`` (not
    retracted) and return their values end to end; None (nothing inserted) when they do not
    fit the layout."""
    n = len(signals)
    if n == 0:
        return b""
    values = [s[2] for s in signals]
    sizes = set(map(len, values))
    idx = int_column([s[0] for s in signals])
    qualities = [s[3] for s in signals]
    if (
        sizes == {0}  # an empty blob binds as NULL: the plain way
        or len(sizes) != 1
        or idx is None
        or not all(isinstance(v, bytes) for v in values)
    ):
        return None
    joined = b"".join(values)
    params: dict[str, object] = {
        "n": n,
        "type": signal_type,
        "first": first_row,
        "values": joined,
        "size": sizes.pop(),
        "origin": origin,
        "idx": idx,
    }
    if qualities.count(None) == n:
        quality = "NULL"
    else:
        column = int_column(qualities)  # None (a mix, or out of range): the plain way
        if column is None:
            return None
        params["quality"] = column
        quality = _at("quality")
    conn.execute(_SIGNALS_SQL.format(quality=quality), params)
    return joined
