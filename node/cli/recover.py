"""``hashfed recover --peer NAME``: rebuild this node's own log from a peer that holds it.

After a lost ``hashfed.db-wal`` or a restored older database the node refuses to publish
(own_log_check); its peers hold every entry it ever published, signed with its key. This
fetches them, verifies each against the node's own key and the peer's newest checkpoint of the
node's origin, and stores them in one transaction, so the node continues the same history.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from node.cli.options import HomeOpt, JsonOpt, home_folder
from node.cli.output import out, print_json

if TYPE_CHECKING:
    from node.service.recovery import RecoverReport


def recover(
    peer: Annotated[str, typer.Option("--peer", help="Peer that holds this node's log.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebuild this node's own log from a peer (after a lost WAL or a restored backup)."""
    import asyncio

    from node.core import Node
    from node.service.recovery import recover as run

    async def main() -> RecoverReport:
        # The node is opened on the event loop's thread: SQLite connections stay on one thread.
        # Opening logs the refusal to publish and advises recover: noise for the command that
        # is the answer (it says itself what it finds), so that check is quiet here.
        quiet = logging.getLogger("hashfed.own_log")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            node = Node.open(home_folder(home))
        finally:
            quiet.setLevel(level)
        with node:
            return await run(node, peer)

    report = asyncio.run(main())
    if as_json:
        print_json(report.to_dict())
        return
    if report.fetched == 0:
        out.print(
            f"Nothing to recover from {report.peer}: the log is at size {report.size_after}, "
            "which is what the peer holds."
        )
        return
    out.print(
        f"Recovered {report.fetched} entries from {report.peer}: the log is back at size "
        f"{report.size_after} (was {report.size_before}), root {report.root_hex[:16]}…; "
        "publishing continues the same history.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``recover`` to the main app."""
    app.command("recover")(recover)
