"""NodeRunner: every facade call on one dedicated thread, one at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from node.core import Node
from node.errors import NotFoundError
from node.service.runner import THREAD_NAME, NodeRunner


def test_calls_run_on_one_thread_one_at_a_time(home: Path) -> None:
    active = 0
    overlap = False
    threads: set[str] = set()

    def work(node: Node, n: int) -> int:
        nonlocal active, overlap
        active += 1
        overlap = overlap or active > 1
        threads.add(threading.current_thread().name)
        time.sleep(0.002)
        active -= 1
        return n + len(node.origin)

    async def main() -> list[int]:
        runner = await NodeRunner.open(home)
        try:
            assert runner.origin == "acme.example"
            return await asyncio.gather(*(runner.call(work, runner.node, i) for i in range(20)))
        finally:
            await runner.close()

    results = asyncio.run(main())
    assert results == [i + len("acme.example") for i in range(20)]
    assert not overlap
    assert len(threads) == 1
    assert threads.pop().startswith(THREAD_NAME)
    assert threading.current_thread().name not in threads


def test_facade_errors_come_back_and_close_is_final(home: Path) -> None:
    async def main() -> None:
        runner = await NodeRunner.open(home)
        with pytest.raises(NotFoundError):
            await runner.call(runner.node.reader.bundle, "nobody.example", 0)
        card = await runner.call(runner.node.identity_card)
        assert card["origin"] == "acme.example"
        await runner.close()
        await runner.close()  # idempotent
        assert runner.closed
        with pytest.raises(RuntimeError, match="closed"):
            await runner.call(runner.node.identity_card)

    asyncio.run(main())


def test_open_failure_leaves_nothing_running(tmp_path: Path) -> None:
    from node.errors import IdentityError

    before = threading.active_count()
    with pytest.raises(IdentityError):
        asyncio.run(NodeRunner.open(tmp_path / "missing"))
    time.sleep(0.05)
    assert threading.active_count() == before
