"""Witness cosignatures on checkpoints, in the C2SP tlog-cosignature/v1 format.

A cosignature is a signed-note signature line whose key ID uses signature type 0x04 and whose
signature is ``timestamp (u64, big-endian) || Ed25519 signature`` over::

    cosignature/v1
    time <timestamp>
    <checkpoint note body>

(https://c2sp.org/tlog-cosignature). Witness keys are separate Ed25519 keys, written like note
keys but with type byte 0x04, so a node's log signature and its cosignature can never be
mistaken for one another, and a witness key can be rotated without touching the log.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.errors import MalformedError, SignatureError
from node.log.keys import (
    COSIGNATURE_TYPE,
    KEY_ID_SIZE,
    key_id,
    quoted,
    split_key_text,
    validate_name,
)
from node.log.note import Note, NoteSignature

MAX_TIMESTAMP = 2**63 - 1
_PREFIX = "PRIVATE+KEY+"
_SIGNATURE_SIZE = 64


def witness_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x04 || public key)[:4]."""
    return key_id(name, public_key, COSIGNATURE_TYPE)


def signed_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The exact bytes a cosigner signs for ``checkpoint_body`` at ``timestamp``."""
    _check_timestamp(timestamp)
    if not checkpoint_body.endswith("\n"):
        raise MalformedError("checkpoint body must end with a newline")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_body}".encode()


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise MalformedError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")


@dataclass(frozen=True)
class Cosignature:
    """One witness's cosignature: who, with which key ID, when, and the Ed25519 signature."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_timestamp(self.timestamp)
        if len(self.signature) != _SIGNATURE_SIZE or len(self.key_id) != KEY_ID_SIZE:
            raise MalformedError("a cosignature has a 4-byte key id and a 64-byte signature")

    @classmethod
    def from_note_signature(cls, sig: NoteSignature) -> Cosignature:
        """Read a signature line as a cosignature; raise if it cannot be one."""
        if len(sig.signature) != 8 + _SIGNATURE_SIZE:
            raise MalformedError(
                f"signature line of {sig.label} carries {len(sig.signature)} bytes after its "
                "key id; a cosignature/v1 carries 72 (8-byte timestamp, 64-byte signature)"
            )
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        return cls(sig.name, sig.key_id, timestamp, sig.signature[8:])

    def note_signature(self) -> NoteSignature:
        return NoteSignature(
            self.name, self.key_id, struct.pack(">Q", self.timestamp) + self.signature
        )

    def line(self) -> str:
        """The signature line, final newline included."""
        return self.note_signature().line()


@dataclass(frozen=True)
class WitnessKey:
    """A witness's public key: ``name+keyid+base64(0x04 || Ed25519 public key)``."""

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        validate_name(self.name)
        if self.key_id != witness_key_id(self.name, self.public_key):
            raise MalformedError(
                f"witness key id {self.key_id.hex()} does not match name {quoted(self.name)} "
                "and its public key"
            )

    @classmethod
    def parse(cls, text: str) -> WitnessKey:
        name, kid, public = split_key_text(text, "witness key", COSIGNATURE_TYPE)
        expected = witness_key_id(name, public)
        if kid != expected:
            raise MalformedError(
                f"witness key: key id {kid.hex()} does not match the name and public key; "
                f"expected {expected.hex()}"
            )
        return cls(name, kid, public)

    def __str__(self) -> str:
        data = base64.b64encode(bytes([COSIGNATURE_TYPE]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def matches(self, sig: NoteSignature) -> bool:
        """Whether a signature line claims to be by this key (name and key ID)."""
        return sig.name == self.name and sig.key_id == self.key_id

    def verify(self, checkpoint_body: str, cosignature: Cosignature) -> None:
        """Return if ``cosignature`` is this witness's over ``checkpoint_body``; else raise."""
        label = f"{self.name}+{self.key_id.hex()}"
        if cosignature.name != self.name or cosignature.key_id != self.key_id:
            raise SignatureError(
                f"cosignature is by {cosignature.name}+{cosignature.key_id.hex()}, not {label}"
            )
        message = signed_message(checkpoint_body, cosignature.timestamp)
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                cosignature.signature, message
            )
        except InvalidSignature:
            raise SignatureError(
                f"cosignature by witness {label} does not verify over this checkpoint"
            ) from None


@dataclass(frozen=True)
class CosignerKey:
    """A witness's private key. ``str()`` is the secret key-file text; never log it."""

    name: str
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        validate_name(self.name)
        if len(self.seed) != 32:
            raise MalformedError(f"witness key seed is {len(self.seed)} bytes; expected 32")

    @classmethod
    def generate(cls, name: str) -> CosignerKey:
        return cls(name, Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> CosignerKey:
        """Parse ``PRIVATE+KEY+name+keyid+base64(0x04 || seed)``; messages never echo it."""
        if not text.startswith(_PREFIX):
            raise MalformedError("witness private key does not start with 'PRIVATE+KEY+'")
        try:
            name, kid, seed = split_key_text(
                text[len(_PREFIX) :], "witness private key", COSIGNATURE_TYPE
            )
        except MalformedError as exc:
            raise MalformedError(
                "witness private key is malformed (expected PRIVATE+KEY+name+keyid+"
                "base64(0x04 || seed))"
            ) from exc.__cause__
        key = cls(name, seed)
        if key.verifier().key_id != kid:
            raise MalformedError("witness private key: key id does not match the name and key")
        return key

    def __str__(self) -> str:
        data = base64.b64encode(bytes([COSIGNATURE_TYPE]) + self.seed).decode()
        return f"{_PREFIX}{self.name}+{self.verifier().key_id.hex()}+{data}"

    def verifier(self) -> WitnessKey:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes_raw()
        return WitnessKey(self.name, witness_key_id(self.name, public), public)

    def cosign(self, checkpoint_body: str, timestamp: int) -> Cosignature:
        message = signed_message(checkpoint_body, timestamp)
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)
        return Cosignature(self.name, self.verifier().key_id, timestamp, signature)


def with_cosignatures(note_text: str, cosignatures: Iterable[Cosignature]) -> str:
    """The note with ``cosignatures`` appended (by witness name), replacing earlier lines of
    the same witness keys; the origin's own signature lines come first, untouched."""
    note = Note.parse(note_text)
    extra = sorted(cosignatures, key=lambda c: (c.name, c.key_id))
    keys = {(c.name, c.key_id) for c in extra}
    kept = tuple(s for s in note.signatures if (s.name, s.key_id) not in keys)
    return Note(note.text, kept + tuple(c.note_signature() for c in extra)).format()


def cosignatures_in(note: Note, keys: Iterable[WitnessKey]) -> list[tuple[WitnessKey, Cosignature]]:
    """The cosignatures in ``note`` by the given witness keys that verify; lines by unknown
    keys are ignored (C2SP), and a line claiming a known key that does not verify raises."""
    found = []
    for key in keys:
        for sig in note.signatures:
            if key.matches(sig):
                cosig = Cosignature.from_note_signature(sig)
                key.verify(note.text, cosig)
                found.append((key, cosig))
    return found
