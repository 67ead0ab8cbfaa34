"""`hashfed check --repair --peer NAME` against real nodes over real mutual TLS: damaged copies
of another origin's entries (body, leaf, signal rows) and of the node's own entries are fetched
again from a peer, proven against the origin's signed checkpoint, and kept only if the log then
verifies; a peer whose copy is damaged too cannot make the repair wrong."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.hashing import ComputedSignal, parse_signal
from node.log.entry import Labels, Verdict
from node.service.index_snapshot import FOLDER_NAME, MANIFEST
from tests.integration.test_sync_bounds import C, M, _publish, _relay, net  # noqa: F401
from tests.support.fakes import ShortPeer
from tests.support.fednet import Member, peer, verify_bundle
from tests.support.storage import hashfed_process

A, B = "node-a.example", "node-b.example"


def _md5(i: int) -> str:
    return f"md5:{i:032x}"


def _edit(home: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(home / "hashfed.db", timeout=30)
    with conn:
        assert conn.execute(sql, args).rowcount == 1
    conn.close()


def _body(home: Path, origin: str, idx: int) -> bytes:
    conn = sqlite3.connect(home / "hashfed.db", timeout=30)
    (body,) = conn.execute(
        "SELECT body FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
    ).fetchone()
    conn.close()
    return bytes(body)


def _flip(home: Path, origin: str, idx: int) -> bytes:
    body = _body(home, origin, idx)
    changed = body[:-1] + bytes([body[-1] ^ 0x01])
    _edit(home, "UPDATE entries SET body = ? WHERE origin = ? AND idx = ?", changed, origin, idx)
    return body


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Member, Member]]:
    a, b = Member.create(tmp_path, A), Member.create(tmp_path, B)
    peer(b, a)
    peer(a, b)
    a.start()
    for i in range(6):
        a.publisher.publish_signals(
            [ComputedSignal(parse_signal(_md5(i)), None)], Labels(entity="E")
        )
    b.start()
    assert b.sync_one(A).ok
    b.stop()
    yield a, b
    a.stop()
    b.stop()


def test_another_origins_damaged_entries_are_fetched_again(
    pair: tuple[Member, Member], tmp_path: Path
) -> None:
    a, b = pair
    _flip(b.home, A, 2)
    _edit(b.home, "UPDATE signals SET value = ? WHERE origin = ? AND idx = 4", b"\x44" * 16, A)
    _edit(b.home, "UPDATE entries SET leaf = ? WHERE origin = ? AND idx = 5", b"\x55" * 32, A)
    original = _flip(b.home, A, 1)
    _flip(a.home, A, 1)  # the peer's own copy of entry 1 is damaged as well

    damaged = hashfed_process(b.home, "check", "--json")
    assert damaged.returncode == 5
    findings = json.loads(damaged.stdout)["damage"]
    # B holds A's checkpoint 6 only, and bodies and a leaf disagree at once: which of each
    # pair changed is unknown ("entry"), and the root of 6 is not reached.
    assert {(d["kind"], d["index"], d["checkpoint_size"]) for d in findings} == {
        ("entry", 1, None),
        ("entry", 2, None),
        ("signals", 4, None),
        ("entry", 5, None),
        ("root", None, 6),
    }
    entry_findings = [d for d in findings if d["index"] is not None]
    assert all("check --repair --peer NAME" in d["repair"] for d in entry_findings)

    result = hashfed_process(b.home, "check", "--repair", "--peer", A, "--json")
    assert result.returncode == 5, result.stderr  # entry 1 could not be repaired from A
    doc = json.loads(result.stdout)
    assert sorted(r["index"] for r in doc["repair"]["repaired"]) == [2, 4, 5]
    (failed,) = doc["repair"]["failed"]
    # A refuses to serve its own damaged entry 1 rather than send it with a proof.
    assert failed["index"] == 1 and "refusing to serve node-a.example entry 1" in failed["reason"]
    assert [(d["kind"], d["index"]) for d in doc["damage"]] == [("body", 1)]
    assert _body(b.home, A, 1) != original  # nothing of A's damaged copy was taken

    _edit(a.home, "UPDATE entries SET body = ? WHERE origin = ? AND idx = 1", original, A)
    again = hashfed_process(b.home, "check", "--repair", "--peer", A)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"repaired {A} entry 1 from {A}" in again.stdout
    status = json.loads(hashfed_process(b.home, "status", "--json").stdout)
    assert status["store"]["ok"] is True

    # The repaired signal rows are what B matches again (its index is rebuilt from them).
    b.start()
    (result_4,) = b.matcher.match_signals([parse_signal(_md5(4))])
    assert [(m.origin, m.entry_index) for m in result_4.matches] == [(A, 4)]
    key = a.do(lambda node: str(node.verifier))
    for idx in (1, 2, 4, 5):
        assert verify_bundle(b.reader.bundle(A, idx).to_json(), key, tmp_path).returncode == 0


def test_the_nodes_own_damaged_entry_is_fetched_from_a_peer(
    pair: tuple[Member, Member], tmp_path: Path
) -> None:
    a, b = pair
    a.stop()
    b.start()
    _flip(a.home, A, 3)
    damaged = hashfed_process(a.home, "check")
    assert damaged.returncode == 5 and "hashfed recover --peer NAME" in damaged.stdout
    result = hashfed_process(a.home, "check", "--repair", "--peer", B)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"repaired {A} entry 3 from {B}" in result.stdout
    key = b.do(lambda node: node.store.members.origin(A).verifier_key)
    assert verify_bundle(a.reader.bundle(A, 3).to_json(), key, tmp_path).returncode == 0


def _heads_flip(home: Path, origin: str) -> None:
    conn = sqlite3.connect(home / "hashfed.db", timeout=30)
    with conn:
        (frontier,) = conn.execute(
            "SELECT frontier FROM verified_heads WHERE origin = ?", [origin]
        ).fetchone()
        conn.execute(
            "UPDATE verified_heads SET frontier = ? WHERE origin = ?",
            [bytes([frontier[0] ^ 1]) + frontier[1:], origin],
        )
    conn.close()


def test_a_damaged_verified_head_is_dropped_and_the_next_sync_restores_it(
    net: tuple[Member, Member, Member],  # noqa: F811
) -> None:
    a, c, m = net
    peer(c, a)
    _publish(a, 5)
    a.start()
    c.start()
    assert c.sync_one(A).ok  # C holds A's checkpoint 5
    a.publisher.retract(2)  # entry 5: marks C's rows of entry 2, below the checkpoint
    a.publisher.opinion(A, 1, Verdict.TRUE_POSITIVE, agrees_with_labels=True)  # entry 6
    _publish(a, 2_000, start=5)  # entries 7..2006
    assert a.served is not None
    fake = _relay(ShortPeer, a, c, m)
    a.served.run(fake.start(m.address))
    try:
        c.sync_one(M)  # all but the last batch: [5, 2005) held in a head beyond checkpoint 5
    finally:
        a.served.run(fake.stop())
    assert c.query("SELECT size FROM verified_heads WHERE origin=?", A) == [(2_005,)]
    # C's own md5 rows come after A's head rows: dropping those must renumber C's.
    c.publisher.import_hash_list(
        [f"md5 {0xC0DE0000 + i:032x}" for i in range(3)], Labels(entity="own")
    )
    own_values = c.query("SELECT value FROM signals WHERE origin = ? ORDER BY idx", C)
    assert c.query("SELECT retracted FROM signals WHERE origin=? AND idx=2", A) == [(1,)]
    c.stop()
    _heads_flip(c.home, A)
    damaged = hashfed_process(c.home, "check", "--json")
    assert damaged.returncode == 5
    (finding,) = json.loads(damaged.stdout)["damage"]
    assert finding["kind"] == "head" and "check --repair --peer NAME" in finding["repair"]

    result = hashfed_process(c.home, "check", "--repair", "--peer", A, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["repair"]["dropped_heads"] == [{"origin": A, "kept": 5, "entries": 2_000}]
    assert doc["damage"] == [] and doc["repair"]["failed"] == []
    assert c.query("SELECT COUNT(*), MAX(idx) FROM entries WHERE origin=?", A) == [(5, 4)]
    assert c.query("SELECT COUNT(*) FROM verified_heads") == [(0,)]
    assert c.count("opinions", A) == 0 and c.count("retractions", A) == 0
    # The retraction that marked entry 2 is gone with the head: entry 2 is live until refetched.
    assert c.query("SELECT retracted FROM signals WHERE origin=? AND idx=2", A) == [(0,)]
    (rows, top) = c.query("SELECT COUNT(*), MAX(row) FROM signals WHERE type='md5'")[0]
    assert rows == top + 1 == 5 + 3  # dense again: A's 5 and C's own 3
    assert c.query("SELECT value FROM signals WHERE origin = ? ORDER BY idx", C) == own_values
    assert not (c.home / FOLDER_NAME / MANIFEST).exists()
    text = hashfed_process(c.home, "check", "--repair", "--peer", A)
    assert text.returncode == 0 and "no damage found" in text.stdout, text.stdout

    c.start()
    assert c.sync_one(A).ok  # A itself offers its checkpoint of 2,007
    assert c.query("SELECT COUNT(*) FROM entries WHERE origin=?", A) == [(2_007,)]
    assert c.query("SELECT retracted FROM signals WHERE origin=? AND idx=2", A) == [(1,)]
    assert c.count("opinions", A) == 1
    assert hashfed_process(c.home, "check").returncode == 0
    found = c.matcher.match_signals(
        [parse_signal(f"md5:{0xBEEF0000 + 1_500:032x}"), parse_signal(f"md5:{0xC0DE0001:032x}")]
    )
    assert [[(x.origin, x.entry_index) for x in r.matches] for r in found] == [
        [(A, 1_502)],
        [(C, 1)],
    ]
