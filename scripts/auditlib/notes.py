"""C2SP signed notes and tlog-checkpoint bodies: parsed strictly, verified with a given key."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditlib.errors import fail, show
from auditlib.keys import VerifierKey, check_name
from auditlib.merkle import HASH_SIZE
from auditlib.values import MAX_TREE_SIZE, b64decode_canonical

ED25519_SIGNATURE_SIZE = 64
MAX_SIGNATURES = 100  # as Go's golang.org/x/mod/sumdb/note: bounds the work a note can ask for
SIGNATURE_PREFIX = "\u2014 "  # EM DASH, space
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


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
