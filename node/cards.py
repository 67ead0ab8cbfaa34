"""Member cards: what one member hands another so it can trust its origin and peer with it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from node.errors import MalformedError
from node.log.keys import VerifierKey
from node.tls import certificate_fingerprint

CARD_FORMAT = "hashfed-member-card/v1"
_FIELDS = {
    "format",
    "origin",
    "verifier_key",
    "tls_certificate",
    "tls_fingerprint_sha256",
    "address",
}


@dataclass(frozen=True)
class MemberCard:
    origin: str
    verifier_key: VerifierKey
    tls_certificate: str  # PEM
    tls_fingerprint: str  # hex SHA-256 of the certificate's DER
    address: str  # host:port of the member's peer server

    @classmethod
    def from_json(cls, text: str | bytes) -> MemberCard:
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedError(f"member card is not JSON: {exc}") from exc
        if not isinstance(doc, dict) or not set(doc) >= _FIELDS:
            missing = sorted(_FIELDS - set(doc)) if isinstance(doc, dict) else sorted(_FIELDS)
            raise MalformedError(f"member card lacks {missing}; expected a `hashfed identity` card")
        if doc["format"] != CARD_FORMAT:
            raise MalformedError(
                f"member card format is {doc['format']!r}; expected {CARD_FORMAT!r}"
            )
        if not all(isinstance(doc[k], str) for k in _FIELDS):
            raise MalformedError("member card fields must all be strings")
        key = VerifierKey.parse(doc["verifier_key"])
        if key.name != doc["origin"]:
            raise MalformedError(
                f"member card for {doc['origin']!r} carries a key named {key.name!r}; "
                "the key name must equal the origin"
            )
        fingerprint = certificate_fingerprint(doc["tls_certificate"].encode())
        if fingerprint != doc["tls_fingerprint_sha256"].lower():
            raise MalformedError(
                f"member card's tls_fingerprint_sha256 {doc['tls_fingerprint_sha256']} does not "
                f"match its certificate ({fingerprint})"
            )
        if ":" not in doc["address"]:
            raise MalformedError(f"member card address {doc['address']!r} is not host:port")
        return cls(doc["origin"], key, doc["tls_certificate"], fingerprint, doc["address"])

    def to_dict(self) -> dict[str, str]:
        return {
            "format": CARD_FORMAT,
            "origin": self.origin,
            "verifier_key": str(self.verifier_key),
            "tls_certificate": self.tls_certificate,
            "tls_fingerprint_sha256": self.tls_fingerprint,
            "address": self.address,
        }
