"""The background sync loop of ``hashfed serve``: every peer, every ``sync_interval_s``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from node.core import Node
from node.server.runner import NodeRunner
from node.sync.cosign_gossip import gather_cosignatures
from node.sync.engine import PeerSyncReport, ProgressFn, sync_peer

log = logging.getLogger("hashfed.sync")


def _peer_names(node: Node) -> list[str]:
    return [p.name for p in node.peers()]


async def sync_all(
    runner: NodeRunner, only: str | None = None, progress: ProgressFn | None = None
) -> list[PeerSyncReport]:
    """Sync every peer (or only ``only``), one after another; failures are in the reports."""
    names = [only] if only is not None else await runner.call(_peer_names, runner.node)
    reports = []
    for name in names:
        reports.append(await sync_and_witness(runner, name, progress))
    return reports


async def sync_and_witness(
    runner: NodeRunner, peer: str, progress: ProgressFn | None = None
) -> PeerSyncReport:
    """Sync ``peer``, then cosign what we verified and collect its cosignatures."""
    report = await sync_peer(runner, peer, progress)
    if report.error is None:
        await gather_cosignatures(runner, peer, [o.origin for o in report.origins])
    return report


async def run_sync_loop(runner: NodeRunner, stop: asyncio.Event) -> None:
    """Sync every peer each ``config.sync_interval_s`` seconds until ``stop`` is set.

    Logs one line per peer per round (``sync_peer`` does). Never dies on a peer's error; an
    unexpected error is logged with its traceback and the loop carries on with the next round.
    A round in progress finishes the peer in hand when ``stop`` is set, then the loop ends.
    """
    interval = await runner.call(lambda node: node.config.sync_interval_s, runner.node)
    log.info("sync loop started: every %g s", interval)
    while not stop.is_set():
        try:
            names = await runner.call(_peer_names, runner.node)
        except Exception:
            log.exception("cannot list peers; trying again in %g s", interval)
            names = []
        for name in names:
            if stop.is_set():
                break
            try:
                await sync_and_witness(runner, name)
            except Exception:
                # Our own trouble (peer removed meanwhile, database busy): next peer, next round.
                log.exception("sync %s: failed; trying again in %g s", name, interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    log.info("sync loop stopped")
