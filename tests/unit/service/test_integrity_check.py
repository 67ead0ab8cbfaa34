"""integrity_check on real nodes: each kind of damage, made with sqlite3 in the node's own
database file, is found at the right entry or checkpoint, and nothing is found in a clean log."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.core import Node
from node.errors import DamageError
from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels, Verdict
from node.service import integrity_check, origin_check
from node.service.integrity_check import check_store, run_check
from node.service.integrity_report import CheckReport, Scope

OWN = "acme.example"
OTHER = "globex.example"


def _md5(i: int) -> ComputedSignal:
    return ComputedSignal(parse_signal(f"md5:{i:032x}"), None)


def _publish(node: Node, count: int, per_checkpoint: int = 1, start: int = 0) -> None:
    for first in range(start, start + count, per_checkpoint):
        lines = [f"md5 {i:032x}" for i in range(first, min(first + per_checkpoint, start + count))]
        node.publisher.import_hash_list(lines, Labels(entity="E", tags=("t",)))


def _sql(home: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(home / "hashfed.db")
    with conn:
        changed = conn.execute(sql, args).rowcount
    conn.close()
    assert changed == 1, (sql, args, changed)


def _body(home: Path, origin: str, idx: int) -> bytes:
    conn = sqlite3.connect(home / "hashfed.db")
    (body,) = conn.execute(
        "SELECT body FROM entries WHERE origin = ? AND idx = ?", [origin, idx]
    ).fetchone()
    conn.close()
    return bytes(body)


def _flip(home: Path, origin: str, idx: int, position: int = -3) -> None:
    body = bytearray(_body(home, origin, idx))
    body[position] ^= 0x01
    _sql(home, "UPDATE entries SET body = ? WHERE origin = ? AND idx = ?", bytes(body), origin, idx)


def _check(home: Path, scope: Scope | None = None) -> CheckReport:
    with Node.open(home) as node:
        return check_store(node.store, node.origin, scope)


def _found(report: CheckReport) -> list[tuple[str, str, int | None, int | None]]:
    return sorted((d.origin, d.kind, d.index, d.checkpoint_size) for d in report.damage)


@pytest.fixture
def logged(home: Path) -> Path:
    """30 entries of acme.example under checkpoints 1..10 then 15, 20, 25, 30; a RETRACT and an
    OPINION among them."""
    with Node.open(home) as node:
        _publish(node, 10)
        _publish(node, 18, per_checkpoint=5, start=10)
        node.publisher.retract(3, "mistake")  # entry 28
        node.publisher.opinion(OWN, 4, Verdict.TRUE_POSITIVE, agrees_with_labels=True)  # entry 29
    return home


def test_a_clean_log_has_no_damage(logged: Path) -> None:
    report = _check(logged)
    assert report.clean, [d.line() for d in report.damage]
    (own,) = report.origins
    assert (own.size, own.entries, own.bodies) == (30, 30, 30)
    assert own.checkpoints == own.notes_verified == 16  # sizes 1..10, 15, 20, 25, 28, 29, 30


def test_a_flipped_byte_in_a_body_names_that_entry(logged: Path) -> None:
    _flip(logged, OWN, 12)
    report = _check(logged)
    assert _found(report) == [(OWN, "body", 12, None)]
    (damage,) = report.damage
    assert "hashfed recover --peer NAME" in damage.repair
    assert "entry 12" in damage.line()


def test_a_changed_leaf_column_is_told_apart_from_a_changed_body(logged: Path) -> None:
    _sql(logged, "UPDATE entries SET leaf = ? WHERE origin = ? AND idx = 7", b"\x07" * 32, OWN)
    assert _found(_check(logged)) == [(OWN, "leaf", 7, None)]


def test_a_body_replaced_together_with_its_leaf_breaks_the_signed_root(logged: Path) -> None:
    # Entry 11 becomes entry 16's exact bytes and leaf: every hash is self-consistent, only
    # the signed roots of checkpoints 15 and later can tell.
    conn = sqlite3.connect(logged / "hashfed.db")
    body, leaf = conn.execute("SELECT body, leaf FROM entries WHERE idx = 16").fetchone()
    conn.close()
    _sql(logged, "UPDATE entries SET body = ?, leaf = ? WHERE idx = 11", body, leaf)
    found = _found(_check(logged))
    assert (OWN, "root", None, 15) in found
    assert (OWN, "signals", 11, None) in found  # its rows still carry entry 11's hash
    roots = [d for d in _check(logged).damage if d.kind == "root"]
    assert "at or after 10" in roots[0].detail


def test_a_note_that_no_longer_verifies(logged: Path) -> None:
    conn = sqlite3.connect(logged / "hashfed.db")
    (note,) = conn.execute("SELECT note FROM checkpoints WHERE size = 20").fetchone()
    conn.close()
    forged = note.replace("\n20\n", "\n21\n")
    assert forged != note
    _sql(logged, "UPDATE checkpoints SET note = ? WHERE origin = ? AND size = 20", forged, OWN)
    assert _found(_check(logged)) == [(OWN, "checkpoint", None, 20)]


def test_a_stored_root_column_that_differs_from_its_note(logged: Path) -> None:
    _sql(logged, "UPDATE checkpoints SET root = ? WHERE size = 9", b"\x09" * 32)
    (damage,) = _check(logged).damage
    assert (damage.kind, damage.checkpoint_size) == ("checkpoint", 9)
    assert "differ from its signed note" in damage.detail


def test_a_damaged_frontier(logged: Path) -> None:
    conn = sqlite3.connect(logged / "hashfed.db")
    (frontier,) = conn.execute("SELECT frontier FROM checkpoints WHERE size = 30").fetchone()
    conn.close()
    damaged = bytes([frontier[0] ^ 0x80]) + frontier[1:]
    _sql(logged, "UPDATE checkpoints SET frontier = ? WHERE size = 30", damaged)
    assert _found(_check(logged)) == [(OWN, "frontier", None, 30)]


def test_signal_rows_that_differ_from_the_body(logged: Path) -> None:
    _sql(logged, "UPDATE signals SET value = ? WHERE origin = ? AND idx = 5", b"\x55" * 16, OWN)
    _sql(logged, "UPDATE signals SET retracted = 0 WHERE origin = ? AND idx = 3", OWN)
    _sql(logged, "UPDATE signals SET retracted = 1 WHERE origin = ? AND idx = 6", OWN)
    _sql(logged, "UPDATE entries SET kind = 'RETRACT' WHERE origin = ? AND idx = 8", OWN)
    assert _found(_check(logged)) == [
        (OWN, "signals", 3, None),
        (OWN, "signals", 5, None),
        (OWN, "signals", 6, None),
        (OWN, "signals", 8, None),
    ]


def test_a_missing_entry(logged: Path) -> None:
    _sql(logged, "DELETE FROM entries WHERE origin = ? AND idx = 17", OWN)
    found = _found(_check(logged))
    assert found[0] == (OWN, "missing", 17, None)


def test_chunks_split_at_every_checkpoint(logged: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(origin_check, "ENTRY_CHUNK", 7)
    monkeypatch.setattr(origin_check, "CHECKPOINT_CHUNK", 3)
    report = _check(logged)
    assert report.clean
    assert report.origins[0].checkpoints == 16
    _flip(logged, OWN, 13)
    _flip(logged, OWN, 21)
    assert _found(_check(logged)) == [(OWN, "body", 13, None), (OWN, "body", 21, None)]


def test_startup_scope_rehashes_only_the_newest_bodies_but_every_root(logged: Path) -> None:
    _flip(logged, OWN, 2)  # an old body: outside the start-up window
    _flip(logged, OWN, 27)  # a new one: inside
    _sql(logged, "UPDATE entries SET leaf = ? WHERE idx = 9", b"\x09" * 32)  # breaks root 10
    report = _check(logged, Scope(bodies=5, all_signatures=False))
    assert _found(report) == [(OWN, "body", 27, None), (OWN, "root", None, 10)]
    (own,) = report.origins
    assert (own.entries, own.bodies, own.notes_verified) == (30, 5, 1)
    assert _found(_check(logged)) == [
        (OWN, "body", 2, None),
        (OWN, "body", 27, None),
        (OWN, "leaf", 9, None),
    ]


def test_a_deadline_stops_the_check_and_says_so(logged: Path) -> None:
    report = _check(logged, Scope(deadline=time.monotonic() - 1))
    assert report.stopped is not None and "time limit" in report.stopped
    assert not report.origins[0].complete


@pytest.fixture
def two_origins(tmp_path: Path, logged: Path) -> Iterator[Path]:
    """acme.example also holds 6 entries of globex.example, imported as a sync would."""
    other = tmp_path / "globex"
    with Node.init(other, OTHER) as globex, Node.open(logged) as acme:
        _publish(globex, 6, per_checkpoint=3)
        acme.members.add(json.dumps(globex.identity_card()))
        latest = globex.reader.checkpoint()
        bodies = [line.body for line in globex.reader.log()]
        acme.importer.import_verified(
            OTHER, SignedCheckpoint.open(latest.note, globex.verifier), bodies
        )
    yield logged


def test_another_origins_damage_is_repaired_from_its_peers(two_origins: Path) -> None:
    _flip(two_origins, OTHER, 4)
    report = _check(two_origins)
    assert [o.origin for o in report.origins] == [OWN, OTHER]  # own log first
    (damage,) = report.damage
    assert (damage.origin, damage.kind, damage.index) == (OTHER, "body", 4)
    assert "recover" not in damage.repair and "from a peer" in damage.repair


def test_findings_persist_until_a_clean_full_check(logged: Path) -> None:
    _flip(logged, OWN, 12)
    with Node.open(logged) as node:
        assert node.status().store["ok"] is True  # type: ignore[index]
        report = run_check(node.store, node.paths.root, node.origin)
        assert not report.clean
        store = node.status().store
        assert store["ok"] is False  # type: ignore[index]
        assert any("entry 12" in r for r in store["reasons"])  # type: ignore[index]
    good = bytearray(_body(logged, OWN, 12))
    good[-3] ^= 0x01
    _sql(logged, "UPDATE entries SET body = ? WHERE origin = ? AND idx = 12", bytes(good), OWN)
    with Node.open(logged) as node:
        run_check(node.store, node.paths.root, node.origin, OTHER if False else OWN)
        assert node.status().store["ok"] is True  # type: ignore[index]


def test_a_bundle_of_a_damaged_entry_is_refused_and_recorded(logged: Path) -> None:
    with Node.open(logged) as node:
        node.reader.bundle(OWN, 12)  # fine before
    _flip(logged, OWN, 12)
    with Node.open(logged) as node:
        with pytest.raises(DamageError, match=r"acme\.example entry 12") as caught:
            node.reader.bundle(OWN, 12)
        assert "hashfed recover --peer NAME" in str(caught.value)
        node.reader.bundle(OWN, 11)  # its neighbours are still served
        store = node.status().store
        assert store["ok"] is False  # type: ignore[index]
        assert [(d["kind"], d["index"]) for d in store["damage"]] == [("entry", 12)]  # type: ignore[index]


def test_a_damaged_leaf_is_refused_in_a_bundle_too(logged: Path) -> None:
    # The body is intact but the stored leaf column changed: the proof is computed from the
    # leaves, so the bundle would not verify.
    _sql(logged, "UPDATE entries SET leaf = ? WHERE idx = 7", b"\x07" * 32)
    with Node.open(logged) as node, pytest.raises(DamageError, match="entry 7"):
        node.reader.bundle(OWN, 7)
    with Node.open(logged) as node, pytest.raises(DamageError, match="does not verify"):
        node.reader.bundle(OWN, 6)  # its proof includes the damaged leaf 7


def test_a_damaged_matched_entry_is_recorded_and_refused_when_unreadable(logged: Path) -> None:
    query = [parse_signal(f"md5:{12:032x}")]
    _flip(logged, OWN, 12, position=-1)  # its last tag letter: still parses
    with Node.open(logged) as node:
        (result,) = node.matcher.match_signals(query)
        assert [m.entry_index for m in result.matches] == [12]
        store = node.status().store
        assert store["ok"] is False  # type: ignore[index]
        assert [(d["kind"], d["index"]) for d in store["damage"]] == [("entry", 12)]  # type: ignore[index]
    _sql(logged, "UPDATE entries SET body = ? WHERE idx = 13", b"\xff\xff\xff")
    with Node.open(logged) as node, pytest.raises(DamageError, match="entry 13"):
        node.matcher.match_signals([parse_signal(f"md5:{13:032x}")])


def test_a_repair_accepts_only_an_entry_proven_by_the_origins_signed_root(logged: Path) -> None:
    from node.errors import VerificationError
    from node.service.repair import _proven

    with Node.open(logged) as node:
        body, path, note = node.reader.inclusion(OWN, 12, 30)
        assert _proven(node, OWN, 12, body, path, note) == body
        altered = body[:-1] + bytes([body[-1] ^ 0x01])
        with pytest.raises(VerificationError, match="the peer's copy does not verify"):
            _proven(node, OWN, 12, altered, path, note)
        with pytest.raises(VerificationError, match="does not verify"):
            _proven(node, OWN, 11, body, path, note)  # right bytes, claimed at another index


def test_the_start_up_check_settings_are_validated(tmp_path: Path) -> None:
    from node.errors import InvalidInputError
    from node.home import Config

    source = tmp_path / "config.toml"
    base = 'version = 1\norigin = "acme.example"\n'
    config = Config.from_toml(base, source)
    assert (config.startup_check_entries, config.startup_check_seconds) == (10_000, 5.0)
    again = Config.from_toml(config.to_toml(), source)
    assert (again.startup_check_entries, again.startup_check_seconds) == (10_000, 5.0)
    off = Config.from_toml(base + "startup_check_entries = 0\nstartup_check_seconds = 2\n", source)
    assert (off.startup_check_entries, off.startup_check_seconds) == (0, 2.0)
    for bad in (
        "startup_check_entries = -1",
        "startup_check_entries = true",
        'startup_check_entries = "many"',
        "startup_check_seconds = 0",
        "startup_check_seconds = -3.5",
    ):
        with pytest.raises(InvalidInputError, match="startup_check_"):
            Config.from_toml(base + bad + "\n", source)


def test_a_disabled_start_up_check_reads_nothing(logged: Path) -> None:
    _flip(logged, OWN, 29)
    with Node.open(logged) as node:
        assert integrity_check.startup_check(node.store, node.paths.root, OWN, 0, 5.0) is None
        found = integrity_check.startup_check(node.store, node.paths.root, OWN, 3, 5.0)
        assert found is not None and _found(found) == [(OWN, "body", 29, None)]
        assert node.status().store["ok"] is False  # type: ignore[index]
