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

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from node.errors import HashfedError
from node.home import ENV_HOME, resolve_home

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def serve(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            envvar=ENV_HOME,
            help=f"Node home folder (default: ${ENV_HOME}, else the platform's user data folder).",
            show_default=False,
        ),
    ] = None,
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
    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(f"{log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    try:
        asyncio.run(
            _serve(resolve_home(home), peer_address, local_address, not no_sync, grace, as_json)
        )
    except HashfedError as exc:
        # Same contract as every hashfed command: message on stderr, the error's exit code.
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


async def _serve(
    home: Path,
    peer_address: str | None,
    local_address: str | None,
    run_sync: bool,
    grace: float,
    as_json: bool,
) -> None:
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


def _standalone() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(app)
    return app


if __name__ == "__main__":  # ``python -m node.cli.serve``: the command without the rest of the CLI
    _standalone()()
