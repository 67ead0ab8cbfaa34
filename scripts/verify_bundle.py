#!/usr/bin/env python3
"""Check one hashfed provenance bundle offline, as an auditor would.

Usage::

    verify_bundle.py BUNDLE --key VERIFIER_KEY
    verify_bundle.py BUNDLE --key @FILE        # the verifier key is read from FILE
    verify_bundle.py - --key ...               # the bundle is read from standard input

``VERIFIER_KEY`` is the origin's C2SP signed-note verifier key,
``name+hex8(keyid)+base64(0x01 || Ed25519 public key)``, obtained from the member out of band.
A key inside the bundle is never used: a verifier does not trust a key that arrives inside the
thing it verifies (a bundle with a ``key`` field is rejected as having an unknown field).

The bundle is a JSON object (``hashfed-provenance-bundle/v1``) holding one log entry's exact bytes,
its RFC 9162 inclusion proof and the origin's signed checkpoint. The script checks that

1. the checkpoint is a C2SP signed note with a valid Ed25519 signature by the given key (signature
   lines by other keys are ignored; one by this key that does not verify fails the bundle);
2. the checkpoint's origin line, the bundle's ``origin`` and the key's name are the same;
3. the entry's leaf hash, at ``entry_index``, reproduces the checkpoint's root through the proof;
4. the entry (protobuf ``hashfed.v1.Entry``) names that same origin in its field 1, so it cannot
   be an entry of another log replayed into this one.

Every base64 value must be canonical and every field well formed: two different byte strings never
verify as the same bundle, so changing any one byte of a valid bundle makes it fail.

It needs only ``cryptography`` and the standard library, and deliberately does not import the
``node`` package: an auditor should not have to trust the node's code to check the node's claims.

Output and exit codes:

- ``0``: ``OK: <origin> entry <index> is included in checkpoint of size <size> signed by <name>``
  on standard output, then one indented line summarising the entry.
- ``1``: ``FAIL: <reason>`` on standard error; the reason says what was wrong and what was
  expected.
- ``2``: usage error (argparse): missing or unknown arguments, an unreadable bundle or key file,
  or a malformed verifier key. Nothing about the bundle was checked.

In-process use (tests, other scripts): :func:`verify_bundle` returns a :class:`Verified` or raises
:class:`VerificationError`; :func:`check_bundle` returns ``(exit code, report text)``, the code
and text the command line would exit with and print.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "hashfed-provenance-bundle/v1"
# The members in their canonical order: a bundle is exactly
# json.dumps(members in this order, separators=(",", ":"), ensure_ascii=True) + "\n",
# so that no byte of it can change (not even white space) and still verify.
BUNDLE_ORDER = ("format", "origin", "entry_index", "entry", "inclusion_proof", "checkpoint")
BUNDLE_KEYS = frozenset(BUNDLE_ORDER)
HASH_SIZE = 32
ED25519_TYPE = 0x01
ED25519_SIGNATURE_SIZE = 64
MAX_SIGNATURES = 100  # as Go's golang.org/x/mod/sumdb/note: bounds the work a note can ask for
MAX_TREE_SIZE = 2**63 - 1  # as the node and docs/protocol.md §4
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[0-9a-f]{8}")

STATEMENTS = {10: "ADD", 11: "RETRACT", 12: "OPINION"}
VERDICTS = {0: "VERDICT_UNSPECIFIED", 1: "TRUE_POSITIVE", 2: "FALSE_POSITIVE", 3: "DISPUTED"}


class VerificationError(Exception):
    """The bundle or key is not acceptable; the message says what was wrong and what was wanted."""


def _fail(message: str) -> NoReturn:
    raise VerificationError(message)


def _show(value: object, limit: int = 80) -> str:
    """``repr`` of untrusted text, shortened: control and bidi characters come out escaped."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json(value: object, limit: int = 80) -> str:
    """An untrusted JSON value as JSON text (ASCII only, so nothing reaches a terminal raw)."""
    text = value.text if isinstance(value, _Negative) else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard, padded base64 and require that it re-encodes to exactly ``text``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        _fail(f"{what} is not valid base64 ({exc}); expected standard padded base64")
    if base64.b64encode(raw).decode("ascii") != text:
        _fail(
            f"{what} is not canonical base64 (non-zero unused bits or extra padding); "
            "expected the exact standard encoding of its bytes"
        )
    return raw


# --- verifier keys (C2SP signed-note) -------------------------------------------------------


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 signed-note verifier key."""

    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes

    @property
    def text(self) -> str:
        raw = bytes([ED25519_TYPE]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode('ascii')}"


def _check_name(name: str, what: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        _fail(f"{what} {_show(name)} is not valid UTF-8; expected a UTF-8 note name")
    if not name or "+" in name or any(c.isspace() for c in name):
        _fail(
            f"{what} {_show(name)} is not a valid note name; expected non-empty, no spaces or '+'"
        )


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP key id: the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_TYPE]) + public_key)
    return digest.digest()[:4]


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse ``name+hex8(keyid)+base64(0x01 || key)`` and check its id against its contents."""
    text = text.strip()
    name, plus, rest = text.partition("+")
    id_hex, plus2, key_b64 = rest.partition("+")
    if not plus or not plus2:
        _fail(f"verifier key {_show(text)} is malformed; expected name+hex8(keyid)+base64(key)")
    _check_name(name, "verifier key name")
    if not _KEY_ID.fullmatch(id_hex):
        _fail(f"verifier key id {_show(id_hex)} is malformed; expected 8 lowercase hex digits")
    raw = b64decode_canonical(key_b64, "verifier key")
    if len(raw) != 1 + 32:
        _fail(f"verifier key holds {len(raw)} bytes; expected 33 (type byte 0x01 and 32 key bytes)")
    if raw[0] != ED25519_TYPE:
        _fail(f"verifier key type is 0x{raw[0]:02x}; expected 0x01 (Ed25519)")
    public_key = raw[1:]
    want = key_id(name, public_key)
    if bytes.fromhex(id_hex) != want:
        _fail(f"verifier key id {id_hex} does not match its name and key; expected {want.hex()}")
    return VerifierKey(name=name, key_id=want, public_key=public_key)


# --- signed notes and checkpoints -----------------------------------------------------------


def verify_note(note: bytes, key: VerifierKey) -> bytes:
    """Verify a C2SP signed note against ``key``; return the signed text (with its final newline).

    Signature lines by other keys (another name or key id) are ignored, but must be well formed
    and name each key at most once; exactly one line must be by ``key``, and it must verify.
    """
    try:
        note_text = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"checkpoint is not valid UTF-8 ({exc}); expected UTF-8 text")
    for offset, char in enumerate(note_text):
        if char < " " and char != "\n":
            _fail(
                f"checkpoint has control character U+{ord(char):04X} at offset {offset}; "
                "expected only newlines between printable text"
            )
    split = note.rfind(b"\n\n")
    if split < 0:
        _fail("checkpoint has no blank line before its signatures; expected text, blank line, sigs")
    text, block = note[: split + 1], note[split + 2 :].decode("utf-8")
    if not block:
        _fail("checkpoint has no signature lines after its blank line; expected at least one")
    if not block.endswith("\n"):
        _fail("checkpoint's signature block does not end with a newline; expected lines ending \\n")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        _fail(f"checkpoint has {len(lines)} signature lines; expected at most {MAX_SIGNATURES}")
    verifier = Ed25519PublicKey.from_public_bytes(key.public_key)
    seen: set[tuple[str, bytes]] = set()
    verified = False
    for number, line in enumerate(lines, start=1):
        what = f"checkpoint signature line {number}"
        if not line.startswith(SIGNATURE_PREFIX):
            _fail(f"{what} {_show(line)} does not start with '\u2014 ' (EM DASH, space)")
        name, _, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        _check_name(name, f"{what}: signer name")
        raw = b64decode_canonical(sig_b64, what)
        if len(raw) < 5:
            _fail(f"{what} holds {len(raw)} bytes; expected a 4-byte key id and a signature")
        if (name, raw[:4]) in seen:
            _fail(f"{what} repeats signer {_show(name)} {raw[:4].hex()}; expected one line per key")
        seen.add((name, raw[:4]))
        if name != key.name or raw[:4] != key.key_id:
            continue  # another signer (a witness, or another key): not ours to check
        if len(raw) != 4 + ED25519_SIGNATURE_SIZE:
            _fail(f"{what} (by {key.name}) holds {len(raw) - 4} signature bytes; expected 64")
        try:
            verifier.verify(raw[4:], text)
        except InvalidSignature:
            _fail(f"{what}: signature by {key.text} does not verify over the checkpoint text")
        verified = True
    if not verified:
        _fail(
            f"checkpoint has no signature by the given key {key.text}; expected a line "
            f"'\u2014 {key.name} <base64 of key id {key.key_id.hex()} and signature>'"
        )
    return text


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: bytes) -> Checkpoint:
    """Parse a checkpoint's signed text: origin, decimal size, base64 root, extension lines."""
    lines = text.decode("utf-8").split("\n")
    if len(lines) < 4 or lines[-1] != "":
        _fail(f"checkpoint text has {len(lines) - 1} lines; expected origin, tree size, root hash")
    origin, size_text, root_b64, *extensions = lines[:-1]
    if not origin:
        _fail("checkpoint origin line is empty; expected the origin's name")
    if not _DECIMAL.fullmatch(size_text):
        _fail(f"checkpoint tree size {_show(size_text)} is not decimal without leading zeros")
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        _fail(f"checkpoint tree size {size} is too large; expected at most 2^64-1")
    root = b64decode_canonical(root_b64, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        _fail(f"checkpoint root hash is {len(root)} bytes; expected {HASH_SIZE}")
    for number, line in enumerate(extensions, start=4):
        if not line:
            _fail(f"checkpoint line {number} is empty; expected non-empty extension lines")
    return Checkpoint(origin=origin, size=size, root_hash=root, extensions=tuple(extensions))


# --- Merkle inclusion (RFC 9162 section 2.1) ------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size`` leaves."""
    inner = (index ^ (size - 1)).bit_length()  # levels where the path has a right-hand sibling
    return inner + (index >> inner).bit_count()  # plus the left-hand subtrees above them


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """Check an inclusion proof with the algorithm of RFC 9162 section 2.1.3.2."""
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        _fail(f"leaf hash or root hash has the wrong length; expected {HASH_SIZE} bytes each")
    if index >= size:
        _fail(f"entry index {index} is not inside the tree of size {size}; expected index < size")
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        _fail(
            f"inclusion proof has {len(proof)} hashes; expected {want} for entry {index} "
            f"in a tree of size {size}"
        )
    for position, sibling in enumerate(proof):
        if len(sibling) != HASH_SIZE:
            _fail(f"inclusion proof hash {position} is {len(sibling)} bytes; expected {HASH_SIZE}")
    fn, sn, computed = index, size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            computed = _node_hash(sibling, computed)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            computed = _node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or computed != root:
        _fail(
            f"inclusion proof of entry {index} leads to root {computed.hex()}; expected the "
            f"checkpoint's root {root.hex()} (tree size {size})"
        )


# --- protobuf wire format (just enough to read hashfed.v1.Entry) ---------------------------


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
            _fail(f"{what}: varint is truncated at byte {pos}; expected more bytes")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 2**64:
                _fail(f"{what}: varint overflows 64 bits; expected a 64-bit value")
            return value, pos
    _fail(f"{what}: varint is longer than 10 bytes; expected at most 10")


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
            _fail(f"{what}: field number {number} at byte {start}; expected 1 to 2^29-1")
        if wire == 0:
            value, pos = _varint(data, pos, what)
            fields.append(Field(number, wire, varint=value))
            continue
        if wire in (1, 5):
            length = 8 if wire == 1 else 4
        elif wire == 2:
            length, pos = _varint(data, pos, what)
        else:
            _fail(f"{what}: field {number} has wire type {wire}; expected 0, 1, 2 or 5 (no groups)")
        if length > len(data) - pos:
            _fail(
                f"{what}: field {number} needs {length} bytes but {len(data) - pos} remain; "
                "expected it to end within the message"
            )
        fields.append(Field(number, wire, data=data[pos : pos + length]))
        pos += length
    return fields


def _string(field: Field, what: str) -> str:
    if field.wire_type != 2:
        _fail(f"{what} has wire type {field.wire_type}; expected a string (wire type 2)")
    try:
        return field.data.decode("utf-8")
    except UnicodeDecodeError:
        _fail(f"{what} is not valid UTF-8; expected a protobuf string")


def _message(field: Field, what: str) -> list[Field]:
    if field.wire_type != 2:
        _fail(f"{what} has wire type {field.wire_type}; expected a message (wire type 2)")
    return read_fields(field.data, what)


def _uint(field: Field, what: str) -> int:
    if field.wire_type != 0:
        _fail(f"{what} has wire type {field.wire_type}; expected a varint (wire type 0)")
    return field.varint


@dataclass(frozen=True)
class EntryInfo:
    """What the script reads from an entry: its origin, statement kind and a one-line summary."""

    origin: str
    statement: str  # "ADD", "RETRACT", "OPINION" or "none"
    summary: str


def read_entry(entry: bytes) -> EntryInfo:
    """Read ``hashfed.v1.Entry``: field 1 (origin) exactly once, at most one statement.

    A serializer writes each of these once; repeats would be merged or overridden by a parser,
    so an entry holding them is refused rather than read one way of several.
    """
    fields = read_fields(entry, "entry")
    origins = [field for field in fields if field.number == 1]
    if len(origins) != 1:
        _fail(f"entry has field 1 (origin) {len(origins)} times; expected exactly once")
    origin = _string(origins[0], "entry field 1 (origin)")
    statements = [field for field in fields if field.number in STATEMENTS]
    if len(statements) > 1:
        kinds = ", ".join(STATEMENTS[field.number] for field in statements)
        _fail(f"entry has {len(statements)} statement fields ({kinds}); expected exactly one")
    if statements:
        statement = STATEMENTS[statements[0].number]
        body = _message(statements[0], f"entry field {statements[0].number} ({statement})")
        parts = [_statement_summary(statement, body)]
    else:
        statement = "none"
        parts = ["no statement (none of fields 10 ADD, 11 RETRACT, 12 OPINION)"]
    for field in fields:
        if field.number == 2:
            millis = _uint(field, "entry field 2 (create_time_unix_millis)")
            parts.append("created " + _time(millis - 2**64 if millis >= 2**63 else millis))
    return EntryInfo(origin=origin, statement=statement, summary=", ".join(parts))


def _statement_summary(statement: str, body: list[Field]) -> str:
    if statement == "ADD":
        types = [
            _show(_string(inner, "ADD signal type"), 40)
            for field in body
            if field.number == 1
            for inner in _message(field, "ADD signal")
            if inner.number == 1
        ]
        return f"ADD (signals: {', '.join(types) or 'none'})"
    if statement == "RETRACT":
        targets = [_uint(field, "RETRACT entry_index") for field in body if field.number == 1]
        return f"RETRACT of entry {targets[-1] if targets else 0}"
    verdict, target_origin, target_index = 0, "", 0
    for field in body:
        if field.number == 1:
            for inner in _message(field, "OPINION target"):
                if inner.number == 1:
                    target_origin = _string(inner, "OPINION target origin")
                elif inner.number == 2:
                    target_index = _uint(inner, "OPINION target entry_index")
        elif field.number == 2:
            verdict = _uint(field, "OPINION verdict")
    name = VERDICTS.get(verdict, f"verdict {verdict}")
    return f"OPINION {name} on {_show(target_origin, 60)} entry {target_index}"


def _time(millis: int) -> str:
    try:
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    except OverflowError:
        return f"at {millis} ms since the Unix epoch"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the bundle -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    """A bundle that verified: what was proven, for the OK line."""

    origin: str
    entry_index: int
    tree_size: int
    key_name: str
    entry: EntryInfo

    @property
    def report(self) -> str:
        """The OK line, then the entry's summary indented on a second line."""
        return (
            f"OK: {self.origin} entry {self.entry_index} is included in checkpoint of size "
            f"{self.tree_size} signed by {self.key_name}\n  entry: {self.entry.summary}"
        )


class _Negative:
    """A negative JSON integer, kept as its text so ``-0`` cannot pass for ``0``."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _Negative:
    return _Negative(text) if text.startswith("-") else int(text)


def _reject_constant(name: str) -> NoReturn:
    _fail(f"bundle has {name}; expected plain JSON numbers")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            _fail(f"bundle has key {_show(name)} twice; expected each key once")
        result[name] = value
    return result


def _load_json(bundle: bytes) -> dict[str, Any]:
    try:
        text = bundle.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"bundle is not valid UTF-8 ({exc}); expected a UTF-8 JSON object")
    try:
        data = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        _fail(f"bundle is not valid JSON ({exc}); expected a JSON object")
    if not isinstance(data, dict):
        _fail(f"bundle is a JSON {type(data).__name__}; expected a JSON object")
    unknown = sorted(set(data) - BUNDLE_KEYS)
    if unknown:
        hint = (
            " (the key is never taken from the bundle; give it with --key)"
            if "key" in unknown
            else ""
        )
        _fail(
            f"bundle has unknown key(s) {', '.join(_show(k) for k in unknown)}{hint}; "
            f"expected only {', '.join(sorted(BUNDLE_KEYS))}"
        )
    missing = sorted(BUNDLE_KEYS - set(data))
    if missing:
        _fail(
            f"bundle is missing {', '.join(missing)}; "
            f"expected all of {', '.join(sorted(BUNDLE_KEYS))}"
        )
    if isinstance(data["entry_index"], _Negative):
        return data  # refused with a precise reason when entry_index is read
    canonical = json.dumps(
        {name: data[name] for name in BUNDLE_ORDER}, separators=(",", ":"), ensure_ascii=True
    )
    if text != canonical + "\n":
        _fail(
            "bundle is not in canonical form; expected compact JSON with the members in the "
            f"order {', '.join(BUNDLE_ORDER)}, non-ASCII characters escaped and one final "
            "newline, exactly as `hashfed proof` writes it"
        )
    return data


def _require_str(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        _fail(f"bundle {name} is {_json(value)}; expected a JSON string")
    return value


def verify_bundle(bundle: bytes, key: VerifierKey | str) -> Verified:
    """Verify a bundle's bytes against a verifier key (parsed, or its text); raise on any fault."""
    if isinstance(key, str):
        key = parse_verifier_key(key)
    data = _load_json(bundle)

    if data["format"] != BUNDLE_FORMAT:
        _fail(f"bundle format is {_json(data['format'])}; expected {json.dumps(BUNDLE_FORMAT)}")
    origin = _require_str(data, "origin")
    if origin != key.name:
        _fail(
            f"bundle origin {_show(origin)} is not the verifier key's name; expected {key.name!r}"
        )
    index = data["entry_index"]
    if isinstance(index, bool) or not isinstance(index, int):
        _fail(f"bundle entry_index is {_json(index)}; expected a JSON integer >= 0")
    entry = b64decode_canonical(_require_str(data, "entry"), "bundle entry")
    proof_json = data["inclusion_proof"]
    if not isinstance(proof_json, list):
        _fail(f"bundle inclusion_proof is {_json(proof_json)}; expected a JSON array of strings")
    proof = []
    for position, item in enumerate(proof_json):
        if not isinstance(item, str):
            _fail(f"inclusion proof hash {position} is {_json(item)}; expected a base64 string")
        proof.append(b64decode_canonical(item, f"inclusion proof hash {position}"))
    note = _require_str(data, "checkpoint")
    try:
        note_bytes = note.encode("utf-8")
    except UnicodeEncodeError as exc:
        _fail(f"checkpoint is not encodable as UTF-8 ({exc}); expected UTF-8 text")

    checkpoint = parse_checkpoint(verify_note(note_bytes, key))
    if checkpoint.origin != key.name:
        _fail(
            f"checkpoint origin {_show(checkpoint.origin)} is not the signer's name; "
            f"expected {key.name!r}"
        )
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root_hash)
    info = read_entry(entry)
    if info.origin != checkpoint.origin:
        _fail(
            f"entry's origin field is {_show(info.origin)}; expected {checkpoint.origin!r}, "
            "the log it is included in"
        )
    return Verified(
        origin=checkpoint.origin,
        entry_index=index,
        tree_size=checkpoint.size,
        key_name=key.name,
        entry=info,
    )


def check_bundle(bundle: bytes, key: VerifierKey | str) -> tuple[int, str]:
    """Return ``(0, "OK: ...")`` or ``(1, "FAIL: ...")``: the exit code and text the CLI prints."""
    try:
        verified = verify_bundle(bundle, key)
    except VerificationError as exc:
        return 1, f"FAIL: {exc}"
    return 0, verified.report


# --- command line ---------------------------------------------------------------------------


def _key_argument(value: str) -> VerifierKey:
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as handle:
                value = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]!r}: {exc}") from exc
    try:
        return parse_verifier_key(value)
    except VerificationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check a hashfed provenance bundle offline against the origin's verifier key.",
        epilog="Exit codes: 0 verified, 1 verification failed, 2 usage error.",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="bundle JSON file, or - for stdin")
    parser.add_argument(
        "--key",
        required=True,
        type=_key_argument,
        metavar="VERIFIER_KEY",
        help="the origin's verifier key name+keyid+base64, or @FILE holding it",
    )
    args = parser.parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a name or reason must never crash the report
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    if args.bundle == "-":
        bundle = sys.stdin.buffer.read()
    else:
        try:
            with open(args.bundle, "rb") as handle:
                bundle = handle.read()
        except OSError as exc:
            parser.error(f"cannot read bundle {args.bundle!r}: {exc}")
    code, report = check_bundle(bundle, args.key)
    print(report, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
