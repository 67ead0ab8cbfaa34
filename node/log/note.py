"""C2SP signed notes (https://c2sp.org/signed-note): text followed by signature lines.

::

    <text, ending in a newline>
    <blank line>
    — <key name> base64(key id || signature)
    — <key name> base64(key id || signature)

Parsing is strict so that a note has exactly one spelling: valid UTF-8, no control characters
but newline, canonical base64, no two signatures for one (name, key id). Hence
``Note.parse(n.format()) == n`` and ``Note.parse(s).format() == s`` for every accepted ``s``,
and changing any byte of a signed note either breaks parsing or breaks the signature.

Signature lines whose key is unknown are kept and carried along unchanged (cosignatures,
rotated keys) but never trusted: only :meth:`Note.verify` with a key the caller already holds
says anything about the text.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from node.errors import MalformedError, SignatureError
from node.log.keys import (
    KEY_ID_SIZE,
    SignerKey,
    VerifierKey,
    b64decode_canonical,
    name_problem,
    quoted,
)

__all__ = ["MAX_SIGNATURES", "Note", "NoteSignature", "sign_note"]

MAX_SIGNATURES = 100
"""Most signature lines a note may carry (the spec requires accepting at least 16; Go: 100)."""

_SIG_PREFIX = "\u2014 "  # em dash, space
# Forbidden anywhere in a note: ASCII controls except newline, and lone surrogates (a Python
# str can hold them, but they have no UTF-8 encoding, so the text could not be signed).
_FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the signer's key name, 4-byte key ID and signature bytes.

    ``signature`` is everything after the key ID; for Ed25519 it is 64 bytes, but signatures
    of other types (e.g. witness cosignatures) are carried whatever their length.
    """

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        problem = name_problem(self.name)
        if problem is not None:
            raise MalformedError(f"signature key name {quoted(self.name)} {problem}")
        if len(self.key_id) != KEY_ID_SIZE:
            raise MalformedError(
                f"signature key id is {len(self.key_id)} bytes; expected {KEY_ID_SIZE}"
            )
        if not self.signature:
            raise MalformedError("signature is empty; expected at least one signature byte")

    @property
    def label(self) -> str:
        """``name+keyid`` as in a verifier key, for messages."""
        return f"{self.name}+{self.key_id.hex()}"

    def line(self) -> str:
        """The signature line, with its final newline."""
        data = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{_SIG_PREFIX}{self.name} {data}\n"


def _text_problem(text: str) -> str | None:
    """Say why ``text`` cannot be a note's signed text, or return None."""
    if not text.endswith("\n"):
        return "does not end with a newline"
    bad = _FORBIDDEN.search(text)
    if bad is not None:
        return _forbidden_char(text, bad.start())
    return None


def _forbidden_char(text: str, pos: int) -> str:
    char = text[pos]
    line = text.count("\n", 0, pos) + 1
    hint = " (CRLF line endings?)" if char == "\r" else ""
    kind = "lone surrogate" if "\ud800" <= char <= "\udfff" else "control character"
    return f"has a {kind} U+{ord(char):04X} on line {line}{hint}"


def _check_signatures(signatures: tuple[NoteSignature, ...]) -> None:
    if not signatures:
        raise MalformedError("note has no signatures; expected at least one signature line")
    if len(signatures) > MAX_SIGNATURES:
        raise MalformedError(
            f"note has {len(signatures)} signatures; expected at most {MAX_SIGNATURES}"
        )
    seen: set[tuple[str, bytes]] = set()
    for sig in signatures:
        key = (sig.name, sig.key_id)
        if key in seen:
            # The (name, key id) pair names one key; two lines for it would leave open which
            # one a verifier checks, so a note carries at most one.
            raise MalformedError(
                f"note has two signatures by key {sig.label}; expected at most one per key"
            )
        seen.add(key)


@dataclass(frozen=True)
class Note:
    """A signed note: ``text`` (ending in a newline) and its signature lines, in order.

    Construction validates everything :meth:`parse` would, so any ``Note`` formats to text
    that parses back to an equal ``Note``.
    """

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so the value stays hashable and immutable.
        object.__setattr__(self, "signatures", tuple(self.signatures))
        problem = _text_problem(self.text)
        if problem is not None:
            raise MalformedError(f"note text {problem}")
        _check_signatures(self.signatures)

    @classmethod
    def parse(cls, data: str | bytes) -> Note:
        """Parse a complete signed note; raise :class:`MalformedError` if it is not one.

        Parsing checks the format only; call :meth:`verify` before trusting the text.
        """
        message = _decode(data)
        bad = _FORBIDDEN.search(message)
        if bad is not None:
            raise MalformedError(
                f"note {_forbidden_char(message, bad.start())}; expected UTF-8 text whose only "
                "control character is newline"
            )
        # The last blank line separates text from signatures: the text may contain blank
        # lines, signature lines cannot.
        split = message.rfind("\n\n")
        if split < 0:
            raise MalformedError(
                "note has no blank line; expected text, a blank line, then signature lines"
            )
        text, block = message[: split + 1], message[split + 2 :]
        if not block:
            raise MalformedError(
                "note has no signature lines after its last blank line; expected at least one"
            )
        if not block.endswith("\n"):
            raise MalformedError("note does not end with a newline after its last signature")
        lines = block[:-1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise MalformedError(
                f"note has {len(lines)} signature lines; expected at most {MAX_SIGNATURES}"
            )
        first = text.count("\n") + 2  # 1-based note line of the first signature
        signatures = tuple(_parse_line(line, first + i) for i, line in enumerate(lines))
        return cls(text, signatures)

    def format(self) -> str:
        """The note as text: the exact inverse of :meth:`parse`."""
        return self.text + "\n" + "".join(sig.line() for sig in self.signatures)

    def verify(self, key: VerifierKey) -> None:
        """Return if ``key`` signed this note's text; raise :class:`SignatureError` if not.

        Only the signature whose name *and* key ID both match ``key`` counts; others are
        ignored, as the spec requires (they may be cosignatures or other keys' signatures).
        """
        wanted = f"{key.name}+{key.key_id.hex()}"
        for sig in self.signatures:
            if sig.name == key.name and sig.key_id == key.key_id:
                try:
                    key.verify(self.text.encode("utf-8"), sig.signature)
                except SignatureError as exc:
                    raise SignatureError(f"note: {exc}") from None
                return
        raise SignatureError(f"note is not signed by {wanted}; {self._present(key)}")

    def _present(self, key: VerifierKey) -> str:
        labels = ", ".join(sig.label for sig in self.signatures)
        same_name = any(sig.name == key.name for sig in self.signatures)
        hint = " (same name, other key id: rotated or wrong key?)" if same_name else ""
        return f"signatures present: {labels}{hint}"

    def with_signature(self, sig: NoteSignature) -> Note:
        """This note with ``sig`` appended (e.g. a cosignature); ``sig`` is not verified here.

        Adding a signature identical to one already present returns the note unchanged;
        a different signature for the same (name, key id) raises ``ValueError``, because
        silently replacing one could swap a valid signature for an invalid one.
        """
        for existing in self.signatures:
            if (existing.name, existing.key_id) == (sig.name, sig.key_id):
                if existing == sig:
                    return self
                raise ValueError(f"note already has a different signature by key {sig.label}")
        return Note(self.text, (*self.signatures, sig))


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedError(
            f"note is not valid UTF-8 (byte {exc.start}: {exc.reason}); expected UTF-8 text"
        ) from None


def _parse_line(line: str, number: int) -> NoteSignature:
    where = f"note line {number}"
    if not line.startswith(_SIG_PREFIX):
        raise MalformedError(
            f"{where}: {quoted(line)} does not start with an em dash and a space; expected "
            "'\u2014 <key name> <base64 signature>'"
        )
    name, space, data = line[len(_SIG_PREFIX) :].partition(" ")
    if not space:
        raise MalformedError(f"{where}: no space after the key name; expected '— name signature'")
    problem = name_problem(name)
    if problem is not None:
        raise MalformedError(f"{where}: key name {quoted(name)} {problem}")
    raw = b64decode_canonical(data, f"{where}: signature")
    if len(raw) <= KEY_ID_SIZE:
        raise MalformedError(
            f"{where}: signature is {len(raw)} bytes; expected a 4-byte key id and a signature"
        )
    return NoteSignature(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


def sign_note(text: str, signer: SignerKey) -> Note:
    """Sign ``text`` (which must end in a newline) and return the note with that signature."""
    problem = _text_problem(text)
    if problem is not None:
        raise MalformedError(f"note text {problem}")
    signature = signer.sign(text.encode("utf-8"))
    return Note(text, (NoteSignature(signer.name, signer.key_id, signature),))
