"""A slow peer: a real FederationService over real mutual TLS that relays a log at a trickle.

:class:`SlowPeer` is a :class:`~tests.support.fakes.RelayPeer`: it serves with its own
member identity (a real home made by ``Node.init``: keys, certificate, the address in its
card), admits exactly the client certificates it is told to pin, and proxies every call, over
real mTLS with that identity, to an honest node that serves it. ``StreamEntries`` is where it
is slow: it relays the upstream's first ``first_batches`` batches at once, then one batch every
``gap_s`` seconds, just under the client's idle timeout (60 s) by default, which is what the
attacker of issue 9 did (a batch holds at most 1,000 entries, so a log of a few thousand gives
a stream that lasts minutes). Everything it sends is genuine and relayed unchanged, so nothing
it does can be rejected; it can only be too slow.

It counts what happened to its streams (:attr:`started`, :attr:`open`, :attr:`cancelled`,
:attr:`sent`), so a test can tell that a client gave up on it, and when. :func:`configure` and
:func:`wait_for` help the scheduling tests set a node's sync bounds and wait on its progress.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import tomli_w

from node._proto.hashfed.v1 import federation_pb2
from tests.support.fakes import RelayPeer
from tests.support.fednet import Member


def configure(member: Member, **values: float) -> None:
    """Set config keys of a member that is not serving (read when it starts)."""
    path = member.home / "config.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc.update(values)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    """Whether ``condition`` held within ``seconds`` (checked every 50 ms)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


class SlowPeer(RelayPeer):
    software_version = "slow"

    def __init__(
        self,
        home: Path,
        origin: str,
        *,
        first_batches: int = 1,
        gap_s: float = 55.0,
        **relay: Any,
    ) -> None:
        """``relay``: the upstream and the pinned clients, as :class:`RelayPeer` takes them."""
        super().__init__(home, origin, **relay)
        self.first_batches = first_batches
        self.gap_s = gap_s
        self.started = 0
        """Streams begun."""
        self.open = 0
        """Streams in progress now."""
        self.cancelled = 0
        """Streams the client cancelled before the end."""
        self.sent = 0
        """Entries sent, over all streams."""
        self.requests: list[tuple[int, int]] = []
        """``[start, end)`` of every StreamEntries call, in order."""

    # -- FederationService (besides RelayPeer's) ----------------------------------------------

    async def ListCheckpoints(  # noqa: N802
        self, request: federation_pb2.ListCheckpointsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.CheckpointBatch]:
        async for batch in self._stub.ListCheckpoints(request):
            yield batch

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        # The upstream's messages are relayed unchanged (whatever they carry besides the
        # entries), only late: all is genuine, nothing can be rejected, it is just slow.
        self.requests.append((int(request.start_index), int(request.end_index)))
        batches = [batch async for batch in self._stub.StreamEntries(request)]
        self.started += 1
        self.open += 1
        finished = False
        try:
            for i, batch in enumerate(batches):
                if i >= self.first_batches:
                    await asyncio.sleep(self.gap_s)
                yield batch
                self.sent += len(batch.entries)
            finished = True
        finally:
            # A client that cancels the call cancels this generator (CancelledError or
            # GeneratorExit at the sleep or the yield).
            self.open -= 1
            if not finished:
                self.cancelled += 1
