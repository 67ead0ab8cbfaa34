"""Saving the match-index snapshot while serving, off the node thread's hot path.

The node thread only *captures* a snapshot (it catches the index up, reads a few store rows and
takes views of the index arrays and a copy of its live bits: milliseconds); the arrays are
written, hashed and fsynced on a worker thread while lookups go on. One write at a time; a final
one when the server stops, if anything changed since the last (:mod:`node.service.index_snapshot`).
"""

from __future__ import annotations

import asyncio
import logging

from node.core import Node
from node.service.match_index import SnapshotCapture
from node.service.runner import NodeRunner

log = logging.getLogger("hashfed.index")


def _capture_if_due(node: Node) -> SnapshotCapture | None:
    index = node.index
    return index.capture_snapshot() if index.snapshot_due() else None


def _capture_if_changed(node: Node) -> SnapshotCapture | None:
    index = node.index
    return index.capture_snapshot() if index.snapshot_due(every_rows=1, every_s=0.0) else None


class SnapshotKeeper:
    def __init__(self, runner: NodeRunner) -> None:
        self._runner = runner
        self._writing: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """Start a snapshot write if one is due and none is in flight (call on each refresh)."""
        if self._writing is not None and not self._writing.done():
            return
        capture = await self._runner.call(_capture_if_due, self._runner.node)
        if capture is not None:
            self._writing = asyncio.get_running_loop().create_task(
                self._write(capture), name="hashfed-index-snapshot"
            )

    async def final(self) -> None:
        """On stop, before the node closes: finish any write, then save what changed since."""
        if self._writing is not None:
            await asyncio.gather(self._writing, return_exceptions=True)
        try:
            capture = await self._runner.call(_capture_if_changed, self._runner.node)
        except Exception:
            log.exception("index snapshot not captured at stop")
            return
        if capture is not None:
            await self._write(capture)

    @staticmethod
    async def _write(capture: SnapshotCapture) -> None:
        try:
            await asyncio.to_thread(capture.write)
        except Exception:  # a full disk must not stop the server; the next start rebuilds
            log.exception("index snapshot not written")
