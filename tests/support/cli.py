"""Run the real `hashfed` CLI in-process (typer's runner) against a real home folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from node.cli.main import app
from node.core import Node
from node.hashing import ComputedSignal, parse_signal
from node.log.entry import Labels


def hashfed(home: Path, *args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(app, [*args, "--home", str(home)], input=input, catch_exceptions=False)


def hashfed_json(home: Path, *args: str, input: str | None = None) -> Any:
    result = hashfed(home, *args, "--json", input=input)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def card_file(home: Path, folder: Path) -> Path:
    """``home``'s member card (``hashfed identity --json``) in a file, as an operator hands it
    to another member: ``folder/<home name>.card.json``."""
    path = folder / f"{home.name}.card.json"
    path.write_text(json.dumps(hashfed_json(home, "identity")))
    return path


def publish_signals(home: Path, *signals: str) -> None:
    """Publish each signal (``"md5:..."``) as its own ADD, labelled entity ``E``."""
    with Node.open(home) as node:
        for text in signals:
            node.publisher.publish_signals(
                [ComputedSignal(parse_signal(text), None)], Labels(entity="E")
            )
