"""The ``hashfed`` command: one typer app that registers each command group's module.

Exit codes are :class:`node.errors.ExitCode` (README.md's table is tested against it). A
:class:`~node.errors.HashfedError` raised by any command is caught once, in
:meth:`HashfedGroup.main`: its message goes to stderr, its code becomes the exit status.

Every module imported here loads only typer, rich and the standard library at import time, so
``hashfed --help`` stays fast; a command imports the node internals it needs when it runs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from node.cli import (
    audit,
    check,
    federation,
    identity,
    index_cmd,
    match,
    members,
    proofs,
    publish,
    recover,
    serve,
    sync,
    tls_cmd,
)
from node.cli.options import PLAIN_HELP
from node.cli.output import print_error
from node.errors import HashfedError


class HashfedGroup(TyperGroup):
    """The root command; the one place a hashfed error becomes a message and an exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().main(*args, **kwargs)
        except HashfedError as exc:
            _fail(exc)


def _fail(exc: HashfedError) -> NoReturn:
    print_error(exc)
    sys.exit(exc.exit_code)


app = typer.Typer(
    name="hashfed",
    cls=HashfedGroup,
    rich_markup_mode=PLAIN_HELP,
    help="A federated hash-sharing node: hash media, publish signed hashes, match locally.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

identity.register(app)
match.register(app)
publish.register(app)
proofs.register(app)
peer_app = members.register(app)
federation.register(app)
sync.register(app)
sync.register_peer_test(peer_app)
serve.register(app)
index_cmd.register(app)
audit.register(app)
tls_cmd.register(app)
check.register(app)
recover.register(app)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``hashfed`` entry point (``[project.scripts]``); ``argv`` defaults to the process's."""
    app(args=None if argv is None else list(argv), prog_name="hashfed")


if __name__ == "__main__":
    main()
