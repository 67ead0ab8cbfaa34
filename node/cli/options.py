"""The options and arguments hashfed commands share, and the node that ``--home`` names.

Only typer and the standard library load here: ``--help`` reads these, and a command imports
the node internals it needs when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from node.core import Node

# Help in click's plain format: typer's rich help imports rich.markdown and markdown-it, which
# alone took longer than the whole start-up budget (bench/startup.py --cli-only).
PLAIN_HELP = None

# The variable's name, spelt out so that --help need not import node.home (platformdirs,
# tomli_w); tests/unit/cli/test_startup.py holds it equal to node.home.ENV_HOME.
ENV_HOME = "HASHFED_HOME"

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
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace FILE if it exists already.")]
EntityOpt = Annotated[str, typer.Option("--entity", help="Entity that produced the content.")]
ContentTypeOpt = Annotated[str, typer.Option("--content-type", help="Content type label.")]
BehaviourOpt = Annotated[
    list[str] | None, typer.Option("--behaviour", help="Behaviour label (repeatable).")
]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Free tag (repeatable).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Free-text note for reviewers.")]
OwnOriginOpt = Annotated[str | None, typer.Option(help="Origin (default: this node's).")]
CardArg = Annotated[Path, typer.Argument(help="A member card (JSON from `hashfed identity`).")]
PeerOpt = Annotated[
    str | None, typer.Option("--peer", help="Sync only this peer (default: every peer).")
]


def command_group(help: str) -> typer.Typer:
    """A group of subcommands (``member``, ``peer``, …) formatted like the main app."""
    return typer.Typer(help=help, rich_markup_mode=PLAIN_HELP)


def home_folder(home: Path | None) -> Path:
    """The home ``--home`` (or its environment variable, or the platform default) names."""
    from node.home import resolve_home

    return resolve_home(home)


def open_node(home: Path | None) -> Node:
    from node.core import Node

    return Node.open(home_folder(home))
