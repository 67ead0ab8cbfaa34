"""numba is imported at the first search (or warm-up), never by merely importing the node.

Every CLI start imported it before (~0.65 s) although most commands never search.
Each check runs in a fresh interpreter: this test process has long imported numba.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from node.index import BitIndex, kernel, warm_up
from tests.support.paths import ROOT


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    return done.stdout.strip()


def test_importing_the_cli_does_not_import_numba() -> None:
    assert _run("import sys, node.cli.main; print('numba' in sys.modules)") == "False"


def test_building_and_appending_do_not_import_numba_a_search_does() -> None:
    # Issue 10 changed this: a search of a small index runs numpy (a CLI lookup on a small node
    # must start fast); a search of KERNEL_MIN_ROWS rows loads the kernel, with the same hits.
    code = """
import sys
import numpy as np
from node.index import BitIndex
from node.index.bit_search import KERNEL_MIN_ROWS
index = BitIndex(256, max_threshold=31, tail_rows=8)
values = np.random.default_rng(1).integers(0, 256, size=(100, 32), dtype=np.uint8)
index.append(values, first_row=0)
index.set_live([3], False)
state = index.state()
print('numba' in sys.modules)
hits = index.search(values[0].tobytes(), 31)
print('numba' in sys.modules, [(h.row, h.distance) for h in hits])
more = np.random.default_rng(2).integers(0, 256, size=(KERNEL_MIN_ROWS, 32), dtype=np.uint8)
index.append(more, first_row=100)
hits = index.search(values[0].tobytes(), 31)
print('numba' in sys.modules, [(h.row, h.distance) for h in hits], index.use_kernel)
"""
    before, small, large = _run(code).splitlines()
    assert before == "False"
    assert small == "False [(0, 0)]"
    assert large == f"{kernel.AVAILABLE} [(0, 0)] {kernel.AVAILABLE}"


def test_a_loaded_kernel_serves_a_small_index_too() -> None:
    code = """
import sys
import numpy as np
from node.index import BitIndex, warm_up
index = BitIndex(256, max_threshold=31, tail_rows=8)
values = np.random.default_rng(1).integers(0, 256, size=(100, 32), dtype=np.uint8)
index.append(values, first_row=0)
before = [(h.row, h.distance) for h in index.search(values[5].tobytes(), 31)]
after = [(h.row, h.distance) for h in index.search(values[5].tobytes(), 31)]
print(warm_up(), index.use_kernel, after == before)
"""
    assert _run(code) == f"{kernel.AVAILABLE} {kernel.AVAILABLE} True"


def test_warm_up_loads_the_kernel_and_changes_no_answer() -> None:
    rng = np.random.default_rng(2)
    values = rng.integers(0, 256, size=(500, 32), dtype=np.uint8)
    index = BitIndex(256, max_threshold=31, tail_rows=16)
    index.append(values, first_row=0)
    queries = values[:20] ^ rng.integers(0, 2, size=(20, 32), dtype=np.uint8)
    before = index.search_many(queries, 31)
    assert warm_up() == kernel.AVAILABLE
    assert index.search_many(queries, 31) == before
    index.use_kernel = False
    assert index.search_many(queries, 31) == before
