"""Received entry bytes to store rows, with little Python per entry.

A full sync decodes every entry of an origin's log. :func:`node.log.entry.decode_entry` builds
the whole domain value (signals, labels, note) for each, which is most of the import time; the
store needs only the kind, the creation time and the usable signals. :func:`rows_of` reads
exactly those from the protobuf message for the common case, an ADD whose signals are all of
known types and lengths (and, for ADDs that differ from one already read only in their signal
values, from a byte comparison with that one), and hands every other entry (RETRACT, OPINION,
an unusable signal, bytes that do not parse, another origin's name) to ``slow``, which decodes
it in full and raises :class:`~node.errors.MalformedError` where :func:`decode_entry` would.
All paths give the same rows: ``tests/unit/test_entry_rows.py`` checks them against each other
on arbitrary valid and odd entries.

A signed entry whose reference cannot apply (an index beyond the log, a RETRACT of a later
entry) is still stored as signed; :func:`entry_row` gives it no derived row, and
:func:`ignored_because` says why for ``hashfed log``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

from google.protobuf.message import DecodeError

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.errors import NotFoundError
from node.log.entry import (
    INDEX_LIMIT,
    MAX_ENTRY_BYTES,
    Add,
    Entry,
    Opinion,
    Retract,
    Statement,
    Verdict,
    unknown_field_numbers,
)
from node.signals import SIGNAL_SPECS
from node.store.rows import EntryRow, OpinionRow, SignalRow
from node.store.store import Store

# (idx, leaf, body, kind, create_ms) and (idx, type, value, quality): what store.log.append_chunk
# inserts.
EntryTuple = tuple[int, bytes, bytes, str, int]
SignalTuple = tuple[int, str, bytes, int | None]
SlowFn = Callable[[int, bytes, bytes], EntryRow]


def rows_of(
    origin: str,
    first_idx: int,
    bodies: Sequence[bytes],
    leaves: Sequence[bytes],
    slow: SlowFn,
) -> tuple[list[EntryTuple], list[SignalTuple], list[EntryRow]]:
    """Rows for ``bodies`` (entries ``first_idx``, ``first_idx + 1``, …) of ``origin``.

    Returns the entry rows, the signal rows in log order, and the rows ``slow`` built for
    entries with effects beyond their own rows (retractions, opinions), in log order.

    A bulk-published log is mostly ADDs that differ only in their signal values (one creation
    time, the same labels and note for a whole import). Once an ADD has been read, its bytes
    outside the signal values are kept as a *shape*; a later entry of the same length whose
    bytes equal the shape's outside those values parses exactly as that ADD with other values
    (each value is the payload of a length-delimited field whose length is in the equal part,
    and a value's content is never interpreted), so its rows are the shape's with the values
    sliced from its bytes: a few byte comparisons instead of a protobuf parse.
    """
    sizes = {t.name: t.size for t in SIGNAL_SPECS}
    msg = pb.Entry()
    parse = msg.ParseFromString
    which = msg.WhichOneof
    entries: list[EntryTuple] = []
    signals: list[SignalTuple] = []
    special: list[EntryRow] = []
    add_entry, add_signal = entries.append, signals.append
    shapes: dict[int, _Shape] = {}
    # Learning a shape costs a few protobuf parses' worth; in a log of one-off entries (each
    # its own creation time) it never pays, so each attempt without a hit in between doubles
    # the wait before the next.
    learn_at, backoff = first_idx, 1
    idx = first_idx
    for body, leaf in zip(bodies, leaves, strict=True):
        shape = shapes.get(len(body))
        if shape is not None:
            head, tail, middle, create_ms, values = shape
            if (
                body.startswith(head)
                and body.endswith(tail)
                and (not middle or all(body[a:b] == part for a, b, part in middle))
            ):
                add_entry((idx, leaf, body, "ADD", create_ms))
                if middle:
                    for a, b, signal_type, quality in values:
                        add_signal((idx, signal_type, body[a:b], quality))
                else:  # one signal, the common case: no loop
                    a, b, signal_type, quality = values[0]
                    add_signal((idx, signal_type, body[a:b], quality))
                backoff = 1
                idx += 1
                continue
            del shapes[len(body)]  # a shape that missed is not checked again until relearned
        fast = len(body) <= MAX_ENTRY_BYTES
        if fast:
            try:
                parse(body)
            except DecodeError:
                fast = False
        if fast and msg.origin == origin and which("statement") == "add":
            found: list[SignalTuple] = []
            for s in msg.add.signals:
                value = s.value
                if sizes.get(s.type) != len(value):
                    fast = False  # unusable signal: kept aside by the full decoder
                    break
                found.append((idx, s.type, value, s.quality if s.HasField("quality") else None))
            if fast:
                create_ms = msg.create_time_unix_millis
                add_entry((idx, leaf, body, "ADD", create_ms))
                for f in found:
                    add_signal(f)
                if idx >= learn_at and found:
                    learned = _shape_of(body, create_ms, found)
                    if learned is not None:
                        shapes[len(body)] = learned
                    learn_at, backoff = idx + backoff, min(2 * backoff, 1024)
                idx += 1
                continue
        row = slow(idx, body, leaf)
        add_entry((row.idx, row.leaf, row.body, row.kind, row.create_ms))
        signals.extend((idx, s.type, s.value, s.quality) for s in row.signals)
        if row.retracts is not None or row.opinion is not None:
            special.append(row)
        idx += 1
    return entries, signals, special


# An ADD's bytes outside its signal values: (head, tail, middle parts as (start, stop, bytes),
# creation time, and per signal (value start, value stop, type, quality)).
_Shape = tuple[
    bytes,
    bytes,
    tuple[tuple[int, int, bytes], ...],
    int,
    tuple[tuple[int, int, str, int | None], ...],
]


def _shape_of(body: bytes, create_ms: int, found: Sequence[SignalTuple]) -> _Shape | None:
    """The shape of an ADD that protobuf read as ``found``, or None when its wire layout is
    not the plain one (each field once, in known numbers and wire types; repeated signals
    only), where the value positions would be less than certain."""
    try:
        spans = _value_spans(body)
    except IndexError:
        return None
    if spans is None or len(spans) != len(found):
        return None
    values = []
    for (type_at, value_at), (_, signal_type, value, quality) in zip(spans, found, strict=True):
        if body[type_at[0] : type_at[1]] != signal_type.encode() or (
            body[value_at[0] : value_at[1]] != value
        ):
            return None
        values.append((value_at[0], value_at[1], signal_type, quality))
    head = body[: values[0][0]]
    tail = body[values[-1][1] :]
    middle = tuple(
        (stop, start, body[stop:start]) for (_, stop, _, _), (start, _, _, _) in pairwise(values)
    )
    return head, tail, middle, create_ms, tuple(values)


Span = tuple[int, int]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]  # IndexError past the end: not a shape
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise IndexError("varint too long")


def _value_spans(body: bytes) -> list[tuple[Span, Span]] | None:
    """(type span, value span) of each signal of an ``Entry`` with the plain ADD layout."""
    pos, seen, spans = 0, set(), None
    while pos < len(body):
        key, pos = _varint(body, pos)
        number, wire = key >> 3, key & 7
        if number in seen:
            return None
        seen.add(number)
        if number == 2 and wire == 0:
            _, pos = _varint(body, pos)
        elif number in (1, 10) and wire == 2:
            length, pos = _varint(body, pos)
            stop = pos + length
            if stop > len(body):
                return None
            if number == 10:
                spans = _add_spans(body, pos, stop)
                if spans is None:
                    return None
            pos = stop
        else:
            return None
    return spans if pos == len(body) and 1 in seen else None


def _add_spans(body: bytes, pos: int, end: int) -> list[tuple[Span, Span]] | None:
    spans, seen = [], set()
    while pos < end:
        key, pos = _varint(body, pos)
        number, wire = key >> 3, key & 7
        if wire != 2 or number not in (1, 2, 3) or (number != 1 and number in seen):
            return None
        seen.add(number)
        length, pos = _varint(body, pos)
        stop = pos + length
        if stop > end:
            return None
        if number == 1:
            span = _signal_spans(body, pos, stop)
            if span is None:
                return None
            spans.append(span)
        pos = stop
    return spans if pos == end else None


def _signal_spans(body: bytes, pos: int, end: int) -> tuple[Span, Span] | None:
    found: dict[int, Span] = {}
    while pos < end:
        key, pos = _varint(body, pos)
        number, wire = key >> 3, key & 7
        if number in found:
            return None
        if number == 3 and wire == 0:
            _, pos = _varint(body, pos)
            found[3] = (0, 0)
            continue
        if number not in (1, 2) or wire != 2:
            return None
        length, pos = _varint(body, pos)
        if pos + length > end:
            return None
        found[number] = (pos, pos + length)
        pos += length
    if pos != end or 1 not in found or 2 not in found:
        return None
    return found[1], found[2]


def entry_row(idx: int, body: bytes, leaf: bytes, statement: Statement, now: int) -> EntryRow:
    """The store rows of one decoded entry.

    A reference that cannot name a stored entry (a RETRACT of an index at or after its own, or
    beyond 2^63; an OPINION on an index beyond 2^63) gives no derived row: the entry itself is
    stored as signed, and :func:`ignored_because` says why it had no effect.
    """
    kind = type(statement).__name__.upper()
    signals: tuple[SignalRow, ...] = ()
    retracts = None
    opinion = None
    if isinstance(statement, Add):
        signals = tuple(
            SignalRow(c.signal.type, c.signal.value, c.quality) for c in statement.signals
        )
    elif isinstance(statement, Retract):
        if statement.entry_index < min(idx, INDEX_LIMIT):
            retracts = statement.entry_index
    elif statement.target.entry_index < INDEX_LIMIT:
        t = statement.target
        opinion = OpinionRow(
            t.origin,
            t.entry_index,
            t.leaf_hash,
            statement.verdict.value,
            statement.agrees_with_labels,
        )
    return EntryRow(idx, leaf, body, kind, now, signals, retracts, opinion)


def ignored_because(store: Store, origin: str, idx: int, entry: Entry, body: bytes) -> str | None:
    """Why a stored entry has no effect here, or only part of one (for ``hashfed log``); None
    when it applies as it says.

    Every entry is stored as signed (its bytes are in the Merkle tree); what it asks for is
    applied only where it can be (docs/protocol.md §2, reader rules). The reasons come from the
    stored rows, so they say what import did: an opinion on an entry this node does not hold
    yet counts once that entry arrives.
    """
    st = entry.statement
    reason: str | None = None
    if isinstance(st, Retract):
        reason = _retract_ignored(store, origin, idx, st.entry_index)
    elif isinstance(st, Opinion):
        reason = _opinion_ignored(store, st)
    elif st.unusable:
        types = ", ".join(sorted({t for t, _ in st.unusable}))
        reason = f"ignored: signals this version cannot use ({types})"
    unknown = unknown_field_numbers(body)
    if unknown:
        kept = f"kept as signed: fields this version does not know ({', '.join(map(str, unknown))})"
        reason = kept if reason is None else f"{reason}; {kept}"
    return reason


def _retract_ignored(store: Store, origin: str, idx: int, target: int) -> str | None:
    if target >= INDEX_LIMIT:
        return f"ignored: retracts index {target}, beyond the log"
    if target >= idx:
        return f"ignored: retracts index {target}, not an earlier entry"
    kinds = [row.kind for row in store.log.entries(origin, target, target + 1)]
    if not kinds:
        return f"ignored: retracts entry {target}, which this node does not hold"
    if kinds != ["ADD"]:
        what = f"an {kinds[0]}" if kinds[0][0] in "AEIOU" else f"a {kinds[0]}"
        return f"ignored: retracts entry {target}, {what}, not an ADD"
    by = store.log.retraction_of(origin, target)
    if by is not None and by != idx:
        return f"ignored: entry {target} is already retracted by entry {by}"
    return None


def _opinion_ignored(store: Store, opinion: Opinion) -> str | None:
    t = opinion.target
    if t.entry_index >= INDEX_LIMIT:
        return f"ignored: opinion on {t.origin} index {t.entry_index}, beyond any log"
    if opinion.verdict is Verdict.UNSPECIFIED:
        return "ignored: a verdict this version does not know"
    try:
        store.members.origin(t.origin)
    except NotFoundError:
        return f"no effect: opinion on {t.origin}, an origin this node does not know"
    try:
        _, leaf = store.log.entry(t.origin, t.entry_index)
    except NotFoundError:
        return (
            f"no effect: opinion on {t.origin} entry {t.entry_index}, which this node does not hold"
        )
    if leaf != t.leaf_hash:
        return (
            f"ignored: opinion on {t.origin} entry {t.entry_index} names other bytes "
            f"(leaf hash {t.leaf_hash.hex()[:16]}…, the entry's is {leaf.hex()[:16]}…)"
        )
    (row,) = store.log.entries(t.origin, t.entry_index, t.entry_index + 1)
    if row.kind != "ADD":
        return f"ignored: opinion on {t.origin} entry {t.entry_index}, not an ADD"
    return None
