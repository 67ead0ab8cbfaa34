"""StreamEntries batching: at most 1,000 entries and 1 MiB of entry bytes per message."""

from __future__ import annotations

from node.server.federation import batches
from node.wire.limits import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES


def _check(start: int, bodies: list[bytes]) -> list[tuple[int, list[bytes]]]:
    result = list(batches(start, bodies))
    expected_start = start
    for first, batch in result:
        assert first == expected_start
        assert 0 < len(batch) <= MAX_BATCH_ENTRIES
        assert sum(map(len, batch)) <= MAX_BATCH_BYTES
        expected_start += len(batch)
    assert [b for _, batch in result for b in batch] == bodies
    return result


def test_empty_range_yields_nothing() -> None:
    assert _check(5, []) == []


def test_small_entries_are_cut_at_one_thousand() -> None:
    bodies = [i.to_bytes(4, "big") for i in range(2_500)]
    result = _check(7, bodies)
    assert [len(b) for _, b in result] == [1_000, 1_000, 500]
    assert [first for first, _ in result] == [7, 1_007, 2_007]


def test_large_entries_are_cut_at_one_mebibyte() -> None:
    bodies = [bytes([i % 256]) * 60_000 for i in range(40)]  # 17 fit in 1 MiB
    result = _check(0, bodies)
    assert [len(b) for _, b in result] == [17, 17, 6]


def test_exactly_full_batches() -> None:
    bodies = [b"x" * 1024] * 2048  # 1,000 entries of 1 KiB < 1 MiB: the count limit applies
    assert [len(b) for _, b in _check(0, bodies)] == [1000, 1000, 48]
    bodies = [b"y" * (MAX_BATCH_BYTES // 4)] * 9  # exactly 4 per MiB
    assert [len(b) for _, b in _check(0, bodies)] == [4, 4, 1]


def test_oversized_entry_travels_alone() -> None:
    bodies = [b"a", b"b" * (MAX_BATCH_BYTES + 1), b"c"]
    assert [len(b) for _, b in batches(0, bodies)] == [1, 1, 1]
