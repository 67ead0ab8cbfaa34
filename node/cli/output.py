"""Everything hashfed prints goes through here: two consoles, JSON, table cells, times, errors.

Labels, notes, names, peer answers and error messages may come from other members, so text is
shown inert: rich markup is off on both consoles, and control characters become visible
escapes (:func:`node.text.shown`) before they reach a terminal or a log file.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from rich.console import Console
from rich.text import Text

from node.text import shown, shown_line

out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)


def print_json(value: object) -> None:
    out.print_json(json.dumps(value)) if sys.stdout.isatty() else print(json.dumps(value))


def print_error(message: object) -> None:
    """``error: MESSAGE`` on stderr, the one way a command reports why it failed."""
    err.print(Text("error: ", style="bold red") + Text(shown(message)))


def row(*cells: object) -> list[str]:
    return [shown(c) for c in cells]


def stamp(ms: int | None) -> str:
    """A stored millisecond time as UTC, the way every table shows it."""
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class ShownFormatter(logging.Formatter):
    """Log lines with control characters escaped: ``serve`` logs refusals that quote peers."""

    def format(self, record: logging.LogRecord) -> str:
        # The message on one line (a peer's text may hold newlines); a traceback keeps its own.
        line = logging.makeLogRecord(record.__dict__)
        line.msg, line.args = shown_line(record.getMessage()), None
        return shown(super().format(line))
