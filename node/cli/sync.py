"""``hashfed sync`` and ``hashfed peer test``: pull from peers now, or check one peer.

Both run standalone (no ``hashfed serve`` needed): they open the node on its own
:class:`~node.service.runner.NodeRunner` thread, like the server does, and close it when done.
Exit codes: 0 when every peer synced (``peer test``: when everything checked out), otherwise
:class:`~node.errors.SyncError`'s code (9) with the reasons in words on stderr.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table
from rich.text import Text

from node.cli.options import HomeOpt, JsonOpt, PeerOpt, home_folder
from node.cli.output import err, out, print_json, row
from node.errors import SyncError
from node.text import shown

if TYPE_CHECKING:  # gRPC and the server package load only when a command runs
    from node.service.runner import NodeRunner
    from node.sync import PeerCheckReport, PeerSyncReport, ProgressFn, SyncProgress

T = TypeVar("T")


def _with_runner(home: Path, work: Callable[[NodeRunner], Awaitable[T]]) -> T:
    import asyncio

    from node.service.runner import NodeRunner

    async def main() -> T:
        runner = await NodeRunner.open(home)
        try:
            return await work(runner)
        finally:
            await runner.close()

    return asyncio.run(main())


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressFn | None]:
    """A rich progress bar (entries received per origin) on a terminal, else nothing."""
    if not enabled:
        yield None
        return
    tasks: dict[tuple[str, str], TaskID] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("entries"),
        console=err,
        transient=False,
    ) as bar:

        def update(p: SyncProgress) -> None:
            key = (p.peer, p.origin)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{p.origin} from {p.peer}", total=p.total)
            bar.update(tasks[key], completed=p.received, total=p.total)

        yield update


def sync(peer: PeerOpt = None, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Pull from peers now: every trusted origin they hold beyond ours, verified, imported."""
    from node.sync import sync_all

    where = home_folder(home)
    with _progress_bar(err.is_terminal and not as_json) as progress:
        reports = _with_runner(where, lambda runner: sync_all(runner, peer, progress))
    if as_json:
        from node.results import to_json

        print_json({"ok": all(r.ok for r in reports), "peers": to_json(reports)})
    else:
        _print_sync(reports)
    problems = [p for r in reports for p in r.problems()]
    if problems:
        raise SyncError("; ".join(problems))


def _print_sync(reports: list[PeerSyncReport]) -> None:
    from node.sync import SyncOutcome

    if not reports:
        out.print("No peers to sync (add one with `hashfed peer add CARD.json`).")
        return
    table = Table("peer", "origin", "status", "received", "fetched", "reused", "rejected", "reason")
    for r in reports:
        if r.error is not None:
            table.add_row(
                shown(r.peer), "", Text("failed", style="red"), "", "", "", "", shown(r.error)
            )
            continue
        if not r.origins:
            table.add_row(shown(r.peer), "", "holds nothing", "0", "0", "0", "0", "")
        for o in r.origins:
            style = "green" if o.status == SyncOutcome.IMPORTED else ("red" if not o.ok else "")
            status = Text(o.status, style=style)
            if o.status == SyncOutcome.EVIDENCE:
                status = Text("EVIDENCE", style="bold red")
            table.add_row(
                shown(r.peer),
                shown(o.origin),
                status,
                *row(o.imported, o.fetched, o.reused, o.rejected, o.reason or ""),
            )
    out.print(table)
    for r in reports:
        for o in r.evidence:
            out.print(Text("Equivocation: ", style="bold red") + Text(shown(o.reason)))


def peer_test(
    name: Annotated[str, typer.Argument(help="Peer to test (see `peer list`).")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reachability, whether each side accepts the other's certificate, protocol, holdings."""
    from node.sync import check_peer

    where = home_folder(home)
    report = _with_runner(where, lambda runner: check_peer(runner, name))
    if as_json:
        from node.results import to_json

        print_json(to_json(report))
    else:
        _print_peer_test(report)
    if not report.ok:
        raise SyncError("; ".join(report.problems))


def _yes_no(value: bool | None) -> Text:
    if value is None:
        return Text("unknown")
    return Text("yes", style="green") if value else Text("no", style="red")


def _print_peer_test(report: PeerCheckReport) -> None:
    d = report.diagnosis
    out.print(
        Text("Peer ") + Text(shown(report.peer), style="bold") + f" at {shown(report.address)}"
    )
    out.print(Text("  reachable:                        ") + _yes_no(d.reachable))
    out.print(Text("  we accept its certificate:        ") + _yes_no(d.we_accept_theirs))
    out.print(Text("  it accepts our certificate:       ") + _yes_no(d.they_accept_ours))
    if report.protocol_version is not None:
        out.print(
            f"  protocol:                         {shown(report.protocol_version)} "
            f"(software {shown(report.software_version)}, origin {shown(report.remote_origin)})"
        )
    if report.origins:
        table = Table("origin", "size", "trusted here", "signature")
        for o in report.origins:
            table.add_row(
                *row(o.origin, "?" if o.size is None else o.size, "yes" if o.trusted else "no"),
                "verified"
                if o.verified
                else (Text("does not verify", style="red") if o.trusted else ""),
            )
        out.print(table)
    elif report.ok:
        out.print("  holds no origins yet")
    if report.ok:
        out.print(Text("OK", style="green"))


def register(app: typer.Typer) -> None:
    """Add ``sync`` to the main app."""
    app.command("sync")(sync)


def register_peer_test(peer_app: typer.Typer) -> None:
    """Add ``test`` to the ``peer`` group."""
    peer_app.command("test")(peer_test)
