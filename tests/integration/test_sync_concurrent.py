"""Two peers relaying the same origin, synced at once: imported once, nobody blamed."""

from __future__ import annotations

from pathlib import Path

from node.log.entry import Labels
from node.results import to_json
from tests.support.fednet import Member, peer

A, B, C = "node-a.example", "node-b.example", "node-c.example"


def _publish(a: Member, first: int, count: int) -> None:
    a.publisher.import_hash_list(
        [f"md5 {first + i:032x}" for i in range(count)], Labels(entity="a")
    )


def test_two_peers_streaming_one_origin_at_once_import_it_once(tmp_path: Path) -> None:
    a, b, c = (Member.create(tmp_path, name) for name in (A, B, C))
    peer(b, a)
    peer(c, a)
    peer(c, b)  # C gets A's log from A itself and from B, in the same round
    a.start()
    b.start()
    c.start()
    try:
        for first, count in ((0, 5_000), (5_000, 500)):
            _publish(a, first, count)
            assert b.sync_one(A).received == count
            reports = c.sync()  # both rounds at once, both offering A's new entries
            assert {r.peer for r in reports} == {A, B}
            assert all(r.ok for r in reports), [r.problems() for r in reports]
            assert sum(r.received for r in reports) == count
            assert sum(r.rejected for r in reports) == 0
            assert c.count("entries", A) == first + count
            assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
        assert c.count("verified_heads", A) == 0  # nothing held beyond the checkpoint
        assert c.audit.evidence() == []
        health = {p["name"]: p["state"] for p in to_json(c.status())["peers"]}
        assert health == {A: "healthy", B: "healthy"}
    finally:
        c.stop()
        b.stop()
        a.stop()
