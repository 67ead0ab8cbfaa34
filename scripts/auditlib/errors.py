"""The auditor scripts' one error, and how untrusted text is shown in its messages.

Every check raises :class:`VerificationError` with a message that says what was wrong and what
was expected; the scripts print it as ``FAIL: <message>``.
"""

from __future__ import annotations

import json
from typing import NoReturn


class VerificationError(Exception):
    """Something is not acceptable; the message says what was wrong and what was wanted."""


def fail(message: str) -> NoReturn:
    raise VerificationError(message)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, ending in ``...`` where it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def show(value: object, limit: int = 80) -> str:
    """``repr`` of untrusted text, shortened: control and bidi characters come out escaped."""
    return shorten(repr(value), limit)


def show_json(value: object, limit: int = 80) -> str:
    """An untrusted JSON value as JSON text (ASCII only, so nothing reaches a terminal raw)."""
    return shorten(json.dumps(value), limit)
