"""Members and peers: cards in, keys and pinned certificates out; every refusal by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.errors import InvalidInputError, NotFoundError


def _card(tmp_path: Path, origin: str, **init: bool) -> str:
    with Node.init(tmp_path / origin, origin, peer_address="127.0.0.1:9", **init) as other:
        return json.dumps(other.identity_card())


def test_a_peer_is_a_trusted_member_whose_certificate_is_pinned(home: Path, tmp_path: Path) -> None:
    card = _card(tmp_path, "b.example")
    with Node.open(home) as node:
        node.members.add_peer(card)
        assert [p.name for p in node.members.peers()] == ["b.example"]
        assert list(node.members.trusted_keys()) == ["b.example"]
        assert node.members.origin_key("b.example") == node.members.trusted_keys()["b.example"]
        assert node.members.origin_key("acme.example") == node.verifier
        fingerprint = json.loads(card)["tls_fingerprint_sha256"]
        assert node.members.caller_for_fingerprint(fingerprint.upper()) == (
            "b.example",
            "member",
        )
        assert node.members.pinned_certificates() == [json.loads(card)["tls_certificate"].encode()]
        node.members.remove("b.example")
        assert node.members.peers() == [] and node.members.trusted_keys() == {}
        assert [m.trusted for m in node.members.known()] == [False]
        with pytest.raises(NotFoundError, match="not a trusted member"):
            node.members.origin_key("b.example")


def test_refusals(home: Path, tmp_path: Path) -> None:
    auditor = _card(tmp_path, "audit.example", auditor=True)
    with Node.open(home) as node:
        with pytest.raises(InvalidInputError, match="own card"):
            node.members.add(json.dumps(node.identity_card()))
        with pytest.raises(InvalidInputError, match="cannot be peers"):
            node.members.add_peer(auditor)
        node.members.add(auditor)
        assert [a.name for a in node.members.auditors()] == ["audit.example"]
        with pytest.raises(NotFoundError, match="not a peer"):
            node.members.remove_peer("nobody.example")
        with pytest.raises(NotFoundError, match="not a member"):
            node.members.reset("nobody.example")
        assert [e.action for e in node.audit.operator_log()] == ["auditor added"]
