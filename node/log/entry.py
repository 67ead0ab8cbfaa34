"""Log entries as domain values, and their one wire encoding.

This is the only core module that touches the generated protobuf classes. An entry is encoded
once, by its origin, and from then on its bytes are what is stored, relayed, hashed and proven:
protobuf serialization is not canonical, so nothing here is ever used to *re*-encode an entry
that came from elsewhere. :func:`decode_entry` only reads bytes.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError, Message

from node._proto.hashfed.v1 import entry_pb2 as pb
from node.errors import InvalidInputError, MalformedError
from node.signals import ComputedSignal, Signal

# Entries are small statements; anything larger is an attack or a bug. Documented in protocol.md.
MAX_ENTRY_BYTES = 64 * 1024
MAX_LABEL_CHARS = 256
MAX_LABEL_ITEMS = 64
MAX_NOTE_CHARS = 4096
# Log indices and tree sizes are below 2^63 (protocol.md §8). An entry's uint64 references
# (RETRACT entry_index, OPINION target entry_index) decode to any value up to 2^64 - 1: a signed
# entry keeps them, and whatever stores or applies them must check against this first (SQLite
# integers are 64-bit signed).
INDEX_LIMIT = 2**63


class Verdict(enum.StrEnum):
    # What a reader records for a verdict value it does not know (a newer publisher); never
    # published, never counted.
    UNSPECIFIED = "unspecified"
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    DISPUTED = "disputed"


_VERDICT_TO_PB = {
    Verdict.TRUE_POSITIVE: pb.OpinionStatement.TRUE_POSITIVE,
    Verdict.FALSE_POSITIVE: pb.OpinionStatement.FALSE_POSITIVE,
    Verdict.DISPUTED: pb.OpinionStatement.DISPUTED,
}
_PB_TO_VERDICT = {v: k for k, v in _VERDICT_TO_PB.items()}


@dataclass(frozen=True)
class Labels:
    """GIFCT-style labels: producing entity, content type, behaviours, free tags."""

    entity: str = ""
    content_type: str = ""
    behaviours: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Add:
    """ADD: one item of media, with every signal computed for it (at most one per type)."""

    signals: tuple[ComputedSignal, ...]
    labels: Labels = field(default_factory=Labels)
    note: str = ""
    # Signals of another origin's entry that this version cannot use: a type it does not know
    # (a newer publisher) or a value of the wrong length. Kept for display; never matched.
    unusable: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Retract:
    """RETRACT: an earlier ADD of the same origin stops matching; the ADD stays in the log.

    Decoded from another origin, ``entry_index`` may be anything up to 2^64 - 1 (see
    :data:`INDEX_LIMIT`)."""

    entry_index: int
    reason: str = ""


@dataclass(frozen=True)
class EntryRef:
    """One entry of any origin's log, pinned to its exact bytes by their leaf hash.

    Decoded, ``entry_index`` may be anything up to 2^64 - 1 (see :data:`INDEX_LIMIT`)."""

    origin: str
    entry_index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class Opinion:
    """OPINION: what the author thinks of an entry, its own or another origin's."""

    target: EntryRef
    verdict: Verdict
    agrees_with_labels: bool


Statement = Add | Retract | Opinion


@dataclass(frozen=True)
class Entry:
    origin: str
    create_time_ms: int
    statement: Statement

    @property
    def kind(self) -> str:
        return type(self.statement).__name__.upper()


def check_publishable(statement: Statement) -> None:
    """The content rules a publisher enforces on its own new entries (docs/protocol.md §2).

    Readers do not re-apply them: an entry is authenticated by its origin's signed root, and
    refusing it later would make that origin's whole log unimportable. Readers ignore what
    they cannot use instead.
    """
    if isinstance(statement, Add):
        if not statement.signals or statement.unusable:
            raise InvalidInputError("an ADD needs at least one signal, all of known types")
        types = [s.signal.type for s in statement.signals]
        if len(set(types)) != len(types):
            raise InvalidInputError(f"an ADD carries at most one signal per type; got {types}")
        _check_labels(statement.labels)
        _check_text("note", statement.note, MAX_NOTE_CHARS, allow="\n\t")
    elif isinstance(statement, Retract):
        _check_text("reason", statement.reason, MAX_NOTE_CHARS, allow="")
    elif statement.verdict is Verdict.UNSPECIFIED:
        raise InvalidInputError(
            "an opinion needs a verdict: true positive, false positive or disputed"
        )


def _check_labels(labels: Labels) -> None:
    for name, text in (("entity", labels.entity), ("content type", labels.content_type)):
        _check_text(name, text, MAX_LABEL_CHARS, allow="")
    for name, items in (("behaviours", labels.behaviours), ("tags", labels.tags)):
        if len(items) > MAX_LABEL_ITEMS:
            raise InvalidInputError(f"{len(items)} {name}; at most {MAX_LABEL_ITEMS} allowed")
        for item in items:
            if not item:
                raise InvalidInputError(f"empty string among {name}; expected non-empty words")
            _check_text(name, item, MAX_LABEL_CHARS, allow="")


def _check_text(name: str, text: str, limit: int, *, allow: str) -> None:
    if len(text) > limit:
        raise InvalidInputError(f"{name} has {len(text)} characters; at most {limit}")
    # Control and format characters (escape sequences, bidi overrides, zero-width spaces)
    # would let a label drive or disguise what other members' operators see.
    bad = [c for c in text if c not in allow and unicodedata.category(c) in ("Cc", "Cf")]
    if bad:
        codes = ", ".join(f"U+{ord(c):04X}" for c in bad[:3])
        raise InvalidInputError(
            f"{name} contains control or format characters ({codes}); expected plain text"
        )


def encode_entry(entry: Entry) -> bytes:
    """Serialize a new entry of our own, once, after checking the publishing rules."""
    check_publishable(entry.statement)
    msg = pb.Entry(origin=entry.origin, create_time_unix_millis=entry.create_time_ms)
    statement = entry.statement
    if isinstance(statement, Add):
        add = msg.add
        for computed in statement.signals:
            sig = add.signals.add(type=computed.signal.type, value=computed.signal.value)
            if computed.quality is not None:
                sig.quality = computed.quality
        labels = statement.labels
        add.labels.entity = labels.entity
        add.labels.content_type = labels.content_type
        add.labels.behaviours.extend(labels.behaviours)
        add.labels.tags.extend(labels.tags)
        add.note = statement.note
    elif isinstance(statement, Retract):
        msg.retract.entry_index = statement.entry_index
        msg.retract.reason = statement.reason
    else:
        target = statement.target
        msg.opinion.target.origin = target.origin
        msg.opinion.target.entry_index = target.entry_index
        msg.opinion.target.leaf_hash = target.leaf_hash
        msg.opinion.verdict = _VERDICT_TO_PB[statement.verdict]
        msg.opinion.agrees_with_labels = statement.agrees_with_labels
    data = msg.SerializeToString()
    if len(data) > MAX_ENTRY_BYTES:
        raise InvalidInputError(f"entry encodes to {len(data)} bytes; at most {MAX_ENTRY_BYTES}")
    return data


def decode_entry(data: bytes) -> Entry:
    """Read an entry's bytes. Raises :class:`MalformedError` when they are not a valid entry.

    An origin's log may carry signal types this node does not know yet (a newer version): such
    an entry still decodes, verifies and relays, with those signals in ``Add.unusable``.
    """
    if len(data) > MAX_ENTRY_BYTES:
        raise MalformedError(f"entry has {len(data)} bytes; at most {MAX_ENTRY_BYTES}")
    msg = pb.Entry()
    try:
        msg.ParseFromString(data)
    except DecodeError as exc:
        raise MalformedError(f"entry bytes are not a hashfed.v1.Entry message: {exc}") from exc
    if not msg.origin:
        raise MalformedError("entry has no origin; expected the name of the log it belongs to")
    which = msg.WhichOneof("statement")
    statement: Statement
    if which == "add":
        statement = _decode_add(msg.add)
    elif which == "retract":
        statement = Retract(msg.retract.entry_index, msg.retract.reason)
    elif which == "opinion":
        statement = _decode_opinion(msg.opinion)
    else:
        raise MalformedError("entry carries no statement; expected add, retract or opinion")
    return Entry(msg.origin, msg.create_time_unix_millis, statement)


def _decode_add(add: pb.AddStatement) -> Add:
    signals: list[ComputedSignal] = []
    unusable: list[tuple[str, bytes]] = []
    for s in add.signals:
        try:
            signal = Signal(s.type, bytes(s.value))
        except InvalidInputError:
            unusable.append((s.type, bytes(s.value)))
            continue
        signals.append(ComputedSignal(signal, s.quality if s.HasField("quality") else None))
    labels = Labels(
        add.labels.entity,
        add.labels.content_type,
        tuple(add.labels.behaviours),
        tuple(add.labels.tags),
    )
    return Add(tuple(signals), labels, add.note, tuple(unusable))


def _decode_opinion(opinion: pb.OpinionStatement) -> Opinion:
    # Unknown verdicts (a newer publisher) and malformed targets are kept, never counted: the
    # target's leaf hash then matches no entry.
    verdict = _PB_TO_VERDICT.get(opinion.verdict, Verdict.UNSPECIFIED)
    target = EntryRef(
        opinion.target.origin, opinion.target.entry_index, bytes(opinion.target.leaf_hash)
    )
    return Opinion(target, verdict, opinion.agrees_with_labels)


def unknown_field_numbers(data: bytes) -> tuple[int, ...]:
    """Field numbers anywhere in an entry's bytes that this version does not know (a newer
    publisher's fields), sorted; ``()`` for none or for bytes that do not parse.

    Such fields are kept as signed (the bytes are never re-encoded) but never read.
    """
    msg = pb.Entry()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        return ()
    found: set[int] = set()
    _collect_unknown(msg, found)
    return tuple(sorted(found))


def _collect_unknown(msg: Message, found: set[int]) -> None:
    unknown = unknown_fields.UnknownFieldSet(msg)
    found.update(unknown[i].field_number for i in range(len(unknown)))
    for descriptor, value in msg.ListFields():
        if descriptor.message_type is None:
            continue
        for child in value if descriptor.is_repeated else (value,):
            _collect_unknown(child, found)
