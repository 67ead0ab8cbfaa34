"""Just enough of the protobuf wire format to read ``hashfed.v1.Entry``, refusing ambiguity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auditlib.errors import fail, show

MAX_ENTRY_BYTES = 64 * 1024  # docs/protocol.md section 2, reader rules
STATEMENTS = {10: "ADD", 11: "RETRACT", 12: "OPINION"}
VERDICTS = {0: "VERDICT_UNSPECIFIED", 1: "TRUE_POSITIVE", 2: "FALSE_POSITIVE", 3: "DISPUTED"}


@dataclass(frozen=True)
class Field:
    """One field record of a protobuf message, as found on the wire."""

    number: int
    wire_type: int  # 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
    varint: int = 0  # wire type 0
    data: bytes = b""  # wire types 1, 2 and 5


def _varint(data: bytes, pos: int, what: str) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            fail(f"{what}: varint is truncated at byte {pos}; expected more bytes")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 2**64:
                fail(f"{what}: varint overflows 64 bits; expected a 64-bit value")
            return value, pos
    fail(f"{what}: varint is longer than 10 bytes; expected at most 10")


def read_fields(data: bytes, what: str) -> list[Field]:
    """Every field record of one message's bytes, in order.

    Groups (wire types 3 and 4), unknown wire types, field number 0 and anything truncated or
    running past the end of ``data`` are rejected.
    """
    fields = []
    pos = 0
    while pos < len(data):
        start = pos
        key, pos = _varint(data, pos, what)
        number, wire = key >> 3, key & 7
        if not 1 <= number < 2**29:
            fail(f"{what}: field number {number} at byte {start}; expected 1 to 2^29-1")
        if wire == 0:
            value, pos = _varint(data, pos, what)
            fields.append(Field(number, wire, varint=value))
            continue
        if wire in (1, 5):
            length = 8 if wire == 1 else 4
        elif wire == 2:
            length, pos = _varint(data, pos, what)
        else:
            fail(f"{what}: field {number} has wire type {wire}; expected 0, 1, 2 or 5 (no groups)")
        if length > len(data) - pos:
            fail(
                f"{what}: field {number} needs {length} bytes but {len(data) - pos} remain; "
                "expected it to end within the message"
            )
        fields.append(Field(number, wire, data=data[pos : pos + length]))
        pos += length
    return fields


def _string(item: Field, what: str) -> str:
    if item.wire_type != 2:
        fail(f"{what} has wire type {item.wire_type}; expected a string (wire type 2)")
    try:
        return item.data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{what} is not valid UTF-8; expected a protobuf string")


def _message(item: Field, what: str) -> list[Field]:
    if item.wire_type != 2:
        fail(f"{what} has wire type {item.wire_type}; expected a message (wire type 2)")
    return read_fields(item.data, what)


def _uint(item: Field, what: str) -> int:
    if item.wire_type != 0:
        fail(f"{what} has wire type {item.wire_type}; expected a varint (wire type 0)")
    return item.varint


@dataclass(frozen=True)
class EntryInfo:
    """What the scripts read from an entry: its origin, statement kind and a one-line summary."""

    origin: str
    statement: str  # "ADD", "RETRACT", "OPINION" or "none"
    summary: str


def read_entry(entry: bytes, what: str = "entry") -> EntryInfo:
    """Read ``hashfed.v1.Entry``: field 1 (origin) exactly once, at most one statement.

    A serializer writes each of these once; repeats would be merged or overridden by a parser,
    so an entry holding them is refused rather than read one way of several.
    """
    fields = read_fields(entry, what)
    origins = [item for item in fields if item.number == 1]
    if len(origins) != 1:
        fail(f"{what} has field 1 (origin) {len(origins)} times; expected exactly once")
    origin = _string(origins[0], f"{what} field 1 (origin)")
    statements = [item for item in fields if item.number in STATEMENTS]
    if len(statements) > 1:
        kinds = ", ".join(STATEMENTS[item.number] for item in statements)
        fail(f"{what} has {len(statements)} statement fields ({kinds}); expected exactly one")
    if statements:
        statement = STATEMENTS[statements[0].number]
        body = _message(statements[0], f"{what} field {statements[0].number} ({statement})")
        parts = [_statement_summary(statement, body)]
    else:
        statement = "none"
        parts = ["no statement (none of fields 10 ADD, 11 RETRACT, 12 OPINION)"]
    for item in fields:
        if item.number == 2:
            millis = _uint(item, f"{what} field 2 (create_time_unix_millis)")
            parts.append("created " + _time(millis - 2**64 if millis >= 2**63 else millis))
    return EntryInfo(origin=origin, statement=statement, summary=", ".join(parts))


def _statement_summary(statement: str, body: list[Field]) -> str:
    if statement == "ADD":
        types = [
            show(_string(inner, "ADD signal type"), 40)
            for item in body
            if item.number == 1
            for inner in _message(item, "ADD signal")
            if inner.number == 1
        ]
        return f"ADD (signals: {', '.join(types) or 'none'})"
    if statement == "RETRACT":
        targets = [_uint(item, "RETRACT entry_index") for item in body if item.number == 1]
        return f"RETRACT of entry {targets[-1] if targets else 0}"
    verdict, target_origin, target_index = 0, "", 0
    for item in body:
        if item.number == 1:
            for inner in _message(item, "OPINION target"):
                if inner.number == 1:
                    target_origin = _string(inner, "OPINION target origin")
                elif inner.number == 2:
                    target_index = _uint(inner, "OPINION target entry_index")
        elif item.number == 2:
            verdict = _uint(item, "OPINION verdict")
    name = VERDICTS.get(verdict, f"verdict {verdict}")
    return f"OPINION {name} on {show(target_origin, 60)} entry {target_index}"


def _time(millis: int) -> str:
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    except OverflowError:
        return f"at {millis} ms since the Unix epoch"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
