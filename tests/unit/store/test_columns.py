"""Column inserts (node/store/columns.py) store exactly the rows the plain inserts would."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.store import columns
from node.store.store import Store

INT64 = st.integers(-(2**63), 2**63 - 1)


def _rows(store: Store) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    entries = store.db.execute("SELECT * FROM entries ORDER BY origin, idx").fetchall()
    signals = store.db.execute("SELECT * FROM signals ORDER BY type, row").fetchall()
    return entries, signals


def _append(
    path: Path,
    entries: list[tuple[int, bytes, bytes, str, int]],
    signals: list[tuple[int, str, bytes, int | None]],
    *,
    plain: bool,
) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    store = Store(path, create=True)
    try:
        with store.transaction():
            if plain:
                with (
                    mock.patch.object(columns, "insert_entries", return_value=False),
                    mock.patch.object(columns, "insert_signals", return_value=None),
                ):
                    result = store.append_chunk("a.example", entries, signals, [])
            else:
                result = store.append_chunk("a.example", entries, signals, [])
        rows = _rows(store)
        assert sorted((a.type, a.row, a.value) for a in result.added) == [
            (t, r, v) for t, r, v, *_ in rows[1]
        ]
        return rows
    finally:
        store.close()


@settings(max_examples=100, deadline=None)
@given(
    first=st.integers(0, 2**40),
    items=st.lists(
        st.tuples(
            st.binary(min_size=0, max_size=40),
            st.sampled_from(["ADD", "RETRACT", "OPINION", "ODD"]),
            INT64,
            st.lists(
                st.tuples(
                    st.sampled_from(["pdq", "md5"]),
                    st.sampled_from([4, 4, 4, 5]),
                    st.none() | st.integers(-5, 2**63 - 1),
                ),
                max_size=2,
            ),
        ),
        max_size=12,
    ),
    leaf_size=st.sampled_from([32, 32, 32, 31]),
)
def test_column_inserts_store_what_plain_inserts_store(
    tmp_path_factory: pytest.TempPathFactory,
    first: int,
    items: list[tuple[bytes, str, int, list[tuple[str, int, int | None]]]],
    leaf_size: int,
) -> None:
    entries = []
    signals: list[tuple[int, str, bytes, int | None]] = []
    for offset, (body, kind, create, sigs) in enumerate(items):
        idx = first + offset
        entries.append((idx, bytes([offset % 256]) * leaf_size, body, kind, create))
        for n, (signal_type, size, quality) in enumerate(sigs):
            signals.append((idx, signal_type, bytes([n + offset % 200]) * size, quality))
    folder = tmp_path_factory.mktemp("columns")
    fast = _append(folder / "fast.db", entries, signals, plain=False)
    plain = _append(folder / "plain.db", entries, signals, plain=True)
    assert fast == plain


def test_int_column_is_exact_at_the_ends_of_int64(tmp_path: Path) -> None:
    values = [0, 1, -1, 2**63 - 1, -(2**63), 1_796_415_009_876]
    blob = columns.int_column(values)
    assert blob is not None and len(blob) == 20 * len(values)
    store = Store(tmp_path / "db.sqlite", create=True)
    got = [
        store.db.execute("SELECT CAST(substr(?, ?, 20) AS INTEGER)", [blob, 20 * i + 1]).fetchone()[
            0
        ]
        for i in range(len(values))
    ]
    store.close()
    assert got == values
    assert columns.int_column([2**63]) is None
    assert columns.int_column([None, 1]) is None
