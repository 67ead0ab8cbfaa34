"""Members and peers are separate decisions; verified import; trust changes follow into matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.errors import InvalidInputError, MalformedError, ProofError
from node.hashing import parse_signal
from node.log.checkpoint import SignedCheckpoint
from tests.support.cli import card_file as _card
from tests.support.cli import hashfed, hashfed_json
from tests.support.cli import publish_signals as _publish

MD5 = "md5:" + "5a" * 16


@pytest.fixture
def two_nodes(tmp_path: Path) -> tuple[Path, Path]:
    a, c = tmp_path / "a", tmp_path / "c"
    Node.init(a, "node-a.example", peer_address="127.0.0.1:7001").close()
    Node.init(c, "node-c.example", peer_address="127.0.0.1:7003").close()
    return a, c


def _copy_log(source: Path, target: Path, origin: str) -> None:
    with Node.open(source) as src, Node.open(target) as dst:
        latest = src.reader.checkpoint()
        signed = SignedCheckpoint.open(latest.note, src.verifier)
        have = dst.store.log.latest_checkpoint(origin)
        start = 0 if have is None else have.size
        dst.importer.import_verified(
            origin, signed, src.reader.entry_bodies(origin, start, latest.size)
        )


def test_member_and_peer_commands(two_nodes: tuple[Path, Path], tmp_path: Path) -> None:
    a, c = two_nodes
    card = _card(a, tmp_path)
    added = hashfed_json(c, "member", "add", str(card))
    assert added["origin"] == "node-a.example"
    listed = hashfed_json(c, "member", "list")
    assert [(m["origin"], m["trusted"], m["peer"]) for m in listed] == [
        ("node-a.example", True, False)
    ]
    assert hashfed_json(c, "peer", "list") == []
    hashfed_json(c, "peer", "add", str(card))
    assert hashfed_json(c, "peer", "list") == [
        {"name": "node-a.example", "address": "127.0.0.1:7001"}
    ]
    hashfed_json(c, "peer", "remove", "node-a.example")
    assert hashfed_json(c, "peer", "list") == []
    assert hashfed_json(c, "member", "list")[0]["trusted"] is True
    hashfed_json(c, "member", "remove", "node-a.example")
    assert hashfed_json(c, "member", "list")[0]["trusted"] is False
    assert hashfed(c, "member", "remove", "nobody.example").exit_code == 6
    assert hashfed(c, "peer", "remove", "nobody.example").exit_code == 6
    status = hashfed_json(c, "status")
    assert status["evidence"] == 0 and status["origins"][0]["origin"] == "node-c.example"


def test_bad_cards_are_refused(two_nodes: tuple[Path, Path], tmp_path: Path) -> None:
    a, c = two_nodes
    own = _card(c, tmp_path)
    refused = hashfed(c, "member", "add", str(own))
    assert refused.exit_code == 4 and "own card" in refused.stderr
    card = json.loads(_card(a, tmp_path).read_text())
    card["tls_fingerprint_sha256"] = "00" * 32
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(card))
    result = hashfed(c, "member", "add", str(forged))
    assert result.exit_code == 5 and "does not match its certificate" in result.stderr
    assert hashfed_json(c, "member", "list") == []


def test_verified_import_then_removal_and_readd(
    two_nodes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, c = two_nodes
    _publish(a, MD5, "md5:" + "6b" * 16)
    hashfed_json(c, "member", "add", str(_card(a, tmp_path)))
    _copy_log(a, c, "node-a.example")
    found = hashfed_json(c, "match", "--signal", MD5)[0]["matches"]
    assert [(m["origin"], m["entry_index"]) for m in found] == [("node-a.example", 0)]
    with Node.open(c) as watcher:  # another process's view, already built, must follow
        assert watcher.matcher.match_signals([parse_signal(MD5)])[0].matches
        hashfed_json(c, "member", "remove", "node-a.example")
        assert watcher.matcher.match_signals([parse_signal(MD5)])[0].matches == ()
        assert hashfed_json(c, "match", "--signal", MD5)[0]["matches"] == []
        # Log rows stay for audit.
        assert len(hashfed_json(c, "log", "--origin", "node-a.example")) == 2
        hashfed_json(c, "member", "add", str(_card(a, tmp_path)))
        assert watcher.matcher.match_signals([parse_signal(MD5)])[0].matches


def test_import_refuses_bytes_that_do_not_reproduce_the_signed_root(
    two_nodes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, c = two_nodes
    _publish(a, MD5, "md5:" + "7c" * 16, "md5:" + "8d" * 16)
    hashfed_json(c, "member", "add", str(_card(a, tmp_path)))
    with Node.open(a) as src, Node.open(c) as dst:
        signed = SignedCheckpoint.open(src.reader.checkpoint().note, src.verifier)
        bodies = src.reader.entry_bodies("node-a.example", 0, 3)
        tampered = [bodies[0], bodies[1][:-1] + bytes([bodies[1][-1] ^ 1]), bodies[2]]
        with pytest.raises((ProofError, MalformedError)):
            dst.importer.import_verified("node-a.example", signed, tampered)
        with pytest.raises(ProofError, match="cannot make the signed tree"):
            dst.importer.import_verified("node-a.example", signed, bodies[:2])
        others = [o.name for o in dst.store.members.origins() if o.name != "node-c.example"]
        assert [dst.store.integrity.entry_count(name)[0] for name in others] == [0] * len(others)
        assert dst.store.log.latest_checkpoint("node-a.example") is None
        assert dst.matcher.match_signals([parse_signal(MD5)])[0].matches == ()
        assert dst.importer.import_verified("node-a.example", signed, bodies) == 3
        assert dst.matcher.match_signals([parse_signal(MD5)])[0].matches


def test_a_node_whose_database_vanished_refuses_to_publish(two_nodes: tuple[Path, Path]) -> None:
    a, _ = two_nodes
    _publish(a, MD5)
    (a / "hashfed.db").rename(a / "elsewhere.db")
    result = hashfed(a, "add", "--signal", "md5:" + "9e" * 16)
    assert result.exit_code == 8 and "forking its signed history" in result.stderr
    assert not (a / "hashfed.db").exists()


def test_opinions_count_only_while_their_author_is_trusted(tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    for home, port in ((a, 7101), (b, 7102), (c, 7103)):
        Node.init(home, f"{home.name}.example", peer_address=f"127.0.0.1:{port}").close()
    _publish(a, MD5)
    hashfed_json(b, "member", "add", str(_card(a, tmp_path)))
    _copy_log(a, b, "a.example")
    hashfed_json(b, "opinion", "a.example", "0", "--true-positive")
    for source in (a, b):
        hashfed_json(c, "member", "add", str(_card(source, tmp_path)))
        _copy_log(source, c, f"{source.name}.example")
    (found,) = hashfed_json(c, "match", "--signal", MD5)[0]["matches"]
    assert found["opinions"]["true_positive"] == 1
    hashfed_json(c, "member", "remove", "b.example")
    (found,) = hashfed_json(c, "match", "--signal", MD5)[0]["matches"]
    assert found["opinions"]["true_positive"] == 0


def test_import_refuses_an_origin_removed_since_the_sync_began(
    two_nodes: tuple[Path, Path], tmp_path: Path
) -> None:
    a, c = two_nodes
    _publish(a, MD5)
    hashfed_json(c, "member", "add", str(_card(a, tmp_path)))
    with Node.open(a) as src, Node.open(c) as dst:
        signed = SignedCheckpoint.open(src.reader.checkpoint().note, src.verifier)
        bodies = src.reader.entry_bodies("node-a.example", 0, 1)
        dst.members.remove("node-a.example")  # e.g. the operator, while a sync was fetching
        with pytest.raises(InvalidInputError, match="not a trusted member"):
            dst.importer.import_verified("node-a.example", signed, bodies)
        assert dst.store.log.latest_checkpoint("node-a.example") is None
