"""Ed25519 keys in the C2SP signed-note text formats.

A verifier (public) key is written ``<name>+<key id hex>+<base64(0x01 || public key)>`` and a
signer (private) key ``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || seed)>``, as in
https://c2sp.org/signed-note and golang.org/x/mod/sumdb/note. hashfed writes keys this way
everywhere (member cards, config, CLI output), so one parser guards every entry point.

Parsing is strict: a key text has exactly one accepted spelling (lowercase hex, canonical
base64, no surrounding whitespace), so ``str(parse(text)) == text`` always holds and two
spellings of one key can never be told apart by byte comparison.

This module also holds the small encoding rules that :mod:`node.log.note` and
:mod:`node.log.checkpoint` share (key names, canonical base64), because it is the lowest layer.
"""

from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.errors import MalformedError, SignatureError

__all__ = [
    "ED25519_TYPE",
    "KEY_ID_SIZE",
    "SignerKey",
    "VerifierKey",
    "b64decode_canonical",
    "key_id",
    "name_problem",
    "quoted",
    "validate_name",
]

ED25519_TYPE = 0x01
"""Signature type byte that signed-note assigns to Ed25519."""
COSIGNATURE_TYPE = 0x04
"""Signature type byte of Ed25519 tlog-cosignature/v1 keys (witnesses)."""
_TYPE_NAMES = {ED25519_TYPE: "Ed25519", COSIGNATURE_TYPE: "Ed25519 cosignature/v1"}

KEY_ID_SIZE = 4
_KEY_SIZE = 32  # an Ed25519 public key and a private seed alike
_PUBLIC_KEY_SIZE = _KEY_SIZE
_SEED_SIZE = _KEY_SIZE
_SIGNATURE_SIZE = 64
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_KEY_ID_HEX = re.compile(r"[0-9a-f]{8}")

# The Unicode White_Space property, spelled out rather than taken from str.isspace(): the set is
# frozen by Unicode's stability policy, so every node on every Python version agrees on which
# names (and therefore which notes) are valid. It is the set Go's unicode.IsSpace uses.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def quoted(text: str, limit: int = 60) -> str:
    """``repr(text)``, shortened so that hostile input cannot flood an error message or log."""
    if len(text) > limit:
        return repr(text[:limit]) + f"... ({len(text)} characters)"
    return repr(text)


def name_problem(name: str) -> str | None:
    """Say what makes ``name`` unusable as a key or origin name, or return None if it is fine.

    The signed-note rules: non-empty, valid UTF-8, no Unicode space, no ``+``. hashfed also
    refuses control characters (category Cc): C0 controls are illegal in notes anyway, and C1
    controls such as U+009B (CSI) would let a peer's key name drive an operator's terminal.
    """
    if not name:
        return "is empty"
    for char in name:
        if char == "+":
            return "contains '+'"
        if char in _WHITE_SPACE:
            return f"contains a space character (U+{ord(char):04X})"
        # Cc and Cs are fixed ranges in every Unicode version, so this check is stable too.
        category = unicodedata.category(char)
        if category == "Cc":
            return f"contains a control character (U+{ord(char):04X})"
        if category == "Cs":
            return f"contains a lone surrogate (U+{ord(char):04X}), which is not valid UTF-8"
    return None


def validate_name(name: str) -> None:
    """Raise :class:`MalformedError` unless ``name`` is a valid key/origin name."""
    problem = name_problem(name)
    if problem is not None:
        raise MalformedError(
            f"key name {quoted(name)} {problem}; expected a non-empty name without spaces, "
            "'+' or control characters (e.g. 'acme.example')"
        )


def b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 §4) that must be the canonical encoding.

    Canonical means re-encoding gives back ``text`` exactly. Without this, set padding bits
    would give several spellings of one signature or hash, so a changed byte of a signed note
    could still verify. ``what`` names the field for the error; the value itself is never
    echoed, since callers pass secrets through here too.
    """
    try:
        decoded = base64.b64decode(text, validate=True)
    except ValueError as exc:  # binascii.Error, or non-ASCII characters in text
        raise MalformedError(
            f"{what} is not valid base64 ({exc}); expected standard padded base64 (RFC 4648 §4)"
        ) from None
    if base64.b64encode(decoded).decode("ascii") != text:
        raise MalformedError(
            f"{what} is not canonical base64 (padding bits or padding differ from the encoding "
            "of its bytes); expected the exact standard base64 of the value"
        )
    return decoded


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_id(name: str, public_key: bytes, key_type: int = ED25519_TYPE) -> bytes:
    """The signed-note key ID of an Ed25519 key: SHA-256(name || 0x0A || type || key)[:4].

    Binding the name into the ID means one key under two names has two IDs, so a signature
    can never be replayed under another name.
    """
    if len(public_key) != _PUBLIC_KEY_SIZE:
        raise ValueError(
            f"Ed25519 public key must be {_PUBLIC_KEY_SIZE} bytes, not {len(public_key)}"
        )
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key).digest()
    return digest[:KEY_ID_SIZE]


def _parse_key_id(text: str, what: str) -> bytes:
    if not _KEY_ID_HEX.fullmatch(text):
        raise MalformedError(
            f"{what}: key id {quoted(text, 20)} is not 8 lowercase hex digits; "
            "expected e.g. '530d903a'"
        )
    return bytes.fromhex(text)


def split_key_text(text: str, what: str, key_type: int) -> tuple[str, bytes, bytes]:
    """Split ``name+keyid+base64(type || 32 key bytes)`` into (name, key id, key bytes).

    Checks the spelling only (no surrounding whitespace, a valid name, 8 lowercase hex digits,
    canonical base64, the type byte); whether the key id matches is the caller's check, since
    for a private key it needs the public key first.
    """
    _check_whitespace(text, what)
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise MalformedError(f"{what} {quoted(text)} is not of the form name+keyid+keydata")
    name, id_hex, data = parts
    problem = name_problem(name)
    if problem is not None:
        raise MalformedError(f"{what}: name {quoted(name)} {problem}")
    return name, _parse_key_id(id_hex, what), _parse_key_data(data, what, _KEY_SIZE, key_type)


def _parse_key_data(text: str, what: str, size: int, key_type: int = ED25519_TYPE) -> bytes:
    """Decode ``base64(type || key bytes)`` and return the key bytes."""
    data = b64decode_canonical(text, f"{what}: key data")
    if len(data) != 1 + size:
        raise MalformedError(
            f"{what}: key data is {len(data)} bytes; expected 1 type byte and {size} key bytes"
        )
    if data[0] != key_type:
        raise MalformedError(
            f"{what}: key type byte is 0x{data[0]:02x}; expected 0x{key_type:02x} "
            f"({_TYPE_NAMES[key_type]})"
        )
    return data[1:]


def _public_from_seed(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()


def _check_whitespace(text: str, what: str) -> None:
    if text != text.strip():
        raise MalformedError(
            f"{what} has leading or trailing whitespace (a newline from a file?); "
            "expected the key text alone"
        )


@dataclass(frozen=True)
class VerifierKey:
    """A public Ed25519 key with its signed-note name and key ID.

    Constructing one checks that ``key_id`` is the ID computed from ``name`` and
    ``public_key``, so a value of this type is always internally consistent.
    """

    name: str
    key_id: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        validate_name(self.name)
        if len(self.public_key) != _PUBLIC_KEY_SIZE:
            raise MalformedError(
                f"public key is {len(self.public_key)} bytes; expected {_PUBLIC_KEY_SIZE}"
            )
        expected = key_id(self.name, self.public_key)
        if self.key_id != expected:
            raise MalformedError(
                f"key id {self.key_id.hex()} does not match name {quoted(self.name)} and its "
                f"public key; expected {expected.hex()}"
            )

    @classmethod
    def parse(cls, text: str) -> VerifierKey:
        """Parse ``name+keyid+base64(0x01 || public key)``; raise :class:`MalformedError`."""
        what = "verifier key"
        if text.startswith(_PRIVATE_PREFIX):
            # Never echo this text: it is a secret that was pasted in the wrong place.
            raise MalformedError(
                f"{what}: got a PRIVATE+KEY signer key; expected the public verifier key "
                "(name+keyid+keydata). Keep the private key secret"
            )
        name, kid, public_key = split_key_text(text, what, ED25519_TYPE)
        expected = key_id(name, public_key)
        if kid != expected:
            raise MalformedError(
                f"{what}: key id {kid.hex()} does not match the name and public key; expected "
                f"{expected.hex()} (key id, name or key data altered?)"
            )
        return cls(name, kid, public_key)

    def __str__(self) -> str:
        data = _b64encode(bytes([ED25519_TYPE]) + self.public_key)
        return f"{self.name}+{self.key_id.hex()}+{data}"

    def verify(self, message: bytes, signature: bytes) -> None:
        """Return if ``signature`` is this key's Ed25519 signature of ``message``.

        Raises :class:`SignatureError` otherwise.
        """
        label = f"{self.name}+{self.key_id.hex()}"
        if len(signature) != _SIGNATURE_SIZE:
            raise SignatureError(
                f"signature for key {label} is {len(signature)} bytes; "
                f"expected a {_SIGNATURE_SIZE}-byte Ed25519 signature"
            )
        public = Ed25519PublicKey.from_public_bytes(self.public_key)
        try:
            public.verify(signature, message)
        except InvalidSignature:
            raise SignatureError(
                f"signature does not verify with key {label}; the signed bytes or the "
                "signature were altered, or another key with the same name and id signed"
            ) from None


@dataclass(frozen=True)
class SignerKey:
    """A private Ed25519 key (its 32-byte seed) with its signed-note name and key ID.

    ``repr()`` leaves the seed out, but ``str()`` is the complete ``PRIVATE+KEY+...`` text:
    a secret. Never log or format a signer key; write ``str(key)`` only to its key file.
    """

    name: str
    key_id: bytes
    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        validate_name(self.name)
        if len(self.seed) != _SEED_SIZE:
            raise MalformedError(
                f"signer key seed is {len(self.seed)} bytes; expected {_SEED_SIZE}"
            )
        expected = key_id(self.name, _public_from_seed(self.seed))
        if self.key_id != expected:
            raise MalformedError(
                f"signer key id {self.key_id.hex()} does not match name {quoted(self.name)} "
                f"and the key; expected {expected.hex()}"
            )

    @classmethod
    def generate(cls, name: str) -> SignerKey:
        """A fresh random key for ``name`` (from the OS CSPRNG, via OpenSSL)."""
        validate_name(name)
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, key_id(name, _public_from_seed(seed)), seed)

    @classmethod
    def parse(cls, text: str) -> SignerKey:
        """Parse ``PRIVATE+KEY+name+keyid+base64(0x01 || seed)``.

        Error messages never contain the text or the seed.
        """
        what = "signer key"
        _check_whitespace(text, what)
        if not text.startswith(_PRIVATE_PREFIX):
            raise MalformedError(
                f"{what} does not start with 'PRIVATE+KEY+'; expected "
                "PRIVATE+KEY+name+keyid+keydata (a verifier key cannot sign)"
            )
        parts = text[len(_PRIVATE_PREFIX) :].split("+", 2)
        if len(parts) != 3:
            raise MalformedError(f"{what} is not of the form PRIVATE+KEY+name+keyid+keydata")
        name, id_hex, data = parts
        problem = name_problem(name)
        if problem is not None:
            raise MalformedError(f"{what}: name {quoted(name)} {problem}")
        kid = _parse_key_id(id_hex, what)
        seed = _parse_key_data(data, what, _SEED_SIZE)
        expected = key_id(name, _public_from_seed(seed))
        if kid != expected:
            raise MalformedError(
                f"{what}: key id {id_hex} does not match the name and the key; expected "
                f"{expected.hex()} (key id, name or key data altered?)"
            )
        return cls(name, kid, seed)

    def __str__(self) -> str:
        """The secret ``PRIVATE+KEY+name+keyid+keydata`` text. Handle as a secret."""
        data = _b64encode(bytes([ED25519_TYPE]) + self.seed)
        return f"{_PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{data}"

    def verifier(self) -> VerifierKey:
        """The matching public key, to hand to others."""
        return VerifierKey(self.name, self.key_id, _public_from_seed(self.seed))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)
