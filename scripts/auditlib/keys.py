"""C2SP signed-note verifier keys (type 0x01, Ed25519) and tlog-cosignature/v1 witness keys
(type 0x04), written ``name+hex8(keyid)+base64(type || public key)``."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from auditlib.errors import fail, show
from auditlib.values import b64decode_canonical, b64encode

ED25519_TYPE = 0x01  # signed-note Ed25519 signature type (origin keys)
COSIGNATURE_TYPE = 0x04  # tlog-cosignature/v1 Ed25519 signature type (witness keys)
_KEY_ID = re.compile(r"[0-9a-f]{8}")
KEY_TYPES = {ED25519_TYPE: "0x01 (Ed25519 note key)", COSIGNATURE_TYPE: "0x04 (witness key)"}


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
