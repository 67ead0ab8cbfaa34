"""A relay never streams what its own store damaged: the peer would verify the batch against the
origin's signed root, reject it, and count the relay as a liar. B's copy of A's log is changed
on disk (a body, or a body with a leaf made to match it); C, which gets A only through B, sees
B refuse by name, counts nothing against B, and B records the finding (`hashfed status`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.log.entry import Labels
from node.log.merkle import leaf_hash
from node.service.integrity_findings import known_damage
from tests.support.fednet import Member, peer, trust

A, B, C = "node-a.example", "node-b.example", "node-c.example"


def _change_body(home: Path, origin: str, idx: int, *, leaf_too: bool) -> None:
    conn = sqlite3.connect(home / "hashfed.db")
    (body,) = conn.execute(
        "SELECT body FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
    ).fetchone()
    changed = bytearray(body)
    changed[-3] ^= 0x01
    with conn:
        conn.execute(
            "UPDATE entries SET body = ? WHERE origin = ? AND idx = ?",
            [bytes(changed), origin, idx],
        )
        if leaf_too:
            conn.execute(
                "UPDATE entries SET leaf = ? WHERE origin = ? AND idx = ?",
                [leaf_hash(bytes(changed)), origin, idx],
            )
    conn.close()


@pytest.mark.parametrize(("leaf_too", "words"), [(False, "entry 3"), (True, "size 8")])
def test_a_relay_refuses_to_stream_what_its_store_damaged(
    tmp_path: Path, leaf_too: bool, words: str
) -> None:
    a, b, c = (Member.create(tmp_path, name) for name in (A, B, C))
    peer(b, a)
    peer(c, b)
    trust(c, a)  # C trusts A's entries but learns them only through B
    a.publisher.import_hash_list([f"md5 {i:032x}" for i in range(8)], Labels(entity="a"))
    a.start()
    b.start()
    try:
        assert b.sync_one(A).received == 8
    finally:
        b.stop()
        a.stop()
    _change_body(b.home, A, 3, leaf_too=leaf_too)
    b.start()
    c.start()
    try:
        (report,) = c.sync(B)
        assert report.rejected == 0, report.problems()  # B is not taken for a liar
        assert c.count("entries", A) == 0
        problems = " ".join(report.problems())
        assert f"refusing to serve {A}" in problems and words in problems, problems
    finally:
        c.stop()
        b.stop()
    found = [d for d in known_damage(b.home) if d.origin == A]
    assert found, "B records what it refused to serve"
