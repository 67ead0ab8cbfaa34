"""`make demo` runs end to end and its own expectations hold (it exits non-zero otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_its_expectations_hold() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "24 of 24 edited copies matched their original" in proc.stdout
    assert "the unrelated picture matched 0 entries" in proc.stdout
    assert "OK:" in proc.stdout
