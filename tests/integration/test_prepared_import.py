"""Rows prepared while entries arrive (PreparedBodies) store exactly what a plain import stores,
and are held to the same signed root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.errors import EquivocationError, MalformedError, ProofError
from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels, Verdict
from node.verified_import import PreparedBodies, import_verified

A = "node-a.example"
TABLES = (
    "SELECT idx, leaf, body, kind, create_ms FROM entries WHERE origin = ? ORDER BY idx",
    "SELECT type, row, value, quality, idx, retracted FROM signals WHERE origin = ? "
    "ORDER BY type, row",
    "SELECT target_idx, idx FROM retractions WHERE origin = ? ORDER BY target_idx",
    "SELECT idx, target_origin, target_idx, verdict, agrees FROM opinions WHERE origin = ?",
)


def _homes(tmp_path: Path, *names: str) -> list[Path]:
    homes = []
    for n, name in enumerate(names):
        home = tmp_path / name
        Node.init(home, f"{name}.example", peer_address=f"127.0.0.1:{7201 + n}").close()
        homes.append(home)
    return homes


def _source(home: Path) -> tuple[SignedCheckpoint, list[bytes]]:
    with Node.open(home) as node:
        for n in range(5):
            node.publish_signals(
                [ComputedSignal(parse_signal("md5:" + f"{n:02x}" * 16), None)], Labels(entity="E")
            )
        node.retract(1, "oops")
        node.opinion(A, 2, Verdict.DISPUTED, agrees_with_labels=True)
        signed = SignedCheckpoint.open(node.checkpoint().note, node.verifier)
        return signed, node.entry_bodies(A, 0, signed.checkpoint.size)


def _rows(home: Path) -> list[list[tuple[object, ...]]]:
    with Node.open(home) as node:
        return [node.store.db.execute(sql, [A]).fetchall() for sql in TABLES]


def _prepared(bodies: list[bytes], first: int = 0, batch: int = 2) -> PreparedBodies:
    out = PreparedBodies(A, first)
    for start in range(0, len(bodies), batch):
        out.add(bodies[start : start + batch])
    return out


def test_prepared_rows_equal_plain_rows(tmp_path: Path) -> None:
    a, plain, fast = _homes(tmp_path, "node-a", "plain", "fast")
    signed, bodies = _source(a)
    with Node.open(a) as src:
        card = json.dumps(src.identity_card())
    for home in (plain, fast):
        with Node.open(home) as node:
            node.add_member(card)
    with Node.open(a) as src:
        stored = src.store.checkpoint_at(A, 3)
        assert stored is not None
        first = SignedCheckpoint.open(stored.note, src.verifier)
    with Node.open(plain) as node:
        assert node.import_verified(A, first, bodies[:3]) == 3  # not only from size 0
        assert node.import_verified(A, signed, list(bodies[3:])) == len(bodies) - 3
    with Node.open(fast) as node:
        assert node.import_verified(A, first, _prepared(bodies[:3])) == 3
        prepared = _prepared(bodies[3:], first=3)
        assert prepared.ready(A, 3)
        assert node.import_verified(A, signed, prepared) == len(bodies) - 3
    assert _rows(plain) == _rows(fast)
    assert any(_rows(fast)[2]) and any(_rows(fast)[3])  # a retraction and an opinion


def test_prepared_bodies_are_held_to_the_signed_root(tmp_path: Path) -> None:
    a, c = _homes(tmp_path, "node-a", "c")
    signed, bodies = _source(a)
    with Node.open(a) as src, Node.open(c) as dst:
        dst.add_member(json.dumps(src.identity_card()))
        tampered = [*bodies]
        tampered[1] = tampered[1][:-1] + bytes([tampered[1][-1] ^ 1])
        with pytest.raises((ProofError, MalformedError)):
            dst.import_verified(A, signed, _prepared(tampered))
        with pytest.raises(ProofError):
            dst.import_verified(A, signed, _prepared(bodies[:-1]))
        # Rows prepared for other positions or another origin are not used as they are.
        wrong_first = _prepared(bodies, first=1)
        assert not wrong_first.ready(A, 0)
        assert dst.import_verified(A, signed, wrong_first) == len(bodies)
        assert dst.store.db.execute(
            "SELECT COUNT(*) FROM entries WHERE origin = ?", [A]
        ).fetchone()[0] == len(bodies)


def test_undecodable_entries_fall_back_to_the_full_decoder(tmp_path: Path) -> None:
    a, c = _homes(tmp_path, "node-a", "c")
    signed, bodies = _source(a)
    broken = _prepared([*bodies[:2], b"\xff\xff not an entry", *bodies[3:]])
    assert not broken.ready(A, 0) and len(broken) == len(bodies)
    with Node.open(a) as src, Node.open(c) as dst:
        dst.add_member(json.dumps(src.identity_card()))
        with pytest.raises((ProofError, MalformedError)):
            dst.import_verified(A, signed, broken)
        assert dst.latest(A) is None


def test_a_halted_origin_is_refused_under_the_write_lock(tmp_path: Path) -> None:
    """Evidence recorded by another process after a sync planned its import (a CLI sync beside
    `serve`) must still stop the import: the check runs inside the import's transaction."""
    origin_home, reader_home = tmp_path / "o", tmp_path / "r"
    with Node.init(origin_home, "halt-origin.example") as origin:
        origin.import_hash_list([f"pdq {'ab' * 32}"], Labels(entity="x"))
        card = json.dumps(origin.identity_card())
        signed = SignedCheckpoint.open(origin.checkpoint().note, origin.verifier)
        bodies = [row.body for row in origin.store.entries("halt-origin.example")]
    with Node.init(reader_home, "halt-reader.example") as reader:
        reader.add_member(card)
        # As another process records it (that process checked the evidence; record_evidence
        # here would refuse these placeholder notes, which prove nothing).
        with reader.store.transaction():
            reader.store.add_evidence(
                "halt-origin.example", "same-size-different-roots", "a", "b", "{}", None
            )
        with pytest.raises(EquivocationError, match="stopped"):
            import_verified(reader.store, "halt-origin.example", signed, bodies, None)
        assert reader.store.latest_checkpoint("halt-origin.example") is None
