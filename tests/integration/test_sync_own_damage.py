"""A sync that meets damage in our own store blames nobody; a peer without batch proofs is
outdated, not lying.

Real nodes over real mutual TLS (:mod:`tests.support.fednet`); the damage is written into
the victim's SQLite file while it is stopped, as a flipped bit on disk would be.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from node.core import Node
from node.log.entry import Labels
from node.results import to_json
from node.service.integrity_findings import known_damage
from node.service.integrity_report import OwnDamageError
from node.sync.engine import FAILED, PEER_OUTDATED
from tests.integration.test_sync_bounds import A, M, _origin, _publish, _relay, net  # noqa: F401
from tests.support.cli import hashfed
from tests.support.fakes import ProoflessPeer, ShortPeer
from tests.support.fednet import Member, peer


def _pub(member: Member, first: int, count: int) -> None:
    for i in range(first, first + count):
        member.publisher.import_hash_list([f"md5 {i:032x}"], Labels(entity="x"))


def _flip(home: Path, sql_select: str, sql_update: str, *args: object) -> None:
    db = sqlite3.connect(home / "hashfed.db")
    (value,) = db.execute(sql_select, args).fetchone()
    db.execute(sql_update, (bytes([value[0] ^ 1]) + value[1:], *args))
    db.commit()
    db.close()


def _serving_triangle(folder: Path) -> tuple[Member, Member, Member]:
    """A, B and C serving: C and B peer with A, B with C."""
    a, b, c = (Member.create(folder, f"{n}.example") for n in "abc")
    peer(c, a)
    peer(b, a)
    peer(b, c)
    for member in (a, b, c):
        member.start()
    return a, b, c


def test_a_flipped_leaf_of_ours_never_makes_an_honest_smaller_checkpoint_evidence(
    tmp_path: Path,
) -> None:
    a, b, c = _serving_triangle(tmp_path)
    try:
        _pub(a, 0, 5)
        assert c.sync_one(a.origin).ok  # C holds A at 5
        _pub(a, 5, 15)
        assert b.sync_one(a.origin).ok  # B holds A at 20, checkpoint 20 only
        assert b.query("SELECT size FROM checkpoints WHERE origin=?", a.origin) == [(20,)]
        b.stop()
        _flip(
            b.home,
            "SELECT leaf FROM entries WHERE origin=? AND idx=2",
            "UPDATE entries SET leaf=? WHERE origin=? AND idx=2",
            a.origin,
        )
        b.start()
        report = b.sync_one(c.origin)  # C offers A's honest checkpoint of size 5
        result = _origin(report, a.origin)
        assert result.status == FAILED and result.own_damage, result
        assert "hashfed check" in (result.reason or ""), result.reason
        assert result.rejected == 0
        assert b.do(lambda n: n.audit.evidence()) == []
        assert b.do(lambda n: n.importer.halted_origins()) == set()
        findings = [d for d in known_damage(b.home) if d.checkpoint_size == 20]
        assert [d.origin for d in findings] == [a.origin], known_damage(b.home)
        store = b.status().store
        assert isinstance(store, dict) and not store["ok"]
        # Nor is the relaying peer blamed for our damage.
        (stats,) = [p for p in to_json(b.status())["peers"] if p["name"] == c.origin]
        assert stats["rejected"] == 0 and stats["last_error"] is None, stats
        # The same checkpoint relayed with cosignatures (the witnessing path) is no evidence
        # either.
        note = c.do(lambda n: n.reader.checkpoint(a.origin).note)
        absorbed = b.do(lambda n: n.importer.absorb_cosigned(a.origin, [note], c.origin))
        assert absorbed.evidence_ids == []
        assert b.do(lambda n: n.audit.evidence()) == []
    finally:
        a.stop()
        b.stop()
        c.stop()


def test_a_damaged_verified_head_is_found_by_check_and_blames_nobody(
    net: tuple[Member, Member, Member],  # noqa: F811
) -> None:
    a, c, m = net
    _publish(a, 2_001)
    peer(c, a)
    a.start()
    c.start()
    assert a.served is not None
    fake = _relay(ShortPeer, a, c, m)
    a.served.run(fake.start(m.address))
    try:
        c.sync_one(M)  # everything but the last batch: 2,000 entries held in a verified head
    finally:
        a.served.run(fake.stop())
    assert c.query("SELECT size FROM verified_heads WHERE origin=?", A) == [(2_000,)]
    c.stop()
    _flip(
        c.home,
        "SELECT frontier FROM verified_heads WHERE origin=?",
        "UPDATE verified_heads SET frontier=? WHERE origin=?",
        A,
    )
    checked = hashfed(c.home, "check")
    assert checked.exit_code == 5, checked.stdout
    assert "[head]" in checked.stdout and "frontier" in checked.stdout, checked.stdout
    c.start()
    result = _origin(c.sync_one(A))  # A itself offers its honest tree of 2,001
    assert result.status == FAILED and result.own_damage, result
    assert "evidence is recorded" not in (result.reason or "")
    assert result.rejected == 0
    assert c.do(lambda n: n.audit.evidence()) == []
    assert c.do(lambda n: n.importer.halted_origins()) == set()
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == A]
    assert stats["rejected"] == 0 and stats["last_error"] is None, stats


def test_a_head_whose_target_note_is_damaged_is_a_check_finding(
    net: tuple[Member, Member, Member],  # noqa: F811
) -> None:
    a, c, m = net
    _publish(a, 2_001)
    a.start()
    c.start()
    assert a.served is not None
    fake = _relay(ShortPeer, a, c, m)
    a.served.run(fake.start(m.address))
    try:
        c.sync_one(M)
    finally:
        a.served.run(fake.stop())
    c.stop()
    db = sqlite3.connect(c.home / "hashfed.db")
    (note,) = db.execute("SELECT target_note FROM verified_heads WHERE origin=?", (A,)).fetchone()
    db.execute(
        "UPDATE verified_heads SET target_note=? WHERE origin=?", (note.replace("2001", "2002"), A)
    )
    db.commit()
    db.close()
    checked = hashfed(c.home, "check", "--json")
    assert checked.exit_code == 5, checked.stdout
    damage = json.loads(checked.stdout)["damage"]
    assert [(d["kind"], d["origin"]) for d in damage] == [("head", A)], damage


def test_a_peer_without_batch_proofs_is_outdated_not_lying(
    net: tuple[Member, Member, Member],  # noqa: F811
) -> None:
    a, c, m = net
    _publish(a, 2_001)  # more than one batch: the first ends before the signed size
    a.start()
    c.start()
    assert a.served is not None
    fake = _relay(ProoflessPeer, a, c, m)
    a.served.run(fake.start(m.address))
    try:
        report = c.sync_one(M)
    finally:
        a.served.run(fake.stop())
    result = _origin(report)
    assert result.status == PEER_OUTDATED and not result.ok, result
    assert (result.reason or "").startswith(
        f"peer {M} sent no batch proof: it runs a hashfed without batch proofs (older than this "
        "protocol); upgrade it"
    ), result.reason
    assert result.rejected == 0
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == M]
    assert stats["rejected"] == 0 and stats["rejected_reasons"] == {}, stats
    assert c.count("entries", A) == 0


@pytest.mark.parametrize("size", [5, 20])
def test_a_changed_stored_root_never_makes_an_honest_checkpoint_evidence(
    tmp_path: Path, size: int
) -> None:
    a, b, c = _serving_triangle(tmp_path)
    try:
        _pub(a, 0, 5)
        assert b.sync_one(a.origin).ok  # B holds checkpoints 5 ...
        assert c.sync_one(a.origin).ok  # (C stays at 5, to offer it later)
        _pub(a, 5, 15)
        assert b.sync_one(a.origin).ok  # ... and 20
        b.stop()
        # The root column beside the note, which the comparison reads first.
        _flip(
            b.home,
            "SELECT root FROM checkpoints WHERE origin=? AND size=?",
            "UPDATE checkpoints SET root=? WHERE origin=? AND size=?",
            a.origin,
            size,
        )
        b.start()
        offering = a if size == 20 else c
        result = _origin(b.sync_one(offering.origin), a.origin)
        assert result.status == FAILED and result.own_damage, result
        assert b.do(lambda n: n.audit.evidence()) == []
        assert b.do(lambda n: n.importer.halted_origins()) == set()
        assert any(d.checkpoint_size == size for d in known_damage(b.home)), known_damage(b.home)
    finally:
        a.stop()
        b.stop()
        c.stop()


def test_evidence_that_does_not_prove_itself_is_never_kept(tmp_path: Path) -> None:
    a, b = (Member.create(tmp_path, f"{n}.example") for n in "ab")
    peer(b, a)
    a.start()
    b.start()
    try:
        _pub(a, 0, 5)
        assert b.sync_one(a.origin).ok
        _pub(a, 5, 3)
        assert b.sync_one(a.origin).ok
        notes = b.do(lambda n: [c.note for c in n.store.log.checkpoints(a.origin)])
        first, second = notes[0], notes[-1]
        detail = json.dumps({"prefix_root": "00" * 32, "consistency_proof": []})

        def record(n: Node) -> object:
            try:
                return n.importer.record_evidence(
                    a.origin, "inconsistent-smaller", second, first, detail
                )
            except OwnDamageError as exc:
                return exc

        assert isinstance(b.do(record), OwnDamageError)
        assert b.do(lambda n: n.audit.evidence()) == []
        assert b.do(lambda n: n.importer.halted_origins()) == set()
    finally:
        a.stop()
        b.stop()


def test_check_sees_a_damaged_head_beyond_a_checkpoint(
    net: tuple[Member, Member, Member],  # noqa: F811
) -> None:
    a, c, m = net
    peer(c, a)
    _publish(a, 5)
    a.start()
    c.start()
    assert c.sync_one(A).ok  # checkpoint 5
    _publish(a, 2_001, start=5)
    assert a.served is not None
    fake = _relay(ShortPeer, a, c, m)
    a.served.run(fake.start(m.address))
    try:
        c.sync_one(M)  # [5, 2005) held in a head beyond checkpoint 5
    finally:
        a.served.run(fake.stop())
    assert c.query("SELECT size FROM verified_heads WHERE origin=?", A) == [(2_005,)]
    c.stop()
    assert hashfed(c.home, "check").exit_code == 0  # an intact head is no finding
    _flip(
        c.home,
        "SELECT frontier FROM verified_heads WHERE origin=?",
        "UPDATE verified_heads SET frontier=? WHERE origin=?",
        A,
    )
    checked = hashfed(c.home, "check", "--json")
    assert checked.exit_code == 5, checked.stdout
    damage = json.loads(checked.stdout)["damage"]
    assert [(d["kind"], d["checkpoint_size"]) for d in damage] == [("head", 2_005)], damage
