"""Text from logs and peers made safe to show: terminals, log files, tables."""

from __future__ import annotations

import unicodedata


def shown(value: object) -> str:
    """Control and format characters (escape sequences, bidi overrides, zero-width characters)
    become visible ``\\uXXXX`` escapes. Entries and peer answers may come from any member, so
    nothing in them may drive an operator's terminal or disguise a log line."""
    return "".join(
        f"\\u{ord(c):04x}" if c != "\n" and unicodedata.category(c) in ("Cc", "Cf") else c
        for c in str(value)
    )


def shown_line(value: object) -> str:
    """:func:`shown`, on one line: a newline in peer-supplied text becomes ``\\n``, so it
    cannot forge a second log line after ours."""
    return shown(value).replace("\n", "\\n")
