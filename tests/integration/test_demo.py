"""`make demo` runs end to end and its own expectations hold (it exits non-zero otherwise).

The demo is the three-member network story (scripts/demo.py): nodes in a line, C learns A's
hashes through B, matches edited copies, proves provenance with A's key, sees A's retraction.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from node.core import Node
from tests.support.damage import flip_byte, rewrite_entry_body
from tests.unit.scripts.fixtures import run_script

pytestmark = pytest.mark.slow


# The whole demo (three nodes, hashing, syncs) takes 80 s beside other work: over the global
# timeout on a loaded machine, and the script's own limit is 300 s.
@pytest.mark.timeout(600)
def test_demo_runs_and_its_expectations_hold(tmp_path: Path) -> None:
    demo = tmp_path / "demo"  # never the developer's .demo/
    proc = run_script("demo.py", "--dir", demo, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "24 of 24 edited copies matched their original at node-c" in proc.stdout
    assert "the unrelated picture matched 0 entries" in proc.stdout
    assert "OK: node-a.example entry 2" in proc.stdout
    assert "Demo complete" in proc.stdout
    # The nodes were stopped and their homes kept for inspection.
    for name in ("node-a", "node-b", "node-c"):
        assert (demo / name / "config.toml").exists()
        assert not (demo / name / "serve.pid").exists()
    assert f"scripts/devnet.py up --dir {demo} --sync-interval 5" in proc.stdout

    # The audit on the demo's network: verify_log.py passed on C's export (the demo exits
    # non-zero otherwise). One byte of one stored entry changed in a copy of C's database, then
    # exported, fails it.
    key = json.loads((demo / "cards" / "node-a.json").read_text(encoding="utf-8"))
    assert _verify_log(demo / "export-c", key["verifier_key"]).returncode == 0
    copy = tmp_path / "node-c-copy"
    shutil.copytree(demo / "node-c", copy)
    rewrite_entry_body(copy / "hashfed.db", "node-a.example", 2, flip_byte(-1))
    with Node.open(copy) as node:
        node.audit.export(tmp_path / "tampered-export", "node-a.example")
    failed = _verify_log(tmp_path / "tampered-export", key["verifier_key"])
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAIL" in failed.stderr


def _verify_log(folder: Path, key: str) -> subprocess.CompletedProcess[str]:
    return run_script("verify_log.py", "--export", folder, "--key", key, timeout=60)
