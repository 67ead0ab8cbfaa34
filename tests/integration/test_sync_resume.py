"""A sync killed with SIGKILL mid-way resumes without loss, duplicates or fetching twice.

A holds 60,000 entries. ``hashfed sync`` runs in a child process and is killed (SIGKILL) once
some batches are staged. Nothing unverified is visible at that point. The next sync reuses the
staged rows (the report says how many were fetched and how many reused) and converges on A's
exact signed tree.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from node.log.entry import Labels
from node.log.merkle import root_of
from tests.integration.fednet import Member, cli_subprocess, peer, run_cli

A, C = "node-a.example", "node-c.example"
TOTAL = 60_000

pytestmark = pytest.mark.slow


def test_sigkilled_sync_resumes_from_staging(tmp_path: Path) -> None:
    a, c = Member.create(tmp_path, A), Member.create(tmp_path, C)
    a.import_hash_list([f"md5 {i:032x}" for i in range(TOTAL)], Labels(entity="bulk"))
    peer(c, a)
    a.start()
    try:
        child = cli_subprocess(
            c.home, "sync", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        staged = 0
        while staged < 2_000 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
            staged = c.count("staged_entries", A)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, "the sync finished before it was killed"

        # Killed mid-way: staged rows, nothing visible.
        staged = c.count("staged_entries", A)
        assert 0 < staged <= TOTAL
        assert c.count("entries", A) == 0
        assert c.count("checkpoints", A) == 0
        assert c.count("signals", A) == 0

        result = run_cli(c.home, "sync", "--json")
        assert result.exit_code == 0, result.output
        (report,) = json.loads(result.stdout)["peers"]
        (origin,) = [o for o in report["origins"] if o["origin"] == A]
        assert origin["status"] == "imported"
        assert origin["received"] == TOTAL
        assert origin["reused"] == staged > 0  # nothing it had was fetched again
        assert origin["fetched"] + origin["reused"] == TOTAL

        # Converged on A's signed tree, no loss, no duplicates, nothing left staged.
        ours, theirs = c.checkpoint(A), a.checkpoint()
        assert (ours.size, ours.root, ours.note) == (theirs.size, theirs.root, theirs.note)
        assert c.query(
            "SELECT COUNT(*), COUNT(DISTINCT idx), MIN(idx), MAX(idx) FROM entries "
            "WHERE origin = ?",
            A,
        )[0] == (TOTAL, TOTAL, 0, TOTAL - 1)
        assert c.count("signals", A) == TOTAL
        assert c.count("staged_entries", A) == 0
        leaves = c.do(lambda node: node.store.leaves(A, TOTAL))
        assert root_of(leaves) == theirs.root
    finally:
        a.stop()
