"""tlog-cosignature/v1: witness cosignature lines on a checkpoint note, verified with given keys."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from auditlib.errors import fail
from auditlib.keys import VerifierKey
from auditlib.notes import ED25519_SIGNATURE_SIZE, Note

COSIGNATURE_SIZE = 8 + ED25519_SIGNATURE_SIZE  # big-endian u64 timestamp, then the signature


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
