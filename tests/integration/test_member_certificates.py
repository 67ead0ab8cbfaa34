"""One TLS certificate on two cards is refused: the peer server names callers by certificate.

Issue 9, finding 7: `member add` accepted a card whose certificate another accepted card
already pinned, so calls from one could be taken for the other's. Real homes, the real CLI.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from node.core import Node
from node.store.rows import MemberRow
from node.testing.background import BackgroundNode
from tests.support.cli import hashfed, hashfed_json

A, C, EVIL = "node-a.example", "node-c.example", "evil.example"


def _init(where: Path, origin: str, *, auditor: bool = False) -> Path:
    Node.init(where, origin, peer_address="127.0.0.1:7001", auditor=auditor).close()
    return where


def _card(home: Path) -> dict[str, Any]:
    card: dict[str, Any] = hashfed_json(home, "identity")
    return card


def _write(card: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(card))
    return path


def _with_certificate_of(card: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """``card`` (its own name and keys) carrying ``other``'s TLS certificate: a valid card."""
    return {
        **card,
        "tls_certificate": other["tls_certificate"],
        "tls_fingerprint_sha256": other["tls_fingerprint_sha256"],
    }


@pytest.fixture
def homes(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": _init(tmp_path / "a", A),
        "c": _init(tmp_path / "c", C),
        "evil": _init(tmp_path / "evil", EVIL),
        "auditor": _init(tmp_path / "auditor", "audit.example", auditor=True),
    }


def test_member_card_with_a_certificate_another_member_pins_is_refused(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    a_card = _card(homes["a"])
    assert (
        hashfed(homes["c"], "member", "add", str(_write(a_card, tmp_path / "a.json"))).exit_code
        == 0
    )
    forged = _with_certificate_of(_card(homes["evil"]), a_card)
    before = hashfed_json(homes["c"], "member", "list")
    result = hashfed(homes["c"], "member", "add", str(_write(forged, tmp_path / "evil.json")))
    assert result.exit_code == 4, result.output
    assert a_card["tls_fingerprint_sha256"] in result.output
    assert f"member card of {A} already pins" in result.output
    assert hashfed_json(homes["c"], "member", "list") == before  # nothing changed
    # peer add goes through the same check
    result = hashfed(homes["c"], "peer", "add", str(tmp_path / "evil.json"))
    assert result.exit_code == 4, result.output
    assert hashfed_json(homes["c"], "peer", "list") == []


def test_auditor_and_member_cards_cannot_share_a_certificate_either_way(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    auditor = _card(homes["auditor"])
    hashfed_json(homes["c"], "member", "add", str(_write(auditor, tmp_path / "auditor.json")))
    member = _with_certificate_of(_card(homes["evil"]), auditor)
    result = hashfed(homes["c"], "member", "add", str(_write(member, tmp_path / "m.json")))
    assert result.exit_code == 4, result.output
    assert "auditor card of audit.example already pins" in result.output

    a_card = _card(homes["a"])
    hashfed_json(homes["c"], "member", "add", str(_write(a_card, tmp_path / "a.json")))
    other_auditor = _init(tmp_path / "auditor2", "audit2.example", auditor=True)
    forged = _with_certificate_of(_card(other_auditor), a_card)
    result = hashfed(homes["c"], "member", "add", str(_write(forged, tmp_path / "aud2.json")))
    assert result.exit_code == 4, result.output
    assert f"member card of {A} already pins" in result.output
    with Node.open(homes["c"]) as node:
        assert [a.name for a in node.members.auditors()] == ["audit.example"]
        assert [m.origin for m in node.members.known()] == [A]


def test_a_card_carrying_this_nodes_own_certificate_is_refused(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    forged = _with_certificate_of(_card(homes["evil"]), _card(homes["c"]))
    result = hashfed(homes["c"], "member", "add", str(_write(forged, tmp_path / "evil.json")))
    assert result.exit_code == 4, result.output
    assert "this node's own TLS certificate" in result.output


def test_the_same_member_may_replace_its_own_card(homes: dict[str, Path], tmp_path: Path) -> None:
    a_card = _card(homes["a"])
    path = _write(a_card, tmp_path / "a.json")
    hashfed_json(homes["c"], "member", "add", str(path))
    assert hashfed(homes["c"], "member", "add", str(path)).exit_code == 0  # re-adding is fine
    # after `tls renew`, A's new card replaces its old certificate
    hashfed_json(homes["a"], "tls", "renew")
    renewed = _card(homes["a"])
    assert renewed["tls_fingerprint_sha256"] != a_card["tls_fingerprint_sha256"]
    hashfed_json(homes["c"], "member", "add", str(_write(renewed, tmp_path / "a2.json")))
    with Node.open(homes["c"]) as node:
        assert node.members.caller_for_fingerprint(renewed["tls_fingerprint_sha256"]) == (
            A,
            "member",
        )
        assert node.members.caller_for_fingerprint(a_card["tls_fingerprint_sha256"]) is None


def test_serve_warns_about_cards_that_already_share_a_certificate(
    homes: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # A database from before the refusal: two accepted cards pin one certificate.
    a_card = _card(homes["a"])
    with Node.open(homes["c"]) as node:
        node.members.add(json.dumps(a_card))
        with node.store.transaction():
            node.store.members.put_member(
                MemberRow(
                    EVIL,
                    _card(homes["evil"])["verifier_key"],
                    a_card["tls_certificate"],
                    a_card["tls_fingerprint_sha256"],
                    "127.0.0.1:7009",
                    trusted=True,
                )
            )
    with caplog.at_level(logging.WARNING, logger="hashfed.server"), BackgroundNode(homes["c"]):
        pass
    warnings = [r.getMessage() for r in caplog.records if "pinned by 2 cards" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert a_card["tls_fingerprint_sha256"] in warnings[0]
    assert f"member {A}" in warnings[0] and f"member {EVIL}" in warnings[0]
