"""``--json`` is a plain, off-by-default flag: every command that prints prints something else
with it (JSON that parses) than without it (text for people)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from node.cli.main import app
from node.core import Node
from tests.support.cli import hashfed

MD5 = "md5:" + "5a" * 16

# Commands this test does not run both ways, each with the reason and the test that covers it.
NOT_RUN_HERE = {
    ("serve",): "runs until a signal; test_server_local_api runs it with --json",
    ("recover",): "needs a peer holding the log; test_own_log runs it",
    ("member", "reset"): "needs an origin stopped by evidence; test_sync_equivocation",
    ("evidence", "export"): "needs evidence; test_cli_audit runs it with and without --json",
}


def _leaves(group: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= _leaves(command, (*path, name))
        else:
            found.add((*path, name))
    return found


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    """Node a (made with the CLI) holding a few entries, and the card of node b, whose address
    nothing listens on (so `sync` and `peer test` fail, with their report printed)."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert hashfed(a, "init", "--origin", "a.example").exit_code == 0
    Node.init(b, "b.example", peer_address="127.0.0.1:1").close()
    card = tmp_path / "b.card.json"
    card.write_text(hashfed(b, "identity").stdout, encoding="utf-8")
    for i in range(6):
        assert hashfed(a, "add", "--signal", f"md5:{i:032x}").exit_code == 0
    media = tmp_path / "notes.txt"
    media.write_text("not an image, so only exact hashes", encoding="utf-8")
    return {"a": a, "b": b, "card": card, "media": media, "tmp": tmp_path}


Run = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], int]


def _both(
    home: Path,
    command: tuple[str, ...],
    plain: tuple[str, ...],
    as_json: tuple[str, ...],
    code: int,
) -> None:
    text = hashfed(home, *command, *plain)
    machine = hashfed(home, *command, *as_json, "--json")
    name = " ".join(command)
    assert text.exit_code == code, f"{name}: {text.output}"
    assert machine.exit_code == code, f"{name} --json: {machine.output}"
    assert machine.stdout != text.stdout, f"{name}: --json changed nothing"
    assert _is_json(machine.stdout), f"{name} --json: {machine.stdout!r}"
    assert text.stdout.strip() and not _is_json(text.stdout), f"{name}: {text.stdout!r}"


def test_every_printing_command_changes_its_output_with_json(world: dict[str, Path]) -> None:
    a, card, tmp = world["a"], str(world["card"]), world["tmp"]
    text = hashfed(tmp / "c", "init", "--origin", "c.example")
    machine = hashfed(tmp / "d", "init", "--origin", "d.example", "--json")
    assert text.exit_code == machine.exit_code == 0
    assert not _is_json(text.stdout) and json.loads(machine.stdout)["origin"] == "d.example"

    # A card is a JSON document either way (`hashfed identity > NAME.card.json` must stay a
    # card): indented for people, one line with --json.
    text, machine = hashfed(a, "identity"), hashfed(a, "identity", "--json")
    assert json.loads(text.stdout) == json.loads(machine.stdout)
    assert len(text.stdout.splitlines()) > 1 and len(machine.stdout.splitlines()) == 1

    media = (str(world["media"]),)
    runs: list[Run] = [
        (("hash",), media, media, 0),
        (("add",), ("--signal", MD5), ("--signal", "md5:" + "6b" * 16), 0),
        (("retract",), ("0",), ("1",), 0),
        (("opinion",), ("a.example", "2", "--disputed"), ("a.example", "3", "--disputed"), 0),
        (("match",), ("--signal", MD5), ("--signal", MD5), 0),
        (("log",), (), (), 0),
        (("checkpoint",), (), (), 0),
        (
            ("proof",),
            ("a.example", "4", "-o", str(tmp / "p1")),
            ("a.example", "4", "-o", str(tmp / "p2")),
            0,
        ),
        (("member", "add"), (card,), (card,), 0),
        (("member", "list"), (), (), 0),
        (("peer", "add"), (card,), (card,), 0),
        (("peer", "list"), (), (), 0),
        (("peer", "test"), ("b.example",), ("b.example",), 9),
        (("sync",), (), (), 9),
        (("status",), (), (), 0),
        (("index", "snapshot"), (), (), 0),
        (("export",), (str(tmp / "e1"),), (str(tmp / "e2"),), 0),
        (("evidence", "list"), (), (), 0),
        (("audit", "reads"), (), (), 0),
        (("audit", "log"), (), (), 0),
        (("tls", "renew"), (), (), 0),
        (("check",), (), (), 0),
    ]
    for command, plain, as_json, code in runs:
        _both(a, command, plain, as_json, code)
    # Removing twice needs the card added again in between.
    for group, flag in (("peer", "peer"), ("member", "trusted")):
        text = hashfed(a, group, "remove", "b.example")
        assert hashfed(a, "peer", "add", card).exit_code == 0
        machine = hashfed(a, group, "remove", "b.example", "--json")
        assert text.exit_code == machine.exit_code == 0, text.output + machine.output
        assert not _is_json(text.stdout) and json.loads(machine.stdout)[flag] is False
        runs.append(((group, "remove"), (), (), 0))
    covered = {("init",), ("identity",), *(command for command, *_ in runs)}
    assert covered | set(NOT_RUN_HERE) == _leaves(get_command(app))
