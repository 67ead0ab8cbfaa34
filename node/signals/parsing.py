"""Signals from text: ``TYPE:HEX`` (``--signal pdq:f8f8...``) and a type's hex value.

Pure, like the specs: a lookup by signal parses its query without loading any hasher."""

from __future__ import annotations

import string

from node.errors import InvalidSignalError
from node.signals.specs import signal_spec
from node.signals.values import Signal

_HEX_DIGITS = frozenset(string.hexdigits)


def parse_value(type_name: str, text: str) -> Signal:
    """Parse hex (any case, surrounding whitespace ignored) into a signal of ``type_name``."""
    spec = signal_spec(type_name)
    digits = text.strip()
    expected = 2 * spec.size
    if len(digits) != expected:
        raise InvalidSignalError(
            f"{spec.name} value has {len(digits)} hex digits; expected {expected}"
        )
    bad = next((char for char in digits if char not in _HEX_DIGITS), None)
    if bad is not None:
        raise InvalidSignalError(
            f"{spec.name} value contains {bad!r}; expected only hex digits 0-9, a-f"
        )
    return Signal(spec.name, bytes.fromhex(digits))


def parse_signal(text: str) -> Signal:
    """Parse the ``TYPE:VALUE`` form (as in ``--signal pdq:f8f8...``); type name any case."""
    type_name, separator, value = text.strip().partition(":")
    if not separator:
        raise InvalidSignalError(
            f"signal {text.strip()!r} has no ':'; expected TYPE:HEX, e.g. md5:{'0' * 32}"
        )
    return parse_value(type_name.strip().lower(), value)
