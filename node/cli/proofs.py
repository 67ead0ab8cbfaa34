"""``hashfed log``, ``checkpoint`` and ``proof``: read a log, its signed checkpoint, and the
provenance bundle of one entry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from node.cli.files import write_atomically
from node.cli.options import ForceOpt, HomeOpt, JsonOpt, OwnOriginOpt, open_node
from node.cli.output import out, print_json, row
from node.text import shown


def log(origin: OwnOriginOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """List an origin's log entries."""
    with open_node(home) as node:
        lines = node.reader.log(origin)
    if as_json:
        from node.results import to_json

        print_json(to_json(lines))
        return
    table = Table("index", "kind", "summary", "retracted", "effect")
    for line in lines:
        table.add_row(
            *row(
                line.entry_index,
                line.kind,
                line.summary,
                "yes" if line.retracted else "",
                line.ignored or "",
            )
        )
    out.print(table)


def checkpoint(origin: OwnOriginOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Print an origin's newest signed checkpoint (C2SP signed note)."""
    with open_node(home) as node:
        cp = node.reader.checkpoint(origin)
    if as_json:
        print_json({"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "note": cp.note})
        return
    print(cp.note, end="")


def proof(
    origin: Annotated[str, typer.Argument(help="Origin of the entry.")],
    index: Annotated[int, typer.Argument(help="Entry index.", min=0)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the bundle to this file (default: stdout)."),
    ] = None,
    force: ForceOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a provenance bundle (JSON): entry bytes, inclusion proof, signed checkpoint."""
    with open_node(home) as node:
        text = node.reader.bundle(origin, index).to_json()
    if output is None:
        sys.stdout.write(text)  # the bundle itself, JSON with or without --json
        return
    write_atomically(output, text, force=force)
    if as_json:
        print_json({"origin": origin, "index": index, "file": str(output)})
    else:
        out.print(f"wrote {shown(output)}")


def register(app: typer.Typer) -> None:
    """Add ``log``, ``checkpoint`` and ``proof`` to the main app."""
    app.command("log")(log)
    app.command("checkpoint")(checkpoint)
    app.command("proof")(proof)
