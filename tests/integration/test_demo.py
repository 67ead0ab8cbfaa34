"""`make demo` runs end to end and its own expectations hold (it exits non-zero otherwise).

The demo is the three-member network story (scripts/demo.py): nodes in a line, C learns A's
hashes through B, matches edited copies, proves provenance with A's key, sees A's retraction.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_demo_runs_and_its_expectations_hold(tmp_path: Path) -> None:
    demo = tmp_path / "demo"  # never the developer's .demo/
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--dir", str(demo)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
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
