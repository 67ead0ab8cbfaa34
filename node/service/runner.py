"""The one thread that may touch a node.

:class:`node.core.Node` wraps one SQLite connection (created with Python's default
``check_same_thread``) and an in-memory index; neither is safe to use from two threads. In a
server process every facade call therefore goes through one :class:`NodeRunner`: a
single-worker executor that opens the node, runs each call in turn, and closes it. The event
loop awaits the calls and never blocks on SQLite or hashing; the node is never used
concurrently. The servers, the freshness task and the sync loop (``node.sync``) all share the
same runner.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from node.core import Node

P = ParamSpec("P")
R = TypeVar("R")

THREAD_NAME = "hashfed-node"


class NodeRunner:
    """Runs facade calls, one at a time, on the node's dedicated thread.

    Usage: ``await runner.call(runner.node.match_signals, signals, None)`` or
    ``await runner.call(some_function, runner.node, ...)``. ``fn(*args, **kwargs)`` runs on the
    node thread and its result (or exception) comes back to the awaiting coroutine.

    :attr:`node` is exposed only so that callers can *name* facade methods. Never call them, nor
    read properties such as ``node.index``, outside :meth:`call`: even an attribute can open the
    database (on the wrong thread, which SQLite refuses) or race with the node thread.
    """

    def __init__(self, node: Node, executor: ThreadPoolExecutor) -> None:
        """Use :meth:`open`; the node must have been opened on ``executor``'s thread."""
        self._node = node
        self._executor = executor
        self._closed = False
        # Plain immutable values, safe to read from any thread.
        self.origin = node.origin
        self.witness_key = str(node.witness_key)
        self.home = node.paths.root

    @classmethod
    async def open(cls, home: Path) -> NodeRunner:
        """Open the node in ``home`` on a new dedicated thread."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        loop = asyncio.get_running_loop()
        try:
            node = await loop.run_in_executor(executor, Node.open, home)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(node, executor)

    @property
    def node(self) -> Node:
        """The facade, to name its methods in :meth:`call` (see the class docstring)."""
        return self._node

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn(*args, **kwargs)`` on the node thread and return its result."""
        if self._closed:
            raise RuntimeError("the node runner is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Close the node on its thread, then end the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._node.close)
        finally:
            self._executor.shutdown(wait=True)
