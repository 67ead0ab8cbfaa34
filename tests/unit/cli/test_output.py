"""Text from peers prints inert: no rich markup, no terminal control characters."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from node.cli.output import ShownFormatter, print_error
from tests.support.paths import ROOT

HOSTILE = "[bold red]pwned[/] \x1b[2J\x1b]0;title\x07 \u202e"


def test_print_error_escapes_markup_and_control_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_error(HOSTILE)
    printed = capsys.readouterr().err
    assert printed == "error: [bold red]pwned[/] \\u001b[2J\\u001b]0;title\\u0007 \\u202e\n"


def test_log_lines_are_escaped() -> None:
    record = logging.LogRecord(
        "hashfed.server", logging.WARNING, "x", 1, "refused %s", (HOSTILE,), None
    )
    line = ShownFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING refused [bold red]pwned[/] \\u001b[2J\\u001b]0;title\\u0007 \\u202e"


def test_a_peers_newline_cannot_forge_a_log_line_but_a_traceback_keeps_its_own() -> None:
    forged = "x\nCRITICAL node-b.example: evidence recorded"
    record = logging.LogRecord(
        "hashfed.server", logging.WARNING, "x", 1, "refused %s", (forged,), None
    )
    line = ShownFormatter("%(levelname)s %(message)s").format(record)
    assert line == "WARNING refused x\\nCRITICAL node-b.example: evidence recorded"
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "hashfed.server", logging.ERROR, "x", 1, "failed %s", (forged,), sys.exc_info()
        )
    text = ShownFormatter("%(message)s").format(record)
    first, *rest = text.splitlines()
    assert first == "failed x\\nCRITICAL node-b.example: evidence recorded"
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_serve_prints_its_error_escaped(home: Path) -> None:
    """The error `serve` stops with quotes the address it was given; before, it went to the
    terminal raw."""
    env = os.environ | {"GRPC_VERBOSITY": "NONE"}  # gRPC core's own line is not ours to shape
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "node.cli.serve",
            "--home",
            str(home),
            "--no-sync",
            "--peer-address",
            "\x1b[2J[red]evil:0",
            "--local-address",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("error: ")]
    assert line.startswith("error: cannot listen on \\u001b[2J[red]evil:0 for the peer API")
    assert "\x1b" not in done.stderr
