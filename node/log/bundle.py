"""Provenance bundles: one entry, its inclusion proof, and the signed checkpoint that covers it.

Anyone holding the origin's verifier key can check a bundle offline (``scripts/verify_bundle.py``
does so without this package). The JSON layout is specified in docs/protocol.md.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from node.errors import MalformedError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.keys import VerifierKey, b64decode_canonical
from node.log.merkle import leaf_hash
from node.log.proof_verification import verify_inclusion

FORMAT = "hashfed-provenance-bundle/v1"
# Canonical member order. A bundle is exactly the compact, ASCII-escaped JSON of its members in
# this order plus one newline, so no byte of it (not even white space) can change and verify.
_ORDER = ("format", "origin", "entry_index", "entry", "inclusion_proof", "checkpoint")
_FIELDS = set(_ORDER)


@dataclass(frozen=True)
class Bundle:
    origin: str
    entry_index: int
    entry: bytes
    inclusion_proof: tuple[bytes, ...]
    checkpoint: str  # the full signed note text

    def to_json(self) -> str:
        """The canonical text, final newline included; write it out byte for byte."""
        return _canonical(
            {
                "format": FORMAT,
                "origin": self.origin,
                "entry_index": self.entry_index,
                "entry": base64.b64encode(self.entry).decode(),
                "inclusion_proof": [base64.b64encode(h).decode() for h in self.inclusion_proof],
                "checkpoint": self.checkpoint,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Bundle:
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedError(f"bundle is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise MalformedError("bundle must be a JSON object")
        if set(doc) != _FIELDS:
            raise MalformedError(f"bundle fields are {sorted(doc)}; expected {sorted(_FIELDS)}")
        if doc["format"] != FORMAT:
            raise MalformedError(f"bundle format is {doc['format']!r}; expected {FORMAT!r}")
        index = doc["entry_index"]
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise MalformedError("entry_index must be a non-negative integer")
        proof = doc["inclusion_proof"]
        if not isinstance(proof, list):
            raise MalformedError("inclusion_proof must be a list of base64 hashes")
        if not isinstance(doc["origin"], str) or not isinstance(doc["checkpoint"], str):
            raise MalformedError("origin and checkpoint must be strings")
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        if text != _canonical({name: doc[name] for name in _ORDER}):
            raise MalformedError(
                "bundle is not in canonical form; expected compact JSON with the members in the "
                f"order {', '.join(_ORDER)}, non-ASCII characters escaped and one final newline"
            )
        return cls(
            origin=doc["origin"],
            entry_index=index,
            entry=_b64(doc["entry"], "entry"),
            inclusion_proof=tuple(_b64(h, "inclusion_proof") for h in proof),
            checkpoint=doc["checkpoint"],
        )

    def verify(self, key: VerifierKey) -> SignedCheckpoint:
        """Check signature, origin binding and inclusion; return the verified checkpoint."""
        signed = SignedCheckpoint.open(self.checkpoint, key)
        cp = signed.checkpoint
        if cp.origin != self.origin:
            raise MalformedError(f"bundle origin {self.origin!r} != checkpoint {cp.origin!r}")
        entry = decode_entry(self.entry)
        if entry.origin != cp.origin:
            raise MalformedError(f"entry belongs to {entry.origin!r}, not to {cp.origin!r}")
        verify_inclusion(
            leaf_hash(self.entry), self.entry_index, cp.size, self.inclusion_proof, cp.root
        )
        return signed


def _canonical(doc: dict[str, object]) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True) + "\n"


def _b64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(f"{what} must be a base64 string")
    return b64decode_canonical(value, what)
