"""Run the real `hashfed` CLI in-process (typer's runner) against a real home folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from node.cli.main import app


def hashfed(home: Path, *args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(app, [*args, "--home", str(home)], input=input, catch_exceptions=False)


def hashfed_json(home: Path, *args: str, input: str | None = None) -> Any:
    result = hashfed(home, *args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
