"""A sync killed with SIGKILL mid-way resumes without loss, duplicates or fetching twice.

A holds 60,000 entries. ``hashfed sync`` runs in a child process and is killed (SIGKILL) once
some groups are stored. Every batch was proven into A's signed tree before it was kept, so what
is held at that point is whole groups of A's own entries, described exactly by the verified
head (size and frontier), and nothing else. The next sync continues from the head (the report
says how many entries were fetched and how many were already held) and converges on A's exact
signed tree.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from node.log.entry import Labels
from node.log.merkle import Frontier, leaf_hash, root_of
from tests.support.fednet import Member, cli_subprocess, peer, run_cli

A, C = "node-a.example", "node-c.example"
TOTAL = 60_000

pytestmark = pytest.mark.slow


def test_sigkilled_sync_keeps_whole_verified_groups_and_resumes(tmp_path: Path) -> None:
    a, c = Member.create(tmp_path, A), Member.create(tmp_path, C)
    a.publisher.import_hash_list([f"md5 {i:032x}" for i in range(TOTAL)], Labels(entity="bulk"))
    peer(c, a)
    a.start()
    try:
        child = cli_subprocess(
            c.home, "sync", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        held = 0
        while held < 2_000 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
            held = (
                c.count("verified_heads", A)
                and c.query("SELECT size FROM verified_heads WHERE origin = ?", A)[0][0]
            )
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, "the sync finished before it was killed"

        # Killed mid-way: whole verified groups, exactly what the head says, no checkpoint.
        ((held, frontier),) = c.query(
            "SELECT size, frontier FROM verified_heads WHERE origin = ?", A
        )
        assert 0 < held < TOTAL
        assert c.query(
            "SELECT COUNT(*), COUNT(DISTINCT idx), MIN(idx), MAX(idx) FROM entries "
            "WHERE origin = ?",
            A,
        )[0] == (held, held, 0, held - 1)
        assert c.count("signals", A) == held
        assert c.count("checkpoints", A) == 0
        leaves = c.do(lambda node: node.store.log.leaves(A, TOTAL))
        assert Frontier.from_bytes(held, frontier).root() == root_of(leaves)
        assert leaves == [leaf_hash(b) for b in a.do(lambda n: n.store.log.bodies(A, 0, held))]

        result = run_cli(c.home, "sync", "--json")
        assert result.exit_code == 0, result.output
        (report,) = json.loads(result.stdout)["peers"]
        (origin,) = [o for o in report["origins"] if o["origin"] == A]
        assert origin["status"] == "imported"
        assert origin["received"] == TOTAL - held
        assert origin["reused"] == held  # nothing it had was fetched again
        assert origin["fetched"] == TOTAL - held

        # Converged on A's signed tree, no loss, no duplicates, nothing left staged.
        ours, theirs = c.reader.checkpoint(A), a.reader.checkpoint()
        assert (ours.size, ours.root, ours.note) == (theirs.size, theirs.root, theirs.note)
        assert c.query(
            "SELECT COUNT(*), COUNT(DISTINCT idx), MIN(idx), MAX(idx) FROM entries "
            "WHERE origin = ?",
            A,
        )[0] == (TOTAL, TOTAL, 0, TOTAL - 1)
        assert c.count("signals", A) == TOTAL
        assert c.count("verified_heads", A) == 0
        leaves = c.do(lambda node: node.store.log.leaves(A, TOTAL))
        assert root_of(leaves) == theirs.root
    finally:
        a.stop()
