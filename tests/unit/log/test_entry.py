"""Entry encoding: round trips, strict decoding, and bytes kept verbatim."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.errors import InvalidInputError, MalformedError
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

words = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF), min_size=1, max_size=20)
labels = st.builds(
    Labels,
    entity=st.text(st.characters(min_codepoint=0x20), max_size=30),
    content_type=st.sampled_from(["", "image", "video"]),
    behaviours=st.lists(words, max_size=3).map(tuple),
    tags=st.lists(words, max_size=3).map(tuple),
)
signals = st.lists(
    st.sampled_from([("pdq", 32), ("phash", 8), ("dhash", 8), ("md5", 16), ("sha256", 32)]),
    min_size=1,
    max_size=5,
    unique=True,
).flatmap(
    lambda types: st.tuples(
        *(
            st.builds(
                ComputedSignal,
                st.binary(min_size=n, max_size=n).map(lambda v, t=t: Signal(t, v)),
                st.none() | st.integers(0, 100) if t == "pdq" else st.none(),
            )
            for t, n in types
        )
    )
)
statements = st.one_of(
    st.builds(Add, signals, labels, st.text(max_size=50)),
    st.builds(Retract, st.integers(0, 2**63), st.text(max_size=20)),
    st.builds(
        Opinion,
        st.builds(EntryRef, words, st.integers(0, 2**63), st.binary(min_size=32, max_size=32)),
        st.sampled_from(list(Verdict)),
        st.booleans(),
    ),
)
entries = st.builds(Entry, words, st.integers(0, 2**62), statements)


@given(entries)
def test_round_trip(entry: Entry) -> None:
    assert decode_entry(encode_entry(entry)) == entry


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        decode_entry(data)


def test_entry_without_statement_or_origin_is_malformed() -> None:
    with pytest.raises(MalformedError, match="no origin"):
        decode_entry(pb.Entry(create_time_unix_millis=1).SerializeToString())
    with pytest.raises(MalformedError, match="no statement"):
        decode_entry(pb.Entry(origin="a.example").SerializeToString())


def test_unknown_signal_types_from_newer_nodes_are_kept() -> None:
    msg = pb.Entry(origin="a.example")
    msg.add.signals.add(type="vpdq", value=b"\x01" * 40)
    msg.add.signals.add(type="md5", value=b"\x02" * 16)
    msg.add.signals.add(type="pdq", value=b"\x03" * 31)  # wrong length: kept, never matched
    entry = decode_entry(msg.SerializeToString())
    assert isinstance(entry.statement, Add)
    assert entry.statement.signals == (ComputedSignal(Signal("md5", b"\x02" * 16), None),)
    assert entry.statement.unusable == (("vpdq", b"\x01" * 40), ("pdq", b"\x03" * 31))


def test_validation_of_new_entries() -> None:
    md5 = ComputedSignal(Signal("md5", b"\x00" * 16), None)
    with pytest.raises(InvalidInputError, match="at least one signal"):
        Add(())
    with pytest.raises(InvalidInputError, match="one signal per type"):
        Add((md5, md5))
    with pytest.raises(InvalidInputError, match="control characters"):
        Labels(entity="a\x00b")
    with pytest.raises(InvalidInputError, match="at most 256"):
        Labels(tags=("x" * 300,))
    with pytest.raises(InvalidInputError, match="bytes; at most"):
        wide = tuple("\U0001d54f" * 250 for _ in range(64))  # 4 UTF-8 bytes a character
        encode_entry(Entry("a.example", 0, Add((md5,), Labels(behaviours=wide, tags=wide))))
