"""Serve a node from synchronous code: its own event loop on a background thread.

For tests and tools that are not asyncio programs::

    with BackgroundNode(home, local_address="127.0.0.1:0") as served:
        channel = grpc.insecure_channel(served.local_address)
        ...

The node is stopped gracefully (and the thread ended) when the block exits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from node.server.app import DEFAULT_GRACE_S, RunningNode, start_node

T = TypeVar("T")


class BackgroundNode:
    def __init__(
        self,
        home: Path,
        *,
        peer_address: str | None = "127.0.0.1:0",
        local_address: str | None = "127.0.0.1:0",
        run_sync: bool = False,
    ) -> None:
        self._home = home
        self._peer_address = peer_address
        self._local_address = local_address
        self._run_sync = run_sync
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="hashfed-background-node", daemon=True
        )
        self._running: RunningNode | None = None

    @property
    def running(self) -> RunningNode:
        if self._running is None:
            raise RuntimeError("the node is not running")
        return self._running

    @property
    def peer_address(self) -> str:
        return self.running.peer_address

    @property
    def local_address(self) -> str:
        return self.running.local_address

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the node's event loop; its future, to wait on later."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the node's event loop and wait for its result."""
        return self.submit(coro).result(timeout)

    def start(self) -> RunningNode:
        self._thread.start()
        try:
            self._running = self.run(
                start_node(
                    self._home,
                    peer_address=self._peer_address,
                    local_address=self._local_address,
                    run_sync=self._run_sync,
                )
            )
        except BaseException:
            self._end_loop()
            raise
        return self._running

    def stop(self, grace: float = DEFAULT_GRACE_S) -> None:
        if self._running is not None:
            self.run(self._running.stop(grace), timeout=grace + 30.0)
            self._running = None
        self._end_loop()

    def _end_loop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
        if not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> BackgroundNode:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
