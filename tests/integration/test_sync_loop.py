"""The sync loop inside a serving node pulls on its interval and survives failing peers."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest

from node.log.entry import Labels
from tests.support.fednet import Member, peer

A, C, D = "node-a.example", "node-c.example", "node-d.example"


def _set_interval(member: Member, seconds: float) -> None:
    config = member.home / "config.toml"
    text = re.sub(r"sync_interval_s = [0-9.]+", f"sync_interval_s = {seconds}", config.read_text())
    config.write_text(text)


def test_the_loop_syncs_every_peer_each_round_and_never_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, c, d = (Member.create(tmp_path, name) for name in (A, C, D))
    peer(c, d)  # D never runs: every round fails with it
    peer(c, a)
    _set_interval(c, 0.2)
    caplog.set_level(logging.INFO, logger="hashfed.sync")
    a.start()
    c.start(run_sync=True)
    try:
        for round_ in range(2):
            a.publisher.import_hash_list(
                [f"md5 {round_:016x}{i:016x}" for i in range(10)], Labels()
            )
            want = 10 * (round_ + 1)
            deadline = time.monotonic() + 15
            while c.count("entries", A) < want and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.count("entries", A) == want
    finally:
        c.stop()
        a.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "hashfed.sync"]
    assert any(f"sync {D}: failed: {D} is not reachable at" in line for line in lines)
    assert any(line.startswith(f"sync {A}: 10 entries received") for line in lines)
    assert any(line == "sync loop stopped" for line in lines)
