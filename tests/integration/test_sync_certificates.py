"""Certificates: an unknown client is refused, and `peer test` / sync say which side refused.

Over real mutual TLS on 127.0.0.1. The peer server cannot see a certificate it refused, so the
words come from the connecting side's own probe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.errors import SyncError
from node.log.entry import Labels
from node.results import to_json
from node.tls import certificate_fingerprint
from tests.support.fednet import Member, members, peer, run_cli

B, C, X = "node-b.example", "node-c.example", "node-x.example"


def _fp(member: Member) -> str:
    return certificate_fingerprint((member.home / "keys" / "tls.crt").read_bytes())


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Member, Member, Member]]:
    """B and C serving; X is a third identity nobody trusts (never serving)."""
    with members(tmp_path, B, C, X) as (b, c, x):
        yield b, c, x


def test_both_sides_accept_each_other(pair: tuple[Member, Member, Member]) -> None:
    b, c, _ = pair
    peer(c, b)
    b.publisher.import_hash_list(["md5 " + "ab" * 16], Labels())
    b.start()
    result = run_cli(c.home, "peer", "test", B, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["problems"] == []
    assert report["reachable"] is True
    assert report["we_accept_their_certificate"] is True
    assert report["they_accept_our_certificate"] is True
    assert report["protocol_version"] == "hashfed.v1"
    assert report["remote_origin"] == B
    assert {"origin": B, "size": 1, "trusted": True, "verified": True} in report["origins"]

    human = run_cli(c.home, "peer", "test", B)
    assert human.exit_code == 0 and "OK" in human.stdout


def test_a_client_with_an_unknown_certificate_is_refused(
    pair: tuple[Member, Member, Member],
) -> None:
    b, c, x = pair
    peer(c, b)
    b.start()
    # X presents a certificate B has no card for, while trusting B's own certificate:
    # the handshake fails and the call never reaches the service.
    keys = x.home / "keys"
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(b.home / "keys" / "tls.crt").read_bytes(),
        private_key=(keys / "tls.key").read_bytes(),
        certificate_chain=(keys / "tls.crt").read_bytes(),
    )
    with grpc.secure_channel(
        b.address, credentials, options=[("grpc.ssl_target_name_override", B)]
    ) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ListOrigins(federation_pb2.ListOriginsRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # C, which B does know, gets through.
    assert c.start().sync_one(B).ok


def test_peer_refused_our_certificate(pair: tuple[Member, Member, Member]) -> None:
    """C peers with B, but B has no member card for C: B refuses C's certificate."""
    b, c, _ = pair
    c.members.add_peer(b.card())  # and B never accepts C's card
    b.start()
    words = (
        f"{B} refused our certificate (sha256 {_fp(c)}): it has no member card for {C}, "
        "or pins a different certificate"
    )
    result = run_cli(c.home, "peer", "test", B, "--json")
    assert result.exit_code == SyncError.exit_code
    report = json.loads(result.stdout)
    assert report["reachable"] is True
    assert report["we_accept_their_certificate"] is True
    assert report["they_accept_our_certificate"] is False
    assert report["problems"] == [words]
    assert words in " ".join(result.stderr.split())

    # A sync says the same words instead of a bare UNAVAILABLE, and status keeps them.
    c.start()
    report_c = c.sync_one(B)
    assert report_c.error == words
    (status_peer,) = to_json(c.status())["peers"]
    assert status_peer["last_error"] == words
    assert "UNAVAILABLE" not in report_c.error


def test_we_refuse_the_peer_certificate(pair: tuple[Member, Member, Member]) -> None:
    """C's card for B pins another certificate (X's) than the one B presents."""
    b, c, x = pair
    x_cert = (x.home / "keys" / "tls.crt").read_text()
    c.members.add_peer(b.card(tls_certificate=x_cert, tls_fingerprint_sha256=_fp(x)))
    b.members.add(c.card())
    b.start()
    words = (
        f"we refuse {B}'s certificate: it presented sha256 {_fp(b)}, its member card pins {_fp(x)}"
    )
    result = run_cli(c.home, "peer", "test", B, "--json")
    assert result.exit_code == SyncError.exit_code
    report = json.loads(result.stdout)
    assert report["we_accept_their_certificate"] is False
    assert report["they_accept_our_certificate"] is True  # B knows C; only C refuses
    assert report["presented_fingerprint_sha256"] == _fp(b)
    assert report["pinned_fingerprint_sha256"] == _fp(x)
    assert report["problems"] == [words]

    result = run_cli(c.home, "sync", "--peer", B)
    assert result.exit_code == SyncError.exit_code
    assert words in " ".join(result.stderr.split())


def test_both_refuse_each_other(pair: tuple[Member, Member, Member]) -> None:
    b, c, x = pair
    x_cert = (x.home / "keys" / "tls.crt").read_text()
    c.members.add_peer(b.card(tls_certificate=x_cert, tls_fingerprint_sha256=_fp(x)))
    b.start()
    result = run_cli(c.home, "peer", "test", B, "--json")
    report = json.loads(result.stdout)
    assert report["we_accept_their_certificate"] is False
    assert report["they_accept_our_certificate"] is False
    assert len(report["problems"]) == 2


def test_peer_not_reachable(pair: tuple[Member, Member, Member]) -> None:
    b, c, _ = pair
    peer(c, b)  # B is never started
    words = f"{B} is not reachable at {b.address} (connection refused)"
    result = run_cli(c.home, "peer", "test", B)
    assert result.exit_code == SyncError.exit_code
    assert words in " ".join(result.stderr.split())
    result = run_cli(c.home, "sync", "--json")
    assert result.exit_code == SyncError.exit_code
    (peer_report,) = json.loads(result.stdout)["peers"]
    assert peer_report["error"] == words
    (status_peer,) = to_json(c.status())["peers"]
    assert status_peer["last_error"] == words
