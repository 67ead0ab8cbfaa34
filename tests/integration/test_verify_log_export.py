"""A real node's export (``Audit.export``) passes scripts/verify_log.py, and an export taken with
``hashfed export`` from a copy of the node's database with one byte of one stored entry changed
fails it; a real node serving as a peer passes a live audit (``--node``).

The node and the script share no code: this is the cross-check issue 5 asks for.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from node.core import Node
from node.hashing import ComputedSignal, parse_signal
from node.log.entry import Labels
from tests.support.cli import hashfed
from tests.support.damage import flip_byte, rewrite_entry_body
from tests.unit.scripts.fixtures import run_script

ORIGIN = "acme.example"
TAMPERED_INDEX = 3


def verify_log(*args: str) -> subprocess.CompletedProcess[str]:
    return run_script("verify_log.py", *args)


def _publish(home: Path) -> str:
    """A node with a few batches: single ADDs, a hash list, a retraction. Returns its vkey."""
    Node.init(home, ORIGIN).close()
    with Node.open(home) as node:
        labels = Labels(entity="Example Front", content_type="image", tags=("t",))
        for i in range(3):
            signal = ComputedSignal(parse_signal(f"md5:{i + 1:032x}"), None)
            node.publisher.publish_signals([signal], labels)
        node.publisher.import_hash_list([f"md5 {i + 100:032x}" for i in range(5)], labels)
        node.publisher.retract(1, "shared by mistake")
        return str(node.verifier)


def test_a_real_export_verifies_and_a_changed_stored_entry_fails(tmp_path: Path) -> None:
    home = tmp_path / "node"
    vkey = _publish(home)
    good = tmp_path / "export-good"
    with Node.open(home) as node:
        node.audit.export(good)
    state = tmp_path / "state.json"

    passed = verify_log("--export", str(good), "--key", vkey, "--state", str(state))

    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith(
        f"OK: {ORIGIN}: 9 entries (8 ADD, 1 retractions, 0 opinions), 5 checkpoints"
    )
    assert json.loads(state.read_text())["origins"][ORIGIN]["size"] == 9
    recorded = state.read_bytes()

    # A copy of the node's home, with one byte of one stored entry changed in its database.
    copy = tmp_path / "node-copy"
    shutil.copytree(home, copy)
    value = bytes.fromhex(f"{100:032x}")  # the md5 signal of entry 3 (first list line)

    def in_the_signal(body: bytes) -> bytes:
        return flip_byte(body.index(value) + len(value) - 1)(body)

    rewrite_entry_body(copy / "hashfed.db", ORIGIN, TAMPERED_INDEX, in_the_signal)
    bad = tmp_path / "export-bad"
    exported = hashfed(copy, "export", str(bad), "--origin", ORIGIN)
    assert exported.exit_code == 0, exported.output

    failed = verify_log("--export", str(bad), "--key", vkey, "--state", str(state))

    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.startswith(f"FAIL: {ORIGIN}: entries 0..7 give root ")
    assert "but the checkpoint of size 8 signed by acme.example has root" in failed.stderr
    assert "one of entries 3..7 is not what the origin signed" in failed.stderr
    assert state.read_bytes() == recorded


@pytest.mark.parametrize("reader", ["auditor", "member"])
def test_live_audit_of_a_real_node(tmp_path: Path, reader: str) -> None:
    """B syncs A's log and cosigns it; a reader (an auditor identity, or the TLS identity of a
    member B trusts) audits A's log as B serves it, live, with B's witness key; then again
    after A grew, with a consistency proof from the recorded size."""
    from tests.support.fednet import Member, peer

    a = Member.create(tmp_path, "a.example")
    b = Member.create(tmp_path, "b.example")
    peer(b, a)
    reader_home = tmp_path / "reader.example"
    Node.init(reader_home, "reader.example", auditor=reader == "auditor").close()
    with Node.open(reader_home) as node:
        b.members.add(json.dumps(node.identity_card()))
    card_file = tmp_path / "b.card.json"
    card_file.write_text(b.card())
    labels = Labels(entity="Example Front", tags=("t",))
    a.start()
    b.start()
    try:
        for i in range(4):
            a.publisher.publish_signals(
                [ComputedSignal(parse_signal(f"md5:{i + 1:032x}"), None)], labels
            )
        b.sync_one("a.example")
        a_key = a.do(lambda node: str(node.verifier))
        b_witness = b.do(lambda node: str(node.witness_key))
        state = tmp_path / "state.json"
        args = [
            "--node", b.address, "--auditor-home", str(reader_home), "--node-card",
            str(card_file), "--origin", "a.example", "--key", a_key, "--witness", b_witness,
            "--state", str(state),
        ]  # fmt: skip

        first = verify_log(*args)
        a.publisher.import_hash_list([f"md5 {i + 100:032x}" for i in range(3)], labels)
        b.sync_one("a.example")
        second = verify_log(*args)
    finally:
        b.stop()
        a.stop()

    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("OK: a.example: 4 entries (4 ADD, 0 retractions, 0 opinions)")
    assert "proofs: inclusion of entries 0, 2, 3 from the node verified" in first.stdout
    assert "(b.example)" in first.stdout, first.stdout  # B's cosignature on A's checkpoint
    assert second.returncode == 0, second.stderr
    assert "proofs: consistency proof 4 -> 7 from the node verified" in second.stdout
    assert json.loads(state.read_text())["origins"]["a.example"]["size"] == 7
