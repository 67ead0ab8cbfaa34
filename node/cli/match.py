"""``hashfed hash`` and ``hashfed match``: hash media, and look media or signals up."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from node.cli.options import HomeOpt, JsonOpt, home_folder, open_node
from node.cli.output import out, print_json, row
from node.errors import ExitCode
from node.text import shown

if TYPE_CHECKING:
    from node.results import QueryResult, Witnessing


def hash_(
    files: Annotated[list[Path], typer.Argument(help="Files to hash.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every applicable signal (type, value, quality) for each file."""
    from node.hashing import hash_paths
    from node.home import HomePaths
    from node.results import FileHashes

    # On every core. A node's home, if there is one, supplies its settings (max_pixels).
    if HomePaths(home_folder(home)).config.exists():
        with open_node(home) as node:
            results = node.hasher.hash_files(files)
    else:
        hashed = hash_paths(files)
        results = [FileHashes(str(p), tuple(s)) for p, s in zip(files, hashed, strict=True)]
    if as_json:
        from node.results import to_json

        print_json(to_json(results))
        return
    table = Table("file", "type", "value", "quality")
    for result in results:
        path, sigs = result.name, result.signals
        for c in sigs:
            quality = "" if c.quality is None else str(c.quality)
            table.add_row(*row(path, c.signal.type, c.signal.hex, quality))
    out.print(table)


def match(
    files: Annotated[list[Path] | None, typer.Argument(help="Media files to look up.")] = None,
    signal: Annotated[
        list[str] | None, typer.Option("--signal", help="TYPE:VALUE to look up (repeatable).")
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(help="Max distance (default per type: pdq 31, phash/dhash 10; files: PDQ)."),
    ] = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when nothing matched.")
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Look up media or signals among every shared, unretracted hash."""
    if bool(files) == bool(signal):
        raise typer.BadParameter("give FILE... or --signal TYPE:VALUE, one of the two")
    with open_node(home) as node:
        if files:
            results = node.matcher.match_files(files, threshold)
        else:
            from node.signals.parsing import parse_signal

            results = node.matcher.match_signals([parse_signal(s) for s in signal or []], threshold)
    _print_matches(results, as_json)
    if exit_code and not any(r.matches for r in results):
        raise typer.Exit(ExitCode.NO_MATCH)


def _print_matches(results: list[QueryResult], as_json: bool) -> None:
    if as_json:
        from node.results import to_json

        print_json(to_json(results))
        return
    table = Table("query", "origin", "index", "signals", "labels", "opinions", "witnessing")
    for r in results:
        if not r.matches:
            table.add_row(shown(r.query), Text("no match", style="dim"), "", "", "", "", "")
        for m in r.matches:
            labels = ", ".join(
                x
                for x in (
                    m.labels.entity,
                    m.labels.content_type,
                    *m.labels.behaviours,
                    *m.labels.tags,
                )
                if x
            )
            signals = ", ".join(f"{s.type} {s.distance}" for s in m.signals)
            table.add_row(
                *row(r.query, m.origin, m.entry_index, signals, labels, m.opinions),
                _witnessing(m.witnessing),
            )
    out.print(table)


def _witnessing(w: Witnessing | None) -> Text:
    """ "witnessed by 2 (checkpoint 120)" or "unwitnessed: 1 of 2 witnesses"."""
    if w is None:
        return Text("")
    if w.witnessed:
        return Text(f"witnessed by {len(w.witnesses)} (checkpoint {w.checkpoint_size})", "green")
    return Text(f"unwitnessed: {len(w.witnesses)} of {w.required} witnesses", "yellow")


def register(app: typer.Typer) -> None:
    """Add ``hash`` and ``match`` to the main app."""
    app.command("hash")(hash_)
    app.command("match")(match)
