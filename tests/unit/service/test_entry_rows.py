"""The fast row reader gives exactly the rows of the full decoder, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node._proto.hashfed.v1 import entry_pb2 as pb
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
    unknown_field_numbers,
)
from node.log.merkle import leaf_hash
from node.service.entry_rows import _shape_of, entry_row, ignored_because, rows_of
from node.store.rows import EntryRow
from node.store.store import Store

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


# -- signed but odd entries: stored as signed, their effect ignored where it cannot apply -------

INDICES = st.integers(min_value=0, max_value=2**64 - 1)


def _retract(target: int) -> bytes:
    msg = pb.Entry(origin=ORIGIN, create_time_unix_millis=1)
    msg.retract.entry_index = target
    return msg.SerializeToString()


def _opinion(origin: str, target: int, leaf: bytes = bytes(32), verdict: int = 1) -> bytes:
    msg = pb.Entry(origin=ORIGIN, create_time_unix_millis=1)
    msg.opinion.target.origin = origin
    msg.opinion.target.entry_index = target
    msg.opinion.target.leaf_hash = leaf
    msg.opinion.verdict = verdict  # type: ignore[assignment]
    return msg.SerializeToString()


@settings(max_examples=300, deadline=None)
@given(idx=st.integers(min_value=0, max_value=2**63 - 1), target=INDICES)
def test_a_retract_refers_only_to_an_earlier_index_of_the_log(idx: int, target: int) -> None:
    body = _retract(target)
    entries, signals, special = rows_of(ORIGIN, idx, [body], [leaf_hash(body)], _slow)
    assert entries == [(idx, leaf_hash(body), body, "RETRACT", 1)]
    assert signals == []
    if target < idx:
        assert [(e.idx, e.retracts) for e in special] == [(idx, target)]
    else:
        assert special == []


@settings(max_examples=300, deadline=None)
@given(idx=st.integers(min_value=0, max_value=2**63 - 1), target=INDICES)
def test_an_opinion_refers_only_to_an_index_a_log_can_have(idx: int, target: int) -> None:
    body = _opinion("b.example", target)
    entries, _, special = rows_of(ORIGIN, idx, [body], [leaf_hash(body)], _slow)
    assert entries == [(idx, leaf_hash(body), body, "OPINION", 1)]
    if target < 2**63:
        assert [e.opinion.target_idx for e in special if e.opinion] == [target]
    else:
        assert special == []


# Field 99 (varint 1) and field 98 (bytes "x"): a newer publisher's fields.
UNKNOWN = b"\x98\x06\x01" + b"\x92\x06\x01x"


def test_unknown_fields_are_kept_as_signed_and_never_change_the_rows() -> None:
    plain = _raw_add([("md5", bytes(16), None)])
    # The same ADD with the unknown fields inside its signal: Entry{origin, time, add{signal}}.
    signal = _field(1, b"md5") + _field(2, bytes(16)) + UNKNOWN
    nested = _field(1, ORIGIN.encode()) + b"\x10\x07" + _field(10, _field(1, signal))
    odd = [plain + UNKNOWN, nested, _retract(0) + UNKNOWN]
    for body in odd:
        assert unknown_field_numbers(body) == (98, 99)
    entries, signals, special = rows_of(ORIGIN, 1, odd, [leaf_hash(b) for b in odd], _slow)
    assert [e[2] for e in entries] == odd
    assert signals == [(1, "md5", bytes(16), None), (2, "md5", bytes(16), None)]
    assert [(e.idx, e.retracts) for e in special] == [(3, 0)]
    assert unknown_field_numbers(plain) == ()


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (short payloads only)."""
    assert number < 16 and len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def _stored(tmp_path: Path, bodies: list[bytes]) -> Store:
    store = Store(tmp_path / "db.sqlite", create=True)
    store.members.add_origin(ORIGIN, "key", is_self=False)
    store.members.add_origin("b.example", "key", is_self=False)
    leaves = [leaf_hash(b) for b in bodies]
    with store.transaction():
        entries, signals, special = rows_of(ORIGIN, 0, bodies, leaves, _slow)
        store.log.append_chunk(ORIGIN, entries, signals, special)
    return store


def test_log_says_why_each_odd_entry_had_no_effect(tmp_path: Path) -> None:
    add = _raw_add([("md5", bytes(16), None)])
    bodies = [
        add,  # 0
        _retract(0),  # 1
        _retract(0),  # 2: already retracted
        _retract(1),  # 3: a RETRACT
        _retract(2**63),  # 4
        _retract(9),  # 5: a later index
        _opinion("b.example", 2**64 - 1),  # 6
        _opinion("c.example", 0),  # 7: unknown origin
        _opinion("b.example", 0),  # 8: not held
        _opinion(ORIGIN, 0, leaf=bytes(32)),  # 9: other bytes than entry 0's
        _opinion(ORIGIN, 0, leaf=leaf_hash(add), verdict=7),  # 10: unknown verdict
        _opinion(ORIGIN, 1, leaf=leaf_hash(_retract(0))),  # 11: a RETRACT
        _opinion(ORIGIN, 0, leaf=leaf_hash(add)),  # 12: applies
        _raw_add([("newtype", b"x", None), ("md5", bytes(16), None)]),  # 13
        add + UNKNOWN,  # 14
    ]
    store = _stored(tmp_path, bodies)
    reasons = [ignored_because(store, ORIGIN, i, decode_entry(b), b) for i, b in enumerate(bodies)]
    assert reasons == [
        None,
        None,
        "ignored: entry 0 is already retracted by entry 1",
        "ignored: retracts entry 1, a RETRACT, not an ADD",
        "ignored: retracts index 9223372036854775808, beyond the log",
        "ignored: retracts index 9, not an earlier entry",
        "ignored: opinion on b.example index 18446744073709551615, beyond any log",
        "no effect: opinion on c.example, an origin this node does not know",
        "no effect: opinion on b.example entry 0, which this node does not hold",
        "ignored: opinion on a.example entry 0 names other bytes (leaf hash 0000000000000000…, "
        f"the entry's is {leaf_hash(add).hex()[:16]}…)",
        "ignored: a verdict this version does not know",
        "ignored: opinion on a.example entry 1, not an ADD",
        None,
        "ignored: signals this version cannot use (newtype)",
        "kept as signed: fields this version does not know (98, 99)",
    ]
    assert store.log.retractions(ORIGIN) == [(0, 1)]
    assert store.integrity.row_counts()["retractions"] == 1
    assert store.log.opinion_indices(ORIGIN) == [7, 8, 9, 10, 11, 12]
    assert store.integrity.row_counts()["opinions"] == 6


# -- the fast reader equals the straightforward one on arbitrary valid and odd entries -----------


def _straightforward(
    first: int, bodies: list[bytes], leaves: list[bytes]
) -> tuple[list[object], list[object], list[EntryRow]]:
    """decode_entry + entry_row for each entry, nothing else."""
    full = [
        _slow(first + i, b, leaf) for i, (b, leaf) in enumerate(zip(bodies, leaves, strict=True))
    ]
    return (
        [(e.idx, e.leaf, e.body, e.kind, e.create_ms) for e in full],
        [(e.idx, s.type, s.value, s.quality) for e in full for s in e.signals],
        [e for e in full if e.retracts is not None or e.opinion is not None],
    )


SIGNAL_TYPES = st.sampled_from([("pdq", 32), ("md5", 16), ("phash", 8), ("sha256", 32), ("x", 4)])


@st.composite
def _shapes(draw: st.DrawFn) -> tuple[str, int, str, list[tuple[str, int, int | None]]]:
    """An ADD's parts other than its signal values: origin, time, labels, signal types."""
    origin = draw(st.sampled_from([ORIGIN, ORIGIN, ORIGIN, "other.example"]))
    create = draw(st.sampled_from([0, 1, 1_700_000_000_000, -5]))
    entity = draw(st.sampled_from(["", "e", "Example Front"]))
    sigs = draw(
        st.lists(
            st.tuples(
                SIGNAL_TYPES,
                st.sampled_from([0, 0, 0, 1, -1]),  # a wrong length now and then
                st.none() | st.integers(min_value=0, max_value=2**32 - 1),
            ),
            max_size=3,
        )
    )
    return origin, create, entity, [(t, size + off, q) for (t, size), off, q in sigs]


def _encode_shape(
    shape: tuple[str, int, str, list[tuple[str, int, int | None]]], values: list[bytes]
) -> bytes:
    origin, create, entity, sigs = shape
    msg = pb.Entry(origin=origin, create_time_unix_millis=create)
    msg.add.SetInParent()
    msg.add.labels.entity = entity
    for (t, _, q), v in zip(sigs, values, strict=True):
        s = msg.add.signals.add(type=t, value=v)
        if q is not None:
            s.quality = q
    return msg.SerializeToString()


@st.composite
def _logs(draw: st.DrawFn) -> list[bytes]:
    shapes = draw(st.lists(_shapes(), min_size=1, max_size=3))
    bodies: list[bytes] = []
    for _ in range(draw(st.integers(min_value=1, max_value=40))):
        kind = draw(st.sampled_from(["add"] * 4 + ["flip"] * 2 + ["retract", "opinion", "unknown"]))
        shape = draw(st.sampled_from(shapes))
        values = [draw(st.binary(min_size=n, max_size=n)) for _, n, _ in shape[3]]
        body = _encode_shape(shape, values)
        if kind == "flip" and body:
            # Anywhere, or near the end: after the values, where only a byte comparison tells
            # the bytes apart from the shape's.
            near_end = st.integers(min_value=max(0, len(body) - 8), max_value=len(body) - 1)
            at = draw(st.integers(min_value=0, max_value=len(body) - 1) | near_end)
            flipped = bytearray(body)
            flipped[at] ^= draw(st.integers(min_value=1, max_value=255))
            body = bytes(flipped)
        elif kind == "retract":
            body = _retract(draw(INDICES))
        elif kind == "opinion":
            body = _opinion("b.example", draw(INDICES))
        elif kind == "unknown":
            body += UNKNOWN
        bodies.append(body)
    return bodies


@settings(max_examples=400, deadline=None)
@given(bodies=_logs(), first=st.sampled_from([0, 7, 2**40]))
def test_fast_rows_equal_the_straightforward_rows(bodies: list[bytes], first: int) -> None:
    leaves = [leaf_hash(b) for b in bodies]
    try:
        expected = _straightforward(first, bodies, leaves)
    except MalformedError as exc:
        with pytest.raises(MalformedError) as fast:
            rows_of(ORIGIN, first, bodies, leaves, _slow)
        assert str(fast.value) == str(exc)
        return
    assert rows_of(ORIGIN, first, bodies, leaves, _slow) == expected


def test_bulk_entries_differing_only_in_values_take_the_shape_and_flips_do_not() -> None:
    """The shape path reads 1,000 ADDs of one import as the decoder does; a changed byte
    outside the values (the quality, the creation time) is never taken as the shape."""
    labels = Labels("e", "image", ("glorification",))
    bodies = [
        encode_entry(
            Entry(
                ORIGIN, 9, Add((ComputedSignal(Signal("pdq", bytes([i % 256]) * 32), 90),), labels)
            )
        )
        for i in range(1_000)
    ]
    first = bodies[0]
    value_at = first.index(bytes(32))
    assert _shape_of(first, 9, [(0, "pdq", bytes(32), 90)]) == (
        first[:value_at],
        first[value_at + 32 :],
        (),
        9,
        ((value_at, value_at + 32, "pdq", 90),),
    )
    quality = bytearray(bodies[500])
    quality[quality.index(b"\x18\x5a") + 1] = 91
    bodies[500] = bytes(quality)
    later = bytearray(bodies[600])
    later[later.index(b"\x10\x09") + 1] = 10
    bodies[600] = bytes(later)
    leaves = [leaf_hash(b) for b in bodies]
    entries, signals, special = rows_of(ORIGIN, 0, bodies, leaves, _slow)
    assert (entries, signals, special) == _straightforward(0, bodies, leaves)
    assert signals[500][3] == 91 and entries[600][4] == 10
    assert {s[3] for s in signals} == {90, 91}
