"""node.hashing runs in offline tools: it must not drag in the network or database stacks."""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT


def test_importing_hashing_loads_neither_grpc_nor_sqlite3() -> None:
    probe = (
        "import sys, node.hashing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'sqlite3')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
