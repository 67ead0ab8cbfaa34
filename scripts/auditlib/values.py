"""Untrusted values read strictly: canonical base64, hex hashes, origin names, strict JSON."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from auditlib.errors import VerificationError, fail, show, show_json

MAX_TREE_SIZE = 2**63 - 1  # as the node and docs/protocol.md section 4
# docs/protocol.md section 1: lower-case DNS-style names, so they are also safe folder names.
_ORIGIN = re.compile(r"(?=.{1,253}\Z)[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63})*")


def b64decode_canonical(text: str, what: str) -> bytes:
    """Decode standard, padded base64 and require that it re-encodes to exactly ``text``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        fail(f"{what} is not valid base64 ({exc}); expected standard padded base64")
    if base64.b64encode(raw).decode("ascii") != text:
        fail(
            f"{what} is not canonical base64 (non-zero unused bits or extra padding); "
            "expected the exact standard encoding of its bytes"
        )
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hex_hash(text: object, what: str) -> bytes:
    """A 32-byte hash written as 64 lower-case hex digits (the form evidence and state use)."""
    if not isinstance(text, str) or not re.fullmatch(r"[0-9a-f]{64}", text):
        fail(f"{what} is {show_json(text)}; expected 64 lower-case hex digits (a SHA-256 hash)")
    return bytes.fromhex(text)


def is_origin_name(name: str) -> bool:
    """Whether ``name`` is a hashfed origin name (lower-case DNS-style, docs/protocol.md 1)."""
    return bool(_ORIGIN.fullmatch(name))


# --- strict JSON ----------------------------------------------------------------------------


def unique_keys(subject: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json`` ``object_pairs_hook`` that refuses a key given twice in one object.

    The failure reads ``<subject> has key <key> twice; expected each key once``.
    """

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, value in pairs:
            if name in result:
                fail(f"{subject} has key {show(name)} twice; expected each key once")
            result[name] = value
        return result

    return hook


def _reject_constant(name: str) -> NoReturn:
    fail(f"JSON holds {name}; expected plain JSON numbers")


def load_json(data: bytes | str, what: str) -> Any:
    """Parse JSON strictly: UTF-8, no repeated keys, no NaN/Infinity."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            fail(f"{what} is not valid UTF-8 ({exc}); expected UTF-8 JSON")
    try:
        return json.loads(
            data, object_pairs_hook=unique_keys("JSON object"), parse_constant=_reject_constant
        )
    except VerificationError as exc:
        fail(f"{what}: {exc}")
    except (ValueError, RecursionError) as exc:
        fail(f"{what} is not valid JSON ({exc})")


def require_object(value: object, what: str, required: Iterable[str]) -> dict[str, Any]:
    """``value`` must be a JSON object holding at least the ``required`` members."""
    if not isinstance(value, dict):
        fail(f"{what} is {show_json(value)}; expected a JSON object")
    missing = sorted(set(required) - set(value))
    if missing:
        fail(f"{what} is missing {', '.join(missing)}; expected all of {', '.join(required)}")
    return value


def require_int(value: object, what: str, low: int = 0, high: int = MAX_TREE_SIZE) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        fail(f"{what} is {show_json(value)}; expected a JSON integer from {low} to {high}")
    return value


def require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        fail(f"{what} is {show_json(value)}; expected a JSON string")
    return value
