"""``hashfed check``: find damaged entries, checkpoints and rows (node.service.integrity_check)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from node.cli.options import HomeOpt, JsonOpt, open_node
from node.cli.output import out, print_error, print_json
from node.errors import ExitCode

if TYPE_CHECKING:
    from node.service.integrity_report import CheckReport
    from node.service.repair import RepairReport


def check(
    origin: Annotated[
        str | None, typer.Option("--origin", help="Check only this origin (default: all held).")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Fetch each damaged entry again from --peer, proven against its origin's "
            "signed checkpoint; kept only if the log then verifies.",
        ),
    ] = False,
    peer: Annotated[
        str | None, typer.Option("--peer", help="The peer to repair from (with --repair).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every entry's leaf from its body and every checkpoint's root from the leaves,
    verify each signed note, compare derived rows, run SQLite's quick_check. Exit 0 when
    clean, 5 when damage was found (each finding names the entry and how to repair it)."""
    import asyncio

    from node.service.integrity_check import run_check
    from node.service.repair import repair_from_peer

    if repair != (peer is not None):
        raise typer.BadParameter("--repair and --peer NAME go together")
    with open_node(home) as node:
        report = run_check(
            node.store, node.paths.root, None if node.is_auditor else node.origin, origin
        )
        repaired = None
        if peer is not None and report.damage:
            repaired = asyncio.run(repair_from_peer(node, peer, report))
            assert repaired.after is not None
            report = repaired.after
    if as_json:
        print_json(report.to_dict() | ({} if repaired is None else {"repair": repaired.to_dict()}))
    else:
        if repaired is not None:
            _print_repair(repaired)
        _print(report)
    if report.damage:
        raise typer.Exit(ExitCode.VERIFICATION)  # DamageError's code, without raising it


def _print_repair(repaired: RepairReport) -> None:
    for origin, idx in repaired.repaired:
        out.print(f"repaired {origin} entry {idx} from {repaired.peer}")
    for origin, idx, why in repaired.failed:
        out.print(Text(f"not repaired: {origin} entry {idx}: {why}", style="yellow"))
    for d in repaired.dropped_heads:
        out.print(
            f"dropped {d.origin}'s damaged verified head and its {d.entries} entries from "
            f"{d.kept} on (no checkpoint covers them); `hashfed sync` fetches them again",
            highlight=False,
        )
    out.print("after the repair:")


def _print(report: CheckReport) -> None:
    for o in report.origins:
        state = "" if o.complete else " (not finished)"
        out.print(
            f"{o.origin}: {o.entries} entries ({o.bodies} bodies rehashed), "
            f"{o.checkpoints} checkpoints ({o.notes_verified} signatures verified), "
            f"size {o.size}{state}"
        )
    if report.stopped:
        out.print(f"stopped: {report.stopped}")
    out.print(f"checked in {report.seconds:.2f} s")
    if not report.damage:
        out.print(Text("no damage found", style="green"))
        return
    out.print(Text(f"{len(report.damage)} damaged:", style="bold red"))
    for d in report.damage:
        where = (
            f"entry {d.index}"
            if d.index is not None
            else f"checkpoint {d.checkpoint_size}"
            if d.checkpoint_size is not None
            else "database"
        )
        out.print(f"  {d.origin} {where} [{d.kind}]: {d.detail}")
        out.print(f"    repair: {d.repair}")
    print_error(f"{len(report.damage)} damaged items found; `hashfed status` shows them")


def register(app: typer.Typer) -> None:
    """Add ``check`` to the main app."""
    app.command("check")(check)
