"""The node's own keys and certificate are checked before it opens, serves or connects.

Real homes from ``Node.init`` (real Ed25519 and P-256 keys, real SQLite), real servers on
127.0.0.1 port 0, the real CLI. Issue 9, finding 7: a key readable by others used silently; a
TLS key not matching the certificate reported as "address in use"; an expired certificate
served without a word.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node.core import Node
from node.errors import IdentityError
from node.home import HomePaths
from node.testing.background import BackgroundNode
from node.tls import certificate_fingerprint
from tests.support.cli import hashfed, hashfed_json

ORIGIN = "acme.example"


def _cert_for_own_key(home: Path, *, not_before: dt.datetime, not_after: dt.datetime) -> None:
    """Replace the home's certificate by one for its own key with the given validity."""
    paths = HomePaths(home)
    key = serialization.load_pem_private_key(paths.tls_key.read_bytes(), password=None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ORIGIN)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(ORIGIN)]), critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    paths.tls_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


# -- 1. private key modes ----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["signing_key", "witness_key", "tls_key"])
@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640, 0o604])
def test_a_key_others_can_access_is_refused_naming_file_mode_and_fix(
    home: Path, key: str, mode: int
) -> None:
    path: Path = getattr(HomePaths(home), key)
    os.chmod(path, mode)
    with pytest.raises(IdentityError) as info:
        Node.open(home)
    message = str(info.value)
    assert str(path) in message
    assert f"mode {mode:04o}" in message
    assert f"chmod 600 {path}" in message


def test_cli_exits_7_on_a_world_readable_signing_key_and_works_after_chmod(home: Path) -> None:
    key = HomePaths(home).signing_key
    assert key.stat().st_mode & 0o777 == 0o600  # as init writes it
    os.chmod(key, 0o644)
    result = hashfed(home, "identity")
    assert result.exit_code == 7, result.output
    assert "mode 0644" in result.output and f"chmod 600 {key}" in result.output
    os.chmod(key, 0o600)
    assert hashfed_json(home, "identity")["origin"] == ORIGIN


def test_serve_refuses_a_world_readable_tls_key(home: Path) -> None:
    os.chmod(HomePaths(home).tls_key, 0o644)
    with pytest.raises(IdentityError, match=r"tls\.key has mode 0644"):
        BackgroundNode(home).start()


# -- 2. a TLS key that is not the certificate's -----------------------------------------------


def test_serve_says_the_tls_key_does_not_match_the_certificate(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    Node.init(other, "other.example").close()
    paths = HomePaths(home)
    paths.tls_key.unlink()
    paths.tls_key.write_bytes(HomePaths(other).tls_key.read_bytes())
    os.chmod(paths.tls_key, 0o600)
    with pytest.raises(IdentityError) as info:
        BackgroundNode(home).start()
    message = str(info.value)
    assert f"TLS key {paths.tls_key} does not match the certificate {paths.tls_cert}" in message
    assert "in use" not in message


def test_serve_process_exits_7_with_the_mismatch_message(home: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    Node.init(other, "other.example").close()
    paths = HomePaths(home)
    paths.tls_cert.write_bytes(HomePaths(other).tls_cert.read_bytes())
    result = hashfed(home, "serve", "--peer-address", "127.0.0.1:0", "--local-address",
                     "127.0.0.1:0", "--no-sync")  # fmt: skip
    assert result.exit_code == 7, result.output
    assert "does not match the certificate" in result.output


# -- 3. expired and expiring certificates ------------------------------------------------------


def test_serve_refuses_an_expired_certificate_and_says_how_to_renew(home: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    _cert_for_own_key(
        home, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
    )
    with pytest.raises(IdentityError) as info:
        BackgroundNode(home).start()
    message = str(info.value)
    assert "expired on" in message and "hashfed tls renew" in message


def test_serve_refuses_a_certificate_not_yet_valid(home: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    _cert_for_own_key(
        home, not_before=now + dt.timedelta(days=2), not_after=now + dt.timedelta(days=9)
    )
    with pytest.raises(IdentityError, match=r"not valid before .* check the clock"):
        BackgroundNode(home).start()


def test_serve_warns_when_the_certificate_expires_soon(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = dt.datetime.now(dt.UTC)
    _cert_for_own_key(
        home, not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=10)
    )
    with caplog.at_level(logging.WARNING, logger="hashfed.server"), BackgroundNode(home):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("expires in 10 days" in w and "hashfed tls renew" in w for w in warnings), warnings


def test_a_fresh_certificate_gives_no_expiry_warning(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hashfed.server"), BackgroundNode(home):
        pass
    assert not [r for r in caplog.records if "expires in" in r.getMessage()]


def test_tls_renew_replaces_an_expired_certificate_and_the_node_serves_again(
    home: Path, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    _cert_for_own_key(
        home, not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1)
    )
    paths = HomePaths(home)
    expired = paths.tls_cert.read_bytes()
    key = paths.tls_key.read_bytes()
    report = hashfed_json(home, "tls", "renew")
    renewed = paths.tls_cert.read_bytes()
    assert report["previous_fingerprint_sha256"] == certificate_fingerprint(expired)
    assert report["tls_fingerprint_sha256"] == certificate_fingerprint(renewed)
    assert report["tls_fingerprint_sha256"] != report["previous_fingerprint_sha256"]
    assert Path(str(paths.tls_cert) + ".old").read_bytes() == expired
    assert paths.tls_key.read_bytes() == key  # same key: only the certificate is new
    # A member that accepted the new card reaches the peer API over mutual TLS, pinning it.
    member = tmp_path / "member"
    Node.init(member, "member.example").close()
    with Node.open(member) as other:
        other_card = json.dumps(other.identity_card())
    with Node.open(home) as node:
        node.members.add(other_card)
        assert node.identity_card()["tls_fingerprint_sha256"] == report["tls_fingerprint_sha256"]
    member_paths = HomePaths(member)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=renewed,
        private_key=member_paths.tls_key.read_bytes(),
        certificate_chain=member_paths.tls_cert.read_bytes(),
    )
    options = (("grpc.ssl_target_name_override", ORIGIN),)
    with (
        BackgroundNode(home) as served,
        grpc.secure_channel(served.peer_address, credentials, options) as channel,
    ):
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_sync_says_the_tls_key_does_not_match_the_certificate(home: Path, tmp_path: Path) -> None:
    """`hashfed sync` checks its own pair as `serve` does, instead of reporting a handshake the
    peer seems to have refused."""
    other = tmp_path / "other"
    Node.init(other, "other.example", peer_address="127.0.0.1:9").close()
    with Node.open(home) as node, Node.open(other) as peer:
        node.members.add_peer(json.dumps(peer.identity_card()))
    paths = HomePaths(home)
    paths.tls_cert.write_bytes(HomePaths(other).tls_cert.read_bytes())
    result = hashfed(home, "sync")
    assert result.exit_code == 7, result.output
    assert f"TLS key {paths.tls_key} does not match the certificate {paths.tls_cert}" in (
        result.output
    )
    assert "Traceback" not in result.output
