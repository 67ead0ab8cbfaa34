"""``Node.status()`` is typed; its JSON keeps the keys and values ``hashfed status`` printed."""

from __future__ import annotations

import json
from pathlib import Path

from node.core import Node
from node.home import Role
from node.log.entry import Labels
from node.results import to_json
from node.service.status import UNTRIED, NodeStatus, OriginStatus


def test_status_is_typed_and_its_json_keeps_every_key(home: Path, tmp_path: Path) -> None:
    with Node.init(tmp_path / "b", "b.example", peer_address="127.0.0.1:9") as b:
        card = json.dumps(b.identity_card())
    with Node.open(home) as node:
        node.publisher.import_hash_list(["md5 " + "11" * 16], Labels(entity="E"))
        node.members.add_peer(card)
        status = node.status()
    assert isinstance(status, NodeStatus)
    assert status.role is Role.MEMBER
    (own, other) = status.origins
    assert own == OriginStatus(
        origin="acme.example",
        is_self=True,
        size=1,
        held=1,
        checkpoint_age_s=own.checkpoint_age_s,
        halted=False,
        witnessed_size=None,
        newest_cosigned_size=None,
        newest_cosigners=(),
    )
    assert (other.origin, other.is_self, other.size) == ("b.example", False, 0)
    (peer,) = status.peers
    assert (peer.name, peer.state, peer.received, peer.rejected_reasons) == (
        "b.example",
        UNTRIED,
        0,
        {},
    )
    assert status.own_log is not None and status.own_log.ok
    doc = to_json(status)
    assert list(doc) == [
        "origin",
        "peers",
        "origins",
        "evidence",
        "role",
        "witness_policy",
        "auditors",
        "store",
        "own_log",
    ]
    assert doc["role"] == "member"
    assert doc["witness_policy"] == {"min": 2, "witnesses": "any trusted member"}
    assert list(doc["origins"][0]) == [
        "origin",
        "self",
        "size",
        "held",
        "checkpoint_age_s",
        "halted",
        "witnessed_size",
        "newest_cosigned_size",
        "newest_cosigners",
    ]
    assert doc["origins"][0]["self"] is True and doc["origins"][1]["newest_cosigners"] == []
    assert list(doc["peers"][0]) == [
        "name",
        "address",
        "last_success_ms",
        "last_error",
        "last_error_ms",
        "received",
        "rejected",
        "rejected_reasons",
        "state",
        "reason",
        "consecutive_failures",
        "next_attempt_ms",
        "last_round_ms",
        "last_round_s",
    ]
    assert doc["own_log"] == {"ok": True, "store_size": 1, "signed_size": 1, "problem": None}
    assert json.loads(json.dumps(doc)) == doc


def test_an_auditor_has_no_own_origin_nor_own_log(tmp_path: Path) -> None:
    with Node.init(tmp_path / "aud", "audit.example", auditor=True) as auditor:
        status = auditor.status()
    assert status.role is Role.AUDITOR
    assert status.origins == () and status.own_log is None
    assert to_json(status)["own_log"] is None
