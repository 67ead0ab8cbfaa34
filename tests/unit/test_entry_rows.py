"""The fast row reader gives exactly the rows of the full decoder, and its errors."""

from __future__ import annotations

import pytest

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.entry_rows import entry_row, rows_of
from node.errors import MalformedError
from node.hashing import ComputedSignal, Signal
from node.log.entry import (
    Add,
    Entry,
    EntryRef,
    Labels,
    Opinion,
    Retract,
    Verdict,
    decode_entry,
    encode_entry,
)
from node.log.merkle import leaf_hash
from node.store.store import EntryRow

ORIGIN = "a.example"


def _slow(idx: int, body: bytes, leaf: bytes) -> EntryRow:
    entry = decode_entry(body)
    if entry.origin != ORIGIN:
        raise MalformedError(f"entry {idx} names origin {entry.origin!r}")
    return entry_row(idx, body, leaf, entry.statement, entry.create_time_ms)


def _raw_add(signals: list[tuple[str, bytes, int | None]]) -> bytes:
    msg = pb.Entry(origin=ORIGIN, create_time_unix_millis=7)
    msg.add.SetInParent()
    for t, v, q in signals:
        s = msg.add.signals.add(type=t, value=v)
        if q is not None:
            s.quality = q
    return msg.SerializeToString()


def test_rows_match_the_full_decoder() -> None:
    pdq = Signal("pdq", bytes(range(32)))
    md5 = Signal("md5", bytes(16))
    bodies = [
        encode_entry(Entry(ORIGIN, 5, Add((ComputedSignal(pdq, 90),), Labels("e")))),
        encode_entry(Entry(ORIGIN, 6, Add((ComputedSignal(pdq, None), ComputedSignal(md5, None))))),
        encode_entry(Entry(ORIGIN, 8, Retract(0, "oops"))),
        encode_entry(
            Entry(ORIGIN, 9, Opinion(EntryRef("b.example", 3, bytes(32)), Verdict.DISPUTED, True))
        ),
        _raw_add([("pdq", bytes(31), 50), ("md5", bytes(16), None)]),  # unusable signal
        _raw_add([("newtype", b"x", None)]),  # unknown type
        _raw_add([]),
    ]
    leaves = [leaf_hash(b) for b in bodies]
    entries, signals, special = rows_of(ORIGIN, 10, bodies, leaves, _slow)
    full = [_slow(10 + i, b, leaf) for i, (b, leaf) in enumerate(zip(bodies, leaves, strict=True))]
    assert entries == [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in full]
    assert signals == [(e.idx, s.type, s.value, s.quality) for e in full for s in e.signals]
    assert special == [e for e in full if e.retracts is not None or e.opinion is not None]


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xff\xff",
        pb.Entry(origin="other.example", create_time_unix_millis=1).SerializeToString(),
        pb.Entry(origin=ORIGIN).SerializeToString(),  # no statement
        b"\x00" * (64 * 1024 + 1),
    ],
)
def test_malformed_entries_raise_as_the_full_decoder_does(body: bytes) -> None:
    with pytest.raises(MalformedError) as fast:
        rows_of(ORIGIN, 0, [body], [leaf_hash(body)], _slow)
    with pytest.raises(MalformedError) as slow:
        _slow(0, body, leaf_hash(body))
    assert str(fast.value) == str(slow.value)
