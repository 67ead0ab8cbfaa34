"""Shared code of the hashfed auditor scripts: keys, signed notes, cosignatures, Merkle proofs.

The auditor scripts (``verify_bundle.py``, ``verify_log.py``, ``verify_evidence.py``) check the
claims of hashfed nodes without trusting the node's code, so this module imports only the
standard library and ``cryptography``, never the ``node`` package. It implements, from the
specifications alone:

- C2SP signed-note verifier keys (type 0x01, Ed25519) and tlog-cosignature/v1 witness keys
  (type 0x04), ``name+hex8(keyid)+base64(type || public key)``;
- C2SP signed notes and tlog-checkpoint bodies, and tlog-cosignature/v1 cosignature lines;
- RFC 9162 section 2.1 Merkle trees: leaf and node hashes, roots, inclusion and consistency
  proof verification (a proof of the wrong length is refused before it is evaluated);
- just enough of the protobuf wire format to read ``hashfed.v1.Entry``;
- the command-line pieces the scripts share: ``--key``/``--witness`` values given as text or
  ``@FILE``, whole numbers, the input file (or ``-`` for standard input), the report's output.

Every check raises :class:`VerificationError` with a message that says what was wrong and what
was expected; the scripts print it as ``FAIL: <message>``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import re
import struct
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE = 32
ED25519_TYPE = 0x01  # signed-note Ed25519 signature type (origin keys)
COSIGNATURE_TYPE = 0x04  # tlog-cosignature/v1 Ed25519 signature type (witness keys)
ED25519_SIGNATURE_SIZE = 64
COSIGNATURE_SIZE = 8 + ED25519_SIGNATURE_SIZE  # big-endian u64 timestamp, then the signature
MAX_SIGNATURES = 100  # as Go's golang.org/x/mod/sumdb/note: bounds the work a note can ask for
MAX_TREE_SIZE = 2**63 - 1  # as the node and docs/protocol.md section 4
MAX_ENTRY_BYTES = 64 * 1024  # docs/protocol.md section 2, reader rules
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
EMPTY_ROOT = hashlib.sha256(b"").digest()
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_KEY_ID = re.compile(r"[0-9a-f]{8}")
# docs/protocol.md section 1: lower-case DNS-style names, so they are also safe folder names.
_ORIGIN = re.compile(r"(?=.{1,253}\Z)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*")

STATEMENTS = {10: "ADD", 11: "RETRACT", 12: "OPINION"}
VERDICTS = {0: "VERDICT_UNSPECIFIED", 1: "TRUE_POSITIVE", 2: "FALSE_POSITIVE", 3: "DISPUTED"}
KEY_TYPES = {ED25519_TYPE: "0x01 (Ed25519 note key)", COSIGNATURE_TYPE: "0x04 (witness key)"}


class VerificationError(Exception):
    """Something is not acceptable; the message says what was wrong and what was wanted."""


def fail(message: str) -> NoReturn:
    raise VerificationError(message)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: object, limit: int = 80) -> str:
    """``repr`` of untrusted text, shortened: control and bidi characters come out escaped."""
    return shorten(repr(value), limit)


def show_json(value: object, limit: int = 80) -> str:
    """An untrusted JSON value as JSON text (ASCII only, so nothing reaches a terminal raw)."""
    return shorten(json.dumps(value), limit)


def b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard, padded base64 and require that it re-encodes to exactly ``text``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        fail(f"{what} is not valid base64 ({exc}); expected standard padded base64")
    if base64.b64encode(raw).decode("ascii") != text:
        fail(
            f"{what} is not canonical base64 (non-zero unused bits or extra padding); "
            "expected the exact standard encoding of its bytes"
        )
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hex_hash(text: object, what: str) -> bytes:
    """A 32-byte hash written as 64 lower-case hex digits (the form evidence and state use)."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]{64}", text):
        fail(f"{what} is {show_json(text)}; expected 64 lower-case hex digits (a SHA-256 hash)")
    return bytes.fromhex(text)


def is_origin_name(name: str) -> bool:
    """Whether ``name`` is a hashfed origin name (lower-case DNS-style, docs/protocol.md 1)."""
    return bool(_ORIGIN.fullmatch(name))


# --- strict JSON ----------------------------------------------------------------------------


def unique_keys(subject: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json`` ``object_pairs_hook`` that refuses a key given twice in one object.

    The failure reads ``<subject> has key <key> twice; expected each key once``.
    """

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                fail(f"{subject} has key {show(name)} twice; expected each key once")
            result[name] = value
        return result

    return hook


def _reject_constant(name: str) -> NoReturn:
    fail(f"JSON holds {name}; expected plain JSON numbers")


def load_json(data: bytes | str, what: str) -> Any:
    """Parse JSON strictly: UTF-8, no repeated keys, no NaN/Infinity."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(f"{what} is not valid UTF-8 ({exc}); expected UTF-8 JSON")
    try:
        return json.loads(
            data, object_pairs_hook=unique_keys("JSON object"), parse_constant=_reject_constant
        )
    except VerificationError as exc:
        fail(f"{what}: {exc}")
    except (ValueError, RecursionError) as exc:
        fail(f"{what} is not valid JSON ({exc})")


def require_object(value: object, what: str, required: Iterable[str]) -> dict[str, Any]:
    """``value`` must be a JSON object holding at least the ``required`` members."""
    if not isinstance(value, dict):
        fail(f"{what} is {show_json(value)}; expected a JSON object")
    missing = sorted(set(required) - set(value))
    if missing:
        fail(f"{what} is missing {', '.join(missing)}; expected all of {', '.join(required)}")
    return value


def require_int(value: object, what: str, low: int = 0, high: int = MAX_TREE_SIZE) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(f"{what} is {show_json(value)}; expected a JSON integer from {low} to {high}")
    return value


def require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        fail(f"{what} is {show_json(value)}; expected a JSON string")
    return value


# --- keys (C2SP signed-note, tlog-cosignature) ----------------------------------------------


def check_name(name: str, what: str) -> None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what} {show(name)} is not valid UTF-8; expected a UTF-8 note name")
    if not name or "+" in name or any(c.isspace() for c in name):
        fail(f"{what} {show(name)} is not a valid note name; expected non-empty, no spaces or '+'")


def key_id(name: str, public_key: bytes, key_type: int = ED25519_TYPE) -> bytes:
    """C2SP key id: the first 4 bytes of SHA-256(name || "\\n" || type || public key)."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key)
    return digest.digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """An Ed25519 verifier key: a note key (type 0x01) or a witness key (type 0x04)."""

    name: str
    key_id: bytes  # 4 bytes
    public_key: bytes  # 32 bytes
    key_type: int = ED25519_TYPE

    @property
    def text(self) -> str:
        raw = bytes([self.key_type]) + self.public_key
        return f"{self.name}+{self.key_id.hex()}+{b64encode(raw)}"

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"


def parse_key(text: str, key_type: int = ED25519_TYPE) -> VerifierKey:
    """Parse ``name+hex8(keyid)+base64(type || key)`` of the given type; check its key id."""
    kind = "witness key" if key_type == COSIGNATURE_TYPE else "verifier key"
    text = text.strip()
    name, plus, rest = text.partition("+")
    id_hex, plus2, key_b64 = rest.partition("+")
    if not plus or not plus2:
        fail(f"{kind} {show(text)} is malformed; expected name+hex8(keyid)+base64(key)")
    check_name(name, f"{kind} name")
    if not _KEY_ID.fullmatch(id_hex):
        fail(f"{kind} id {show(id_hex)} is malformed; expected 8 lowercase hex digits")
    raw = b64decode_canonical(key_b64, kind)
    want_type = KEY_TYPES[key_type]
    if len(raw) != 1 + 32:
        fail(f"{kind} holds {len(raw)} bytes; expected 33 (type byte {want_type} and 32 key bytes)")
    if raw[0] != key_type:
        got = KEY_TYPES.get(raw[0], f"0x{raw[0]:02x}")
        fail(f"{kind} type is {got}; expected {want_type}")
    public_key = raw[1:]
    want = key_id(name, public_key, key_type)
    if bytes.fromhex(id_hex) != want:
        fail(f"{kind} id {id_hex} does not match its name and key; expected {want.hex()}")
    return VerifierKey(name=name, key_id=want, public_key=public_key, key_type=key_type)


def parse_verifier_key(text: str) -> VerifierKey:
    """An origin's note verifier key (type 0x01)."""
    return parse_key(text, ED25519_TYPE)


def parse_witness_key(text: str) -> VerifierKey:
    """A witness's cosignature verifier key (type 0x04)."""
    return parse_key(text, COSIGNATURE_TYPE)


# --- signed notes and checkpoints -----------------------------------------------------------


@dataclass(frozen=True)
class SignatureLine:
    number: int  # 1-based position in the signature block
    name: str
    key_id: bytes
    data: bytes  # after the key id


@dataclass(frozen=True)
class Note:
    """A parsed (not yet verified) signed note: its text and signature lines."""

    text: bytes  # the signed text, final newline included
    lines: tuple[SignatureLine, ...]


def parse_note(note: bytes, what: str = "checkpoint") -> Note:
    """Parse a C2SP signed note strictly; signatures are not checked here."""
    try:
        note_text = note.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(f"{what} is not valid UTF-8 ({exc}); expected UTF-8 text")
    for offset, char in enumerate(note_text):
        if char < " " and char != "\n":
            fail(
                f"{what} has control character U+{ord(char):04X} at offset {offset}; "
                "expected only newlines between printable text"
            )
    split = note.rfind(b"\n\n")
    if split < 0:
        fail(f"{what} has no blank line before its signatures; expected text, blank line, sigs")
    text, block = note[: split + 1], note[split + 2 :].decode("utf-8")
    if not block:
        fail(f"{what} has no signature lines after its blank line; expected at least one")
    if not block.endswith("\n"):
        fail(f"{what}'s signature block does not end with a newline; expected lines ending \\n")
    raw_lines = block[:-1].split("\n")
    if len(raw_lines) > MAX_SIGNATURES:
        fail(f"{what} has {len(raw_lines)} signature lines; expected at most {MAX_SIGNATURES}")
    seen: set[tuple[str, bytes]] = set()
    lines = []
    for number, line in enumerate(raw_lines, start=1):
        where = f"{what} signature line {number}"
        if not line.startswith(SIGNATURE_PREFIX):
            fail(f"{where} {show(line)} does not start with '\u2014 ' (EM DASH, space)")
        name, _, sig_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        check_name(name, f"{where}: signer name")
        raw = b64decode_canonical(sig_b64, where)
        if len(raw) < 5:
            fail(f"{where} holds {len(raw)} bytes; expected a 4-byte key id and a signature")
        if (name, raw[:4]) in seen:
            fail(f"{where} repeats signer {show(name)} {raw[:4].hex()}; expected one line per key")
        seen.add((name, raw[:4]))
        lines.append(SignatureLine(number, name, raw[:4], raw[4:]))
    return Note(text=text, lines=tuple(lines))


def verify_signature(note: Note, key: VerifierKey, what: str = "checkpoint") -> bytes:
    """Check that ``note`` carries a valid signature by ``key``; return the signed text.

    Signature lines by other keys (another name or key id) are ignored; exactly one line must be
    by ``key`` (guaranteed by :func:`parse_note`), and it must verify.
    """
    verifier = Ed25519PublicKey.from_public_bytes(key.public_key)
    for line in note.lines:
        if line.name != key.name or line.key_id != key.key_id:
            continue  # another signer (a witness, or another key): not ours to check
        where = f"{what} signature line {line.number}"
        if len(line.data) != ED25519_SIGNATURE_SIZE:
            fail(f"{where} (by {key.name}) holds {len(line.data)} signature bytes; expected 64")
        try:
            verifier.verify(line.data, note.text)
        except InvalidSignature:
            fail(f"{where}: signature by {key.text} does not verify over the {what} text")
        return note.text
    fail(
        f"{what} has no signature by the given key {key.text}; expected a line "
        f"'\u2014 {key.name} <base64 of key id {key.key_id.hex()} and signature>'"
    )


def verify_note(note: bytes, key: VerifierKey, what: str = "checkpoint") -> bytes:
    """Verify a C2SP signed note against ``key``; return the signed text (with its newline)."""
    return verify_signature(parse_note(note, what), key, what)


def cosignature_message(body: bytes, timestamp: int) -> bytes:
    """What a tlog-cosignature/v1 witness signs for a checkpoint body at ``timestamp``."""
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body


@dataclass(frozen=True)
class Cosigned:
    """A witness cosignature that verified."""

    witness: VerifierKey
    timestamp: int


def verify_cosignatures(
    note: Note, witnesses: Sequence[VerifierKey], what: str = "checkpoint"
) -> list[Cosigned]:
    """The cosignatures in ``note`` by the given witness keys, each verified.

    Lines by keys not given are ignored (C2SP); a line that claims a given witness key (its name
    and key id) but is not a valid tlog-cosignature/v1 over this note's text fails.
    """
    found = []
    for key in witnesses:
        for line in note.lines:
            if line.name != key.name or line.key_id != key.key_id:
                continue
            where = f"{what} signature line {line.number} (witness {key.label})"
            if len(line.data) != COSIGNATURE_SIZE:
                fail(
                    f"{where} holds {len(line.data)} bytes after its key id; expected "
                    f"{COSIGNATURE_SIZE} (8-byte timestamp and 64-byte signature, "
                    "tlog-cosignature/v1)"
                )
            (timestamp,) = struct.unpack(">Q", line.data[:8])
            try:
                Ed25519PublicKey.from_public_bytes(key.public_key).verify(
                    line.data[8:], cosignature_message(note.text, timestamp)
                )
            except InvalidSignature:
                fail(
                    f"{where}: cosignature by {key.text} (time {timestamp}) does not verify "
                    f"over the {what} text"
                )
            found.append(Cosigned(key, timestamp))
    return found


def witness_names(cosigned: Iterable[Cosigned], origin: str) -> list[str]:
    """The distinct witness names that count for ``origin``: never the origin itself."""
    return sorted({c.witness.name for c in cosigned if c.witness.name != origin})


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = field(default=())


def parse_checkpoint(text: bytes, what: str = "checkpoint") -> Checkpoint:
    """Parse a checkpoint's signed text: origin, decimal size, base64 root, extension lines."""
    lines = text.decode("utf-8").split("\n")
    if len(lines) < 4 or lines[-1] != "":
        fail(f"{what} text has {len(lines) - 1} lines; expected origin, tree size, root hash")
    origin, size_text, root_b64, *extensions = lines[:-1]
    if not origin:
        fail(f"{what} origin line is empty; expected the origin's name")
    if not _DECIMAL.fullmatch(size_text):
        fail(f"{what} tree size {show(size_text)} is not decimal without leading zeros")
    if len(size_text) > 19 or int(size_text) > MAX_TREE_SIZE:
        fail(f"{what} tree size {show(size_text)} is too large; expected at most 2^63-1")
    size = int(size_text)
    root = b64decode_canonical(root_b64, f"{what} root hash")
    if len(root) != HASH_SIZE:
        fail(f"{what} root hash is {len(root)} bytes; expected {HASH_SIZE}")
    for number, line in enumerate(extensions, start=4):
        if not line:
            fail(f"{what} line {number} is empty; expected non-empty extension lines")
    return Checkpoint(origin=origin, size=size, root_hash=root, extensions=tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint note verified with its origin's key."""

    checkpoint: Checkpoint
    note: Note
    note_text: str  # the whole note, as received

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        return self.checkpoint.root_hash


def open_checkpoint(note_text: str, key: VerifierKey, what: str = "checkpoint") -> SignedCheckpoint:
    """Verify a checkpoint note with its origin's key; the origin line must be the key's name."""
    try:
        raw = note_text.encode("utf-8")
    except UnicodeEncodeError as exc:
        fail(f"{what} is not encodable as UTF-8 ({exc}); expected UTF-8 text")
    note = parse_note(raw, what)
    checkpoint = parse_checkpoint(verify_signature(note, key, what), what)
    if checkpoint.origin != key.name:
        fail(
            f"{what} origin {show(checkpoint.origin)} is not the signer's name; "
            f"expected {key.name!r}"
        )
    return SignedCheckpoint(checkpoint, note, note_text)


# --- Merkle trees (RFC 9162 section 2.1) ----------------------------------------------------


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class TreeBuilder:
    """Appends leaf hashes and gives the RFC 9162 root of the leaves so far (a frontier)."""

    def __init__(self) -> None:
        self.size = 0
        self._frontier: list[bytes] = []  # perfect subtree roots, largest first

    def append(self, leaf: bytes) -> None:
        self._frontier.append(leaf)
        self.size += 1
        merged = self.size
        while not merged & 1:  # equal-sized subtrees at the right edge merge
            right = self._frontier.pop()
            self._frontier[-1] = node_hash(self._frontier[-1], right)
            merged >>= 1

    def root(self) -> bytes:
        if not self._frontier:
            return EMPTY_ROOT
        acc = self._frontier[-1]
        for subtree in reversed(self._frontier[:-1]):
            acc = node_hash(subtree, acc)
        return acc


def _check_hashes(what: str, proof: Sequence[bytes], **named: bytes) -> None:
    for name, value in named.items():
        if len(value) != HASH_SIZE:
            fail(f"{what}: {name.replace('_', ' ')} is {len(value)} bytes; expected {HASH_SIZE}")
    for position, value in enumerate(proof):
        if len(value) != HASH_SIZE:
            fail(f"{what} hash {position} is {len(value)} bytes; expected {HASH_SIZE}")


def inclusion_proof_length(index: int, size: int) -> int:
    """Number of hashes in the inclusion proof of leaf ``index`` in a tree of ``size`` leaves."""
    inner = (index ^ (size - 1)).bit_length()  # levels where the path has a right-hand sibling
    return inner + (index >> inner).bit_count()  # plus the left-hand subtrees above them


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """Check an inclusion proof with the algorithm of RFC 9162 section 2.1.3.2."""
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        fail(f"leaf hash or root hash has the wrong length; expected {HASH_SIZE} bytes each")
    if index >= size:
        fail(f"entry index {index} is not inside the tree of size {size}; expected index < size")
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        fail(
            f"inclusion proof has {len(proof)} hashes; expected {want} for entry {index} "
            f"in a tree of size {size}"
        )
    for position, sibling in enumerate(proof):
        if len(sibling) != HASH_SIZE:
            fail(f"inclusion proof hash {position} is {len(sibling)} bytes; expected {HASH_SIZE}")
    fn, sn, computed = index, size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0 or computed != root:
        fail(
            f"inclusion proof of entry {index} leads to root {computed.hex()}; expected the "
            f"checkpoint's root {root.hex()} (tree size {size})"
        )


def consistency_proof_length(old_size: int, new_size: int) -> int:
    """Number of hashes in the RFC 9162 consistency proof from ``old_size`` to ``new_size``."""
    if old_size == new_size:
        return 0
    shift = (old_size & -old_size).bit_length() - 1  # trailing zero bits of old_size
    fn, sn = (old_size - 1) >> shift, (new_size - 1) >> shift
    inner = (fn ^ sn).bit_length()
    return (0 if fn == 0 else 1) + inner + (fn >> inner).bit_count()


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Check an RFC 9162 section 2.1.4.2 consistency proof from ``old_size`` to ``new_size``."""
    where = f"consistency proof from size {old_size} to {new_size}"
    if not 0 < old_size <= new_size <= MAX_TREE_SIZE:
        fail(f"no {where}: expected 0 < old size <= new size")
    _check_hashes(where, proof, old_root=old_root, new_root=new_root)
    want = consistency_proof_length(old_size, new_size)
    if len(proof) != want:
        fail(f"{where} has {len(proof)} hashes; expected exactly {want}")
    if old_size == new_size:
        if old_root != new_root:
            fail(f"trees of equal size {old_size} have different roots")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)  # a perfect old tree is a node of the new one
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for value in path[1:]:
        if sn == 0:
            fail(f"{where} is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(value, fr)
            sr = node_hash(value, sr)
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, value)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail(f"{where} is too short")
    if fr != old_root:
        fail(f"{where} leads to old root {fr.hex()}; expected {old_root.hex()}")
    if sr != new_root:
        fail(f"{where} leads to new root {sr.hex()}; expected {new_root.hex()}")


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


# --- command line ---------------------------------------------------------------------------


def read_key_file(value: str) -> str:
    """A key option's value as given, or for ``@FILE`` the whole text of FILE (UTF-8).

    An unreadable file is a usage error (:class:`argparse.ArgumentTypeError`).
    """
    if not value.startswith("@"):
        return value
    try:
        with open(value[1:], encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]!r}: {exc}") from exc


def key_argument(value: str, parse: Callable[[str], VerifierKey]) -> VerifierKey:
    """One key option's value (text or ``@FILE``) parsed with ``parse``; a bad key is a usage
    error (:class:`argparse.ArgumentTypeError` with the reason)."""
    try:
        return parse(read_key_file(value))
    except VerificationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _key_argument(value: str) -> VerifierKey:
    return key_argument(value, parse_verifier_key)


def add_key_option(parser: argparse.ArgumentParser) -> None:
    """``--key VERIFIER_KEY`` (required, once): the origin's note verifier key, text or @FILE."""
    parser.add_argument(
        "--key",
        required=True,
        type=_key_argument,
        metavar="VERIFIER_KEY",
        help="the origin's verifier key name+keyid+base64, or @FILE holding it",
    )


def count_argument(value: str) -> int:
    """An argparse ``type``: a whole number written with ASCII digits only (``--min N``)."""
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return int(value)


def protect_output() -> None:
    """Make standard output and error escape what they cannot encode instead of crashing."""
    for stream in (sys.stdout, sys.stderr):  # a name or reason must never crash the report
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def read_input(parser: argparse.ArgumentParser, path: str, what: str) -> bytes:
    """The bytes of the file ``path``, or of standard input for ``-``; unreadable: usage error."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        parser.error(f"cannot read {what} {path!r}: {exc}")


def print_report(code: int, report: str) -> int:
    """Print a check's report (to standard error when it failed); return its exit code."""
    print(report, file=sys.stderr if code else sys.stdout)
    return code
