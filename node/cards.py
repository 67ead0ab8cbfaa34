"""Member cards: what one member hands another so it can trust its origin and peer with it."""

from __future__ import annotations

import json
from dataclasses import dataclass

from node.errors import MalformedError
from node.home import ROLES, Role
from node.log.cosignature import WitnessKey
from node.log.keys import VerifierKey

CARD_FORMAT = "hashfed-member-card/v1"
_FIELDS = {
    "format",
    "origin",
    "verifier_key",
    "tls_certificate",
    "tls_fingerprint_sha256",
    "address",
}


# Optional fields; a card without them is a member's card from before witnessing existed.
_OPTIONAL = {"role", "witness_key"}


@dataclass(frozen=True)
class MemberCard:
    origin: str  # for an auditor: its name (never an origin of entries)
    verifier_key: VerifierKey
    tls_certificate: str  # PEM
    tls_fingerprint: str  # hex SHA-256 of the certificate's DER
    address: str  # host:port of the member's peer server; empty for an auditor
    role: Role = Role.MEMBER
    witness_key: WitnessKey | None = None

    @property
    def is_auditor(self) -> bool:
        return self.role == Role.AUDITOR

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
        if unknown := set(doc) - _FIELDS - _OPTIONAL:
            raise MalformedError(f"member card has unknown fields {sorted(unknown)}")
        if not all(isinstance(doc[k], str) for k in set(doc)):
            raise MalformedError("member card fields must all be strings")
        role = doc.get("role", "member")
        if role not in ROLES:
            raise MalformedError(f"member card role is {role!r}; expected one of {ROLES}")
        witness = WitnessKey.parse(doc["witness_key"]) if "witness_key" in doc else None
        if witness is not None and witness.name != doc["origin"]:
            raise MalformedError(
                f"member card for {doc['origin']!r} carries a witness key named "
                f"{witness.name!r}; the key name must equal the card's name"
            )
        key = VerifierKey.parse(doc["verifier_key"])
        if key.name != doc["origin"]:
            raise MalformedError(
                f"member card for {doc['origin']!r} carries a key named {key.name!r}; "
                "the key name must equal the origin"
            )
        from node.tls import certificate_fingerprint  # cryptography.x509: only to read a card

        fingerprint = certificate_fingerprint(doc["tls_certificate"].encode())
        if fingerprint != doc["tls_fingerprint_sha256"].lower():
            raise MalformedError(
                f"member card's tls_fingerprint_sha256 {doc['tls_fingerprint_sha256']} does not "
                f"match its certificate ({fingerprint})"
            )
        if role == Role.MEMBER and ":" not in doc["address"]:
            raise MalformedError(f"member card address {doc['address']!r} is not host:port")
        return cls(
            doc["origin"],
            key,
            doc["tls_certificate"],
            fingerprint,
            doc["address"],
            Role(role),
            witness,
        )

    def to_dict(self) -> dict[str, str]:
        card = {
            "format": CARD_FORMAT,
            "origin": self.origin,
            "role": self.role.value,
            "verifier_key": str(self.verifier_key),
            "tls_certificate": self.tls_certificate,
            "tls_fingerprint_sha256": self.tls_fingerprint,
            "address": self.address,
        }
        if self.witness_key is not None:
            card["witness_key"] = str(self.witness_key)
        return card
