"""Verified batches stored in groups, one group being written while the next fills."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from node.errors import HashfedError
from node.log.checkpoint import SignedCheckpoint
from node.log.merkle import Frontier
from node.service.runner import NodeRunner
from node.service.verified_import import StoredGroup, VerifiedGroup

log = logging.getLogger("hashfed.sync")


GROUP_ENTRIES = 8_192
GROUP_ENTRIES_MAX = 65_536
GROUP_BYTES = 4 * 1024 * 1024
"""Verified entries are stored in groups, one transaction each, while the next batches arrive:
the first group of a stream holds up to ``GROUP_ENTRIES`` entries, each next one twice as many
as the one before, up to ``GROUP_ENTRIES_MAX``, and never more than ``GROUP_BYTES`` of bodies.
Small first groups store a short or interrupted stream early; larger ones later cost fewer
commits and per-group reads (a 1M sync: ~25 groups instead of 122). At most one group is being
written and one filling, so a stream holds at most ~2 x 4 MiB of bodies (plus their rows)
awaiting the disk."""


class GroupWriter:
    """Stores verified batches in groups, one group writing while the next fills."""

    def __init__(
        self,
        runner: NodeRunner,
        origin: str,
        signed: SignedCheckpoint,
        start: int,
        frontier: Frontier,
    ) -> None:
        self.runner = runner
        self.origin = origin
        self.signed = signed
        self.appended = 0
        self.size = start
        self._group = VerifiedGroup(origin, start, frontier)
        self._group_entries = GROUP_ENTRIES
        self._writing: asyncio.Task[StoredGroup] | None = None

    async def add(self, batch: Sequence[bytes], leaves: list[bytes], frontier: Frontier) -> None:
        self._group.add(batch, leaves, frontier)
        if len(self._group.bodies) >= self._group_entries or self._group.nbytes >= GROUP_BYTES:
            await self._write()
            self._group_entries = min(2 * self._group_entries, GROUP_ENTRIES_MAX)

    async def finish(self) -> None:
        """Store what is left and wait for every write."""
        await self._write()
        await self._settle()

    async def finish_verified(self) -> None:
        """Like :meth:`finish`, for a stream that ended in error: what was verified is stored
        unless storing fails too (then the caller's error is the one reported)."""
        try:
            await self.finish()
        except HashfedError as exc:
            log.warning("sync: %s: verified entries not stored: %s", self.origin, exc)

    async def finish_quietly(self) -> None:
        """Wait for the group being written (its error, if any, is dropped: the caller is
        already handling one); the group filling is dropped."""
        self._group = VerifiedGroup(self.origin, self._group.end, self._group.frontier)
        with contextlib.suppress(HashfedError):
            await self._settle()

    async def _settle(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            stored = await writing
            self.appended += stored.appended
            self.size = max(self.size, stored.size)

    async def _write(self) -> None:
        await self._settle()
        group = self._group
        if not group.bodies:
            return
        self._group = VerifiedGroup(self.origin, group.end, group.frontier)
        node = self.runner.node
        self._writing = asyncio.ensure_future(
            self.runner.call(node.importer.store_verified, group, self.signed)
        )
