"""C2SP transparency-log checkpoints (https://c2sp.org/tlog-checkpoint) and their signing.

A checkpoint body is the text of a signed note::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    [extension lines]

:class:`Checkpoint` follows the spec alone; :class:`SignedCheckpoint` adds hashfed's rule that
a log's origin *is* its signing key's name, which the spec only recommends.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from node.errors import MalformedError, SignatureError
from node.log.keys import SignerKey, VerifierKey, b64decode_canonical, quoted
from node.log.note import Note, sign_note

__all__ = ["MAX_TREE_SIZE", "ROOT_SIZE", "Checkpoint", "SignedCheckpoint"]

ROOT_SIZE = 32
MAX_TREE_SIZE = 2**63 - 1
"""Largest tree size accepted: sizes travel as int64/uint64 elsewhere (protobuf, SQLite)."""

_DECIMAL = re.compile(r"0|[1-9][0-9]*")  # [0-9], not \d: \d also matches non-ASCII digits
_MAX_SIZE_DIGITS = len(str(MAX_TREE_SIZE))
# Lines of a note body: newline separates them, so they must hold no other control character.
_FORBIDDEN = re.compile("[\x00-\x1f\ud800-\udfff]")


def _line_problem(line: str) -> str | None:
    """Say why ``line`` cannot be a (non-empty) checkpoint line, or return None."""
    if not line:
        return "is empty"
    bad = _FORBIDDEN.search(line)
    if bad is not None:
        return f"contains U+{ord(bad.group()):04X} (a control character or lone surrogate)"
    return None


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin, tree size and RFC 9162 root hash, plus opaque extensions.

    Construction validates the fields, so every ``Checkpoint`` has a body that parses back
    to an equal value.
    """

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        problem = _line_problem(self.origin)
        if problem is not None:
            raise MalformedError(f"checkpoint origin {quoted(self.origin)} {problem}")
        # bool is an int subclass; True as a tree size is a bug, not a size of 1.
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedError(
                f"checkpoint tree size {self.size!r} is out of range; "
                f"expected 0 <= size <= {MAX_TREE_SIZE}"
            )
        if len(self.root) != ROOT_SIZE:
            raise MalformedError(
                f"checkpoint root hash is {len(self.root)} bytes; expected {ROOT_SIZE} (SHA-256)"
            )
        for number, line in enumerate(self.extensions, start=4):
            problem = _line_problem(line)
            if problem is not None:
                raise MalformedError(f"checkpoint line {number}: extension line {problem}")

    def body(self) -> str:
        """The note text: origin, size and base64 root, then extensions, each with a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        lines = (self.origin, str(self.size), root, *self.extensions)
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body (a note's text); raise :class:`MalformedError`."""
        if not body.endswith("\n"):
            raise MalformedError("checkpoint does not end with a newline; expected one per line")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedError(
                f"checkpoint has {len(lines)} line(s); expected origin, tree size and root hash"
            )
        for number, line in enumerate(lines, start=1):
            problem = _line_problem(line)
            if problem is not None:
                raise MalformedError(f"checkpoint line {number} {problem}; expected non-empty text")
        origin, size, root, *extensions = lines
        return cls(origin, _parse_size(size), _parse_root(root), tuple(extensions))


def _parse_size(text: str) -> int:
    where = "checkpoint line 2: tree size"
    if not _DECIMAL.fullmatch(text):
        if text[0] == "0" and text.isascii() and text.isdigit():
            raise MalformedError(
                f"{where} {quoted(text, 24)} has a leading zero; expected a decimal number"
            )
        raise MalformedError(
            f"{where} {quoted(text, 24)} is not a decimal number; expected ASCII digits only"
        )
    # The length check comes first so a huge line never reaches int() (quadratic, and capped).
    if len(text) > _MAX_SIZE_DIGITS or int(text) > MAX_TREE_SIZE:
        raise MalformedError(f"{where} {quoted(text, 24)} is too large; expected < 2**63")
    return int(text)


def _parse_root(text: str) -> bytes:
    root = b64decode_canonical(text, "checkpoint line 3: root hash")
    if len(root) != ROOT_SIZE:
        raise MalformedError(
            f"checkpoint line 3: root hash is {len(root)} bytes; expected {ROOT_SIZE} (SHA-256)"
        )
    return root


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with the signed note that carries it (and any cosignatures).

    Construction checks that the note's text is exactly the checkpoint's body; it does not
    verify signatures. Obtain verified values from :meth:`open` (or :meth:`sign`).
    """

    checkpoint: Checkpoint
    note: Note

    def __post_init__(self) -> None:
        if self.note.text != self.checkpoint.body():
            raise MalformedError("note text is not the checkpoint's body; expected them equal")

    @classmethod
    def sign(cls, checkpoint: Checkpoint, signer: SignerKey) -> SignedCheckpoint:
        """Sign ``checkpoint`` with the log's own key.

        Raises ``ValueError`` if ``signer.name`` is not ``checkpoint.origin``: that is a bug or
        misconfiguration on the signing side, not malformed or untrusted input, and such a
        checkpoint would be refused by every :meth:`open`.
        """
        if signer.name != checkpoint.origin:
            raise ValueError(
                f"signer key name {quoted(signer.name)} is not the checkpoint origin "
                f"{quoted(checkpoint.origin)}; a log signs with the key named after its origin"
            )
        return cls(checkpoint, sign_note(checkpoint.body(), signer))

    @classmethod
    def open(cls, text: str | bytes, key: VerifierKey) -> SignedCheckpoint:
        """Parse a signed checkpoint and verify it with the origin's ``key``.

        Raises :class:`MalformedError` if the note or body does not parse and
        :class:`SignatureError` if ``key`` did not sign it or the origin is not ``key.name``.

        The result keeps only the origin's signature line: any other line (a cosignature, or
        one a relay made up) is unverified here, and whoever stores ``text()`` must never pass
        it on as if it were checked. Cosignatures are read from the raw note and verified
        separately (:mod:`node.service.witnessing`).
        """
        note = Note.parse(text)
        # The body is untrusted until the signature checks out, so verify before parsing it.
        note.verify(key)
        note = Note(
            note.text,
            tuple(s for s in note.signatures if (s.name, s.key_id) == (key.name, key.key_id)),
        )
        checkpoint = Checkpoint.parse(note.text)
        if checkpoint.origin != key.name:
            raise SignatureError(
                f"checkpoint origin {quoted(checkpoint.origin)} is not the name of key "
                f"{key.name}+{key.key_id.hex()}; a log's key must sign only its own checkpoints"
            )
        return cls(checkpoint, note)

    def text(self) -> str:
        """The full signed note: body, blank line, signature lines."""
        return self.note.format()
