"""Received entry bytes to store rows, with little Python per entry.

A full sync decodes every entry of an origin's log. :func:`node.log.entry.decode_entry` builds
the whole domain value (signals, labels, note) for each, which is most of the import time; the
store needs only the kind, the creation time and the usable signals. :func:`rows_of` reads
exactly those from the protobuf message for the common case, an ADD whose signals are all of
known types and lengths, and hands every other entry (RETRACT, OPINION, an unusable signal,
bytes that do not parse, another origin's name) to ``slow``, which decodes it in full and
raises :class:`~node.errors.MalformedError` where :func:`decode_entry` would. Both paths give
the same rows: ``tests/unit/test_entry_rows.py`` checks them against each other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf.message import DecodeError

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.hashing import signal_types
from node.log.entry import MAX_ENTRY_BYTES, Add, Retract, Statement
from node.store.store import EntryRow, OpinionRow, SignalRow

# (idx, leaf, body, kind, create_ms) and (idx, type, value, quality): what Store.append_chunk
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
    """
    sizes = {t.name: t.size for t in signal_types()}
    msg = pb.Entry()
    parse = msg.ParseFromString
    which = msg.WhichOneof
    entries: list[EntryTuple] = []
    signals: list[SignalTuple] = []
    special: list[EntryRow] = []
    add_entry, add_signal = entries.append, signals.append
    idx = first_idx
    for body, leaf in zip(bodies, leaves, strict=True):
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
                add_entry((idx, leaf, body, "ADD", msg.create_time_unix_millis))
                for f in found:
                    add_signal(f)
                idx += 1
                continue
        row = slow(idx, body, leaf)
        add_entry((row.idx, row.leaf, row.body, row.kind, row.create_ms))
        signals.extend((idx, s.type, s.value, s.quality) for s in row.signals)
        if row.retracts is not None or row.opinion is not None:
            special.append(row)
        idx += 1
    return entries, signals, special


def entry_row(idx: int, body: bytes, leaf: bytes, statement: Statement, now: int) -> EntryRow:
    """The store rows of one decoded entry."""
    kind = type(statement).__name__.upper()
    signals: tuple[SignalRow, ...] = ()
    retracts = None
    opinion = None
    if isinstance(statement, Add):
        signals = tuple(
            SignalRow(c.signal.type, c.signal.value, c.quality) for c in statement.signals
        )
    elif isinstance(statement, Retract):
        retracts = statement.entry_index
    else:
        t = statement.target
        opinion = OpinionRow(
            t.origin,
            t.entry_index,
            t.leaf_hash,
            statement.verdict.value,
            statement.agrees_with_labels,
        )
    return EntryRow(idx, leaf, body, kind, now, signals, retracts, opinion)
