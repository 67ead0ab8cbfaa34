"""Entry encoding: round trips, strict decoding, and bytes kept verbatim."""

from __future__ import annotations

import contextlib
import re

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

printable = st.characters(categories=("L", "N", "P", "S", "Zs"))
words = st.text(printable, min_size=1, max_size=20)
labels = st.builds(
    Labels,
    entity=st.text(printable, max_size=30),
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
    st.builds(Add, signals, labels, st.text(printable, max_size=50)),
    st.builds(Retract, st.integers(0, 2**63), st.text(printable, max_size=20)),
    st.builds(
        Opinion,
        st.builds(EntryRef, words, st.integers(0, 2**63), st.binary(min_size=32, max_size=32)),
        st.sampled_from([v for v in Verdict if v is not Verdict.UNSPECIFIED]),
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


def _add(**kwargs: object) -> Entry:
    md5 = ComputedSignal(Signal("md5", b"\x00" * 16), None)
    fields: dict[str, object] = {"signals": (md5,), **kwargs}
    return Entry("a.example", 0, Add(**fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        (_add(signals=()), "at least one signal"),
        (_add(signals=(ComputedSignal(Signal("md5", b"\x00" * 16), None),) * 2), "one signal per"),
        (_add(labels=Labels(entity="a\x00b")), "control or format characters (U+0000)"),
        (_add(labels=Labels(entity="evil\u202etxt.exe")), "U+202E"),
        (_add(labels=Labels(tags=("x" * 300,))), "at most 256"),
        (_add(labels=Labels(tags=("",))), "empty string"),
        (_add(note="\x1b]0;pwned\x07"), "U+001B"),
        (Entry("a.example", 0, Retract(0, "\x1b[31mred")), "U+001B"),
        (
            Entry("a.example", 0, Opinion(EntryRef("b", 0, b"l" * 32), Verdict.UNSPECIFIED, True)),
            "needs a verdict",
        ),
    ],
)
def test_publishing_rules(entry: Entry, says: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(says)):
        encode_entry(entry)


def test_size_limit() -> None:
    wide = tuple("\U0001d54f" * 250 for _ in range(64))  # 4 UTF-8 bytes a character
    with pytest.raises(InvalidInputError, match="bytes; at most"):
        encode_entry(_add(labels=Labels(behaviours=wide, tags=wide)))


def test_readers_keep_entries_that_break_publishing_rules() -> None:
    # Another implementation's validly signed entry must still decode (and so verify, relay).
    msg = pb.Entry(origin="a.example")
    msg.add.labels.entity = "\x1b[31m" + "x" * 1000
    msg.opinion.verdict = 7  # type: ignore[assignment]
    entry = decode_entry(msg.SerializeToString())
    assert isinstance(entry.statement, Opinion)
    assert entry.statement.verdict is Verdict.UNSPECIFIED
