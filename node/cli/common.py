"""What every hashfed command shares: options, output consoles, and the one error handler."""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from node.core import Node
from node.errors import HashfedError
from node.home import ENV_HOME, resolve_home
from node.text import shown

# Markup off: labels, notes and names come from other members' logs and must print as inert text.
out = Console(soft_wrap=True, markup=False, highlight=False)
err = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

P = ParamSpec("P")
R = TypeVar("R")

HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar=ENV_HOME,
        help=f"Node home folder (default: ${ENV_HOME}, else the platform's user data folder).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
EntityOpt = Annotated[str, typer.Option("--entity", help="Entity that produced the content.")]
ContentTypeOpt = Annotated[str, typer.Option("--content-type", help="Content type label.")]
BehaviourOpt = Annotated[
    list[str] | None, typer.Option("--behaviour", help="Behaviour label (repeatable).")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Free tag (repeatable).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Free-text note for reviewers.")]


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """The one place hashfed errors become a message on stderr and a documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except HashfedError as exc:
            err.print(Text("error: ", style="bold red") + Text(shown(exc)))
            raise typer.Exit(exc.exit_code) from None

    return wrapper


def open_node(home: Path | None) -> Node:
    return Node.open(resolve_home(home))


def print_json(value: object) -> None:
    out.print_json(json.dumps(value)) if sys.stdout.isatty() else print(json.dumps(value))


def row(*cells: object) -> list[str]:
    return [shown(c) for c in cells]


def stamp(ms: int | None) -> str:
    """A stored millisecond time as UTC, the way every table shows it."""
    if ms is None:
        return "never"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
