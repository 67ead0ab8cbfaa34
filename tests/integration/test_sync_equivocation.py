"""An origin that signs two conflicting checkpoints is detected, the evidence kept, import stopped.

Two homes hold the same origin key (the second is a copy of the first, made before anything is
published) and publish different entries. B relays the first twin's log; C peers with B and
with the second twin, so each conflicting log reaches C through a different peer.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.errors import EquivocationError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.log.keys import VerifierKey
from node.log.proof_verification import verify_consistency
from tests.support.fednet import Member, free_port, peer

A, B, C = "node-a.example", "node-b.example", "node-c.example"


def _twin(original: Member, folder: Path) -> Member:
    """A copy of ``original``'s home (same origin, same keys) listening on another port."""
    port = free_port()
    home = folder / "twin" / original.origin
    shutil.copytree(original.home, home)
    config = home / "config.toml"
    text = re.sub(
        r'peer_address = "[^"]*"', f'peer_address = "127.0.0.1:{port}"', config.read_text()
    )
    config.write_text(text)
    return Member(home, original.origin, port)


@pytest.mark.parametrize(
    ("twin_size", "first", "kind"),
    [
        (5, B, "inconsistent-larger"),
        (5, A, "inconsistent-smaller"),
        (3, B, "same-size-different-roots"),
    ],
)
def test_conflicting_checkpoints_are_evidence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, twin_size: int, first: str, kind: str
) -> None:
    a1 = Member.create(tmp_path, A)
    a2 = _twin(a1, tmp_path)
    b, c = Member.create(tmp_path, B), Member.create(tmp_path, C)
    a1.publisher.import_hash_list([f"md5 {i:032x}" for i in range(1, 4)], Labels(entity="first"))
    a2.publisher.import_hash_list([f"md5 {i:032x}" for i in range(101, 101 + twin_size)], Labels())
    peer(b, a1)
    peer(c, b)
    peer(c, a2)  # C's peer "node-a.example" is the twin
    key = VerifierKey.parse(a1.do(lambda node: str(node.verifier)))
    members = [a1, a2, b, c]
    for m in members:
        m.start()
    try:
        caplog.set_level(logging.INFO, logger="hashfed.sync")
        assert b.sync_one(A).received == 3
        second = A if first == B else B
        assert c.sync_one(first).ok
        before = c.count("entries", A)
        report = c.sync_one(second)

        (origin,) = [o for o in report.origins if o.origin == A]
        assert origin.status == "evidence", origin
        assert report.ok  # the peer did nothing wrong by relaying what A signed

        # The evidence is kept: both validly signed notes and what proves the conflict.
        (item,) = c.audit.evidence()
        assert (item.origin, item.kind, item.peer) == (A, kind, second)
        one, two = (
            SignedCheckpoint.open(n, key).checkpoint for n in (item.first_note, item.second_note)
        )
        assert one != two
        detail = json.loads(item.detail)
        if kind in ("inconsistent-larger", "inconsistent-smaller"):
            # Anyone can check: the consistency proof gives the larger tree's root at size 3,
            # and it is not the root A signed for size 3 (for inconsistent-larger the proof is
            # built from the full log the peer served).
            prefix = bytes.fromhex(detail["prefix_root"])
            verify_consistency(
                3,
                5,
                [bytes.fromhex(h) for h in detail["consistency_proof"]],
                prefix,
                bytes.fromhex(detail["larger_root"]),
            )
            assert prefix.hex() != detail["smaller_root"]
        else:
            assert one.size == two.size == 3 and one.root != two.root

        # `hashfed status` shows it, and the logs say so.
        result = CliRunner().invoke(app, ["status", "--json", "--home", str(c.home)])
        assert result.exit_code == 0, result.output
        status = json.loads(result.stdout)
        assert status["evidence"] == 1
        assert {o["origin"]: o["halted"] for o in status["origins"]}[A] is True
        assert any("EQUIVOCATION by node-a.example" in r.getMessage() for r in caplog.records)

        # Further import from that origin stops.
        with pytest.raises(EquivocationError):
            c.importer.import_verified(
                A, SignedCheckpoint.open(a1.reader.checkpoint().note, key), []
            )
        for name in (A, B):
            again = c.sync_one(name)
            assert [o.status for o in again.origins if o.origin == A] == ["halted"]
        assert c.count("entries", A) == before
        assert c.count("verified_heads", A) == 0
        assert len(c.audit.evidence()) == 1
    finally:
        for m in members:
            m.stop()
