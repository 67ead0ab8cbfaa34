"""``hashfed serve``: run the peer server, the local server and the sync loop until a signal.

Once both servers listen it prints their bound addresses on stdout (with ``--json``, exactly
one JSON line, flushed, for scripts such as ``scripts/devnet.py``)::

    {"origin": "acme.example", "peer_address": "127.0.0.1:40123",
     "local_address": "127.0.0.1:40124"}

(one line in reality).

SIGTERM or SIGINT: stop accepting calls, let calls in flight finish (up to ``--grace`` seconds),
stop the sync loop, close the node, exit 0. Logs (start, stop, refusals; peer calls at debug)
go to stderr with timestamps.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from node.cli.options import HomeOpt, home_folder
from node.cli.output import ShownFormatter

if TYPE_CHECKING:
    import asyncio

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def serve(
    home: HomeOpt = None,
    peer_address: Annotated[
        str | None,
        typer.Option(help="host:port for the peer API (mTLS); default: config peer_address."),
    ] = None,
    local_address: Annotated[
        str | None,
        typer.Option(
            help="host:port for the local API; default: config local_address (127.0.0.1:7444). "
            "Beyond loopback it requires the config's local_token as a bearer token."
        ),
    ] = None,
    no_sync: Annotated[bool, typer.Option("--no-sync", help="Serve without syncing.")] = False,
    grace: Annotated[
        float, typer.Option(help="Seconds calls in flight get to finish on stop.", min=0)
    ] = 5.0,
    log_level: Annotated[
        str, typer.Option(help="Log level: DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the bound addresses as one JSON line.")
    ] = False,
) -> None:
    """Serve this node: peer API (mutual TLS), local API, and sync, until SIGTERM/SIGINT."""
    import asyncio

    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    # Refusals quote what peers sent: the formatter escapes it before it reaches a terminal.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ShownFormatter(LOG_FORMAT))
    logging.basicConfig(level=level, handlers=[handler])
    asyncio.run(_serve(home_folder(home), peer_address, local_address, not no_sync, grace, as_json))


async def _serve(
    home: Path,
    peer_address: str | None,
    local_address: str | None,
    run_sync: bool,
    grace: float,
    as_json: bool,
) -> None:
    import asyncio

    from node.server import start_node

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop)
    running = await start_node(
        home, peer_address=peer_address, local_address=local_address, run_sync=run_sync
    )
    try:
        if as_json:
            line = {
                "origin": running.origin,
                "peer_address": running.peer_address,
                "local_address": running.local_address,
            }
            print(json.dumps(line), flush=True)
        else:
            print(
                f"hashfed node {running.origin}\n"
                f"  peer API  (mutual TLS): {running.peer_address}\n"
                f"  local API:              {running.local_address}\n"
                "Stop with Ctrl-C or SIGTERM.",
                flush=True,
            )
        await stop.wait()
    finally:
        await running.stop(grace)


def _on_signal(signum: int, stop: asyncio.Event) -> None:
    name = signal.Signals(signum).name
    if stop.is_set():
        logging.getLogger("hashfed.server").info("%s again: already stopping", name)
        return
    logging.getLogger("hashfed.server").info("%s received: stopping", name)
    stop.set()


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``hashfed`` command."""
    app.command("serve")(serve)


if __name__ == "__main__":  # ``python -m node.cli.serve ARGS`` is ``hashfed serve ARGS``
    from node.cli.main import main

    main(["serve", *sys.argv[1:]])
