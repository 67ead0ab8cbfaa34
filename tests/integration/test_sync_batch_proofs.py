"""Per-batch proofs against a scripted member (real gRPC server, own identity, mutual TLS).

M (:class:`~tests.support.malicious.MaliciousMember`) serves its own log to C with correct
or altered batch proofs; C is a real node. Whose fault a failing batch is, and what a node does
when the origin contradicts entries it holds beyond its newest checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from node.results import to_json
from node.sync.engine import OriginSyncReport, PeerSyncReport
from node.sync.fault import PEER_FAULT_REASON
from tests.support.fednet import Member
from tests.support.malicious import MaliciousMember, make_entries

C, M = "node-c.example", "mallory.example"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Member, MaliciousMember]]:
    c = Member.create(tmp_path, C)
    m = MaliciousMember.create(tmp_path, M)
    c.members.add_peer(m.card_json())
    m.pin_home(C, c.home)
    with (c.home / "config.toml").open("a") as config:
        config.write("max_fetch_per_round = 1000\n")  # one batch per round: heads to look at
    c.start()
    m.start()
    try:
        yield c, m
    finally:
        m.stop()
        c.stop()


def _origin(report: PeerSyncReport) -> OriginSyncReport:
    (found,) = [o for o in report.origins if o.origin == M]
    return found


@pytest.mark.parametrize("how", ["corrupt", "truncate", "pad"])
def test_altered_batch_proofs_are_the_peers_fault_when_its_own_proof_clears_us(
    pair: tuple[Member, MaliciousMember], how: str
) -> None:
    c, m = pair
    history = m.history(2_600, "h")
    m.show(C, history, 1_000)
    assert _origin(c.sync_one(M)).imported == 1_000  # a verified checkpoint of 1,000
    m.show(C, history, 2_600, batch_proofs=how)  # GetConsistencyProof stays honest
    origin = _origin(c.sync_one(M))
    assert origin.status == "rejected", origin
    assert origin.reason is not None and origin.reason.startswith(PEER_FAULT_REASON)
    # Its honest GetConsistencyProof(1000, 2600) shows our tree is a prefix of the signed one,
    # so only the batch was wrong: asked once more, wrong again, 2 x 1,000 counted.
    assert [c.method for c in m.calls_by(C)].count("GetConsistencyProof") == 1
    assert origin.rejected == 2 * 1_000
    assert len(m.tampered) >= 2  # (the server may have prepared the next batch too)
    assert c.count("entries", M) == 1_000 and c.count("verified_heads", M) == 0
    assert c.audit.evidence() == []
    m.show(C, history, 2_600)
    assert [_origin(c.sync_one(M)).imported for _ in range(2)] == [1_000, 600]
    assert c.reader.checkpoint(M).size == 2_600


def test_an_origin_contradicting_held_entries_is_reported_then_proven(
    pair: tuple[Member, MaliciousMember],
) -> None:
    c, m = pair
    h1 = m.history(2_500, "one")
    m.show(C, h1)
    first = _origin(c.sync_one(M))
    assert (first.status, first.imported) == ("imported", 1_000)
    assert c.query("SELECT size FROM verified_heads WHERE origin = ?", M) == [(1_000,)]
    assert c.count("checkpoints", M) == 0  # proven into tree(2500), which is not reached yet

    # M now signs a tree of 800 whose entries differ from the held ones after 500.
    h2 = h1.rewritten(500, make_entries(M, 300, tag="two", start=500))
    m.show(C, h2)
    odd = _origin(c.sync_one(M))
    assert odd.status == "failed", odd
    assert odd.reason is not None and "checkpoint of size 2500" in odd.reason
    assert c.count("entries", M) == 1_000 and c.audit.evidence() == []

    # Once the checkpoint of 2,500 is reached, the same lie is evidence.
    m.show(C, h1)
    for _ in range(2):
        assert _origin(c.sync_one(M)).status == "imported"
    assert c.reader.checkpoint(M).size == 2_500
    m.show(C, h2)
    proven = _origin(c.sync_one(M))
    assert proven.status == "evidence", proven
    (evidence,) = c.audit.evidence()
    assert evidence.kind == "inconsistent-smaller"


def test_a_larger_tree_that_forks_within_the_head_is_not_the_peers_fault(
    pair: tuple[Member, MaliciousMember],
) -> None:
    c, m = pair
    h1 = m.history(2_500, "one")
    m.show(C, h1, 1_000)
    assert _origin(c.sync_one(M)).imported == 1_000  # checkpoint 1,000
    m.show(C, h1)
    assert _origin(c.sync_one(M)).imported == 1_000  # head 2,000, proven into tree(2500)
    # M signs a tree of 3,000 that keeps the checkpoint of 1,000 but rewrites from 1,500 on.
    h2 = h1.rewritten(1_500, make_entries(M, 1_500, tag="two", start=1_500))
    m.show(C, h2)
    fork = _origin(c.sync_one(M))
    assert fork.status == "failed", fork
    assert fork.reason is not None and "not the peer's fault" in fork.reason
    assert "checkpoint of size 2500" in fork.reason
    assert fork.rejected == 0
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == M]
    assert stats["rejected"] == 0
    assert c.count("entries", M) == 2_000 and c.audit.evidence() == []
