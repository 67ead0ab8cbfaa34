"""A publisher killed with SIGKILL mid-transaction leaves the previous checkpoint, never half."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from node.core import Node
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.log.merkle import Frontier, root_of

# The child publishes large batches back to back, so most of its life is spent inside a write
# transaction and a kill at a random moment almost always lands in the middle of one.
CHILD = """
import sys
from pathlib import Path
from node.core import Node
from node.log.entry import Labels
from node.log.entry import Labels
node = Node.open(Path(sys.argv[1]))
batch = 0
print("ready", flush=True)
while True:
    lines = [f"md5 {batch:016x}{i:016x}" for i in range(3000)]
    print("begin", batch, flush=True)
    node.publisher.import_hash_list(lines, Labels(entity="crash-test"))
    print("committed", batch, flush=True)
    batch += 1
"""


def _check_consistent(home: Path) -> int:
    with Node.open(home) as node:
        store = node.store
        latest = store.log.latest_checkpoint(node.origin)
        held = store.integrity.row_counts()
        entries, signals = held["entries"], held["signals"]
        size = 0 if latest is None else latest.size
        assert entries == size, f"{entries} entries stored but checkpoint covers {size}"
        assert signals == size  # one md5 per ADD
        if latest is not None:
            leaves = store.log.leaves(node.origin, size)
            assert root_of(leaves) == latest.root
            assert Frontier.from_bytes(size, latest.frontier).root() == latest.root
            SignedCheckpoint.open(latest.note, node.verifier)
        # The index built from this store matches what the store says.
        assert node.index.sizes()["md5"] == size
        return size


def test_sigkill_mid_publish_leaves_previous_checkpoint(home: Path) -> None:
    sizes = []
    interrupted = 0
    for delay in (0.9, 1.3, 1.7, 2.1):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(home)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        said = child.communicate()[0].split("\n")  # reaps it and closes its pipe
        interrupted += any(line.startswith("begin") for line in said[-2:])
        sizes.append(_check_consistent(home))
    # At least one kill landed between "begin" and "committed", i.e. inside a publish.
    assert interrupted >= 1
    assert sizes == sorted(sizes)
    assert sizes[-1] % 3000 == 0
    # The node keeps working after the crashes.
    with Node.open(home) as node:
        report = node.publisher.import_hash_list(["md5 " + "f" * 32], Labels())
        assert report.checkpoint_size == sizes[-1] + 1
