"""The peer server over real mutual TLS on 127.0.0.1: who gets in, and what they get.

Real nodes (real P-256 certificates from ``Node.init``), real SQLite. The peer server trusts
exactly the certificates pinned in accepted member cards, follows card changes without a
restart, and checks the exact fingerprint of the presented certificate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.log.bundle import Bundle
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.log.merkle import leaf_hash, root_of
from node.log.proof_verification import verify_consistency
from node.testing.background import BackgroundNode
from node.wire.limits import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES

T = TypeVar("T")

SERVER = "server.example"
CLIENT = "client.example"
STRANGER = "stranger.example"


def _init(where: Path, origin: str) -> Path:
    Node.init(where, origin).close()
    return where


@pytest.fixture
def server_home(tmp_path: Path) -> Path:
    return _init(tmp_path / "server", SERVER)


@pytest.fixture
def client_home(tmp_path: Path) -> Path:
    return _init(tmp_path / "client", CLIENT)


def _card(home: Path) -> str:
    with Node.open(home) as node:
        return json.dumps(node.identity_card())


def _add_member(home: Path, card: str) -> None:
    with Node.open(home) as node:
        node.members.add(card)


def _tls(home: Path) -> tuple[bytes, bytes]:
    keys = home / "keys"
    return (keys / "tls.key").read_bytes(), (keys / "tls.crt").read_bytes()


def _channel(address: str, server_home: Path, key: bytes, cert: bytes) -> grpc.Channel:
    """A fresh connection (own subchannel pool: no reuse of an earlier failed connection)."""
    _, server_cert = _tls(server_home)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=server_cert, private_key=key, certificate_chain=cert
    )
    return grpc.secure_channel(
        address, credentials, options=[("grpc.use_local_subchannel_pool", 1)]
    )


def _federation(channel: grpc.Channel) -> Any:
    return federation_pb2_grpc.FederationServiceStub(channel)


def _call(address: str, server_home: Path, key: bytes, cert: bytes, fn: Callable[[Any], T]) -> T:
    with _channel(address, server_home, key, cert) as channel:
        return fn(_federation(channel))


def _list_origins(stub: Any) -> Any:
    return stub.ListOrigins(federation_pb2.ListOriginsRequest(), timeout=5)


@pytest.fixture
def served(server_home: Path) -> Iterator[BackgroundNode]:
    with BackgroundNode(server_home) as node:
        yield node


def test_pinned_client_lists_origins_and_node_info(
    server_home: Path, client_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="hashfed.server.peer")
    _add_member(server_home, _card(client_home))
    with Node.open(server_home) as node:
        node.publisher.import_hash_list(
            ["md5 " + "11" * 16, "md5 " + "22" * 16], Labels(tags=("t",))
        )
        note = node.reader.checkpoint().note
        server_key = node.verifier
    with BackgroundNode(server_home) as served:
        key, cert = _tls(client_home)
        answer = _call(served.peer_address, server_home, key, cert, _list_origins)
        assert [(o.origin, o.checkpoint) for o in answer.origins] == [(SERVER, note)]
        assert SignedCheckpoint.open(answer.origins[0].checkpoint, server_key)
        info = _call(
            served.peer_address,
            server_home,
            key,
            cert,
            lambda s: s.GetNodeInfo(federation_pb2.GetNodeInfoRequest(), timeout=5),
        )
        assert (info.origin, info.protocol_version) == (SERVER, "hashfed.v1")
        assert info.software_version
    # Each peer call is logged at debug level with the caller's member origin.
    assert f"/hashfed.v1.FederationService/ListOrigins from {CLIENT}" in caplog.text


def test_unknown_client_is_refused_until_its_card_is_accepted(
    served: BackgroundNode, server_home: Path, client_home: Path
) -> None:
    # The server started with no member cards at all (placeholder root): it still serves,
    # and every handshake fails.
    key, cert = _tls(client_home)
    with pytest.raises(grpc.RpcError) as info:
        _call(served.peer_address, server_home, key, cert, _list_origins)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE

    _add_member(server_home, _card(client_home))  # as `hashfed member add` would, elsewhere
    deadline = time.monotonic() + 2.0
    while True:
        try:
            answer = _call(served.peer_address, server_home, key, cert, _list_origins)
            break
        except grpc.RpcError as exc:
            assert exc.code() is grpc.StatusCode.UNAVAILABLE
            assert time.monotonic() < deadline, "the new card did not take effect within 2 s"
            time.sleep(0.05)
    assert [o.origin for o in answer.origins] == []  # nothing published yet

    # A stranger is still refused during the handshake.
    stranger = _init(served.running.runner.home.parent / "stranger", STRANGER)
    skey, scert = _tls(stranger)
    with pytest.raises(grpc.RpcError) as info:
        _call(served.peer_address, server_home, skey, scert, _list_origins)
    assert info.value.code() is grpc.StatusCode.UNAVAILABLE

    # Removing the member closes the door again: at once by the fingerprint check (which reads
    # the cards on every call), and within a moment in the handshake itself.
    with Node.open(server_home) as node:
        node.members.remove(CLIENT)
    deadline = time.monotonic() + 2.0
    while True:
        with pytest.raises(grpc.RpcError) as info:
            _call(served.peer_address, server_home, key, cert, _list_origins)
        if info.value.code() is grpc.StatusCode.UNAVAILABLE:
            break
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert time.monotonic() < deadline, "the handshake still accepted a removed card after 2 s"
        time.sleep(0.05)


def _issued_by(issuer_home: Path, subject: str) -> tuple[bytes, bytes]:
    """A leaf certificate signed by a member's own TLS key (its certificate has CA=True)."""
    issuer_key_pem, issuer_cert_pem = _tls(issuer_home)
    issuer_key = serialization.load_pem_private_key(issuer_key_pem, password=None)
    assert isinstance(issuer_key, ec.EllipticCurvePrivateKey)
    issuer = x509.load_pem_x509_certificate(issuer_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(issuer_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM) + issuer_cert_pem


def test_certificate_issued_by_a_member_key_passes_tls_but_is_denied(
    server_home: Path, client_home: Path
) -> None:
    _add_member(server_home, _card(client_home))
    key, chain = _issued_by(client_home, "impostor.example")
    with BackgroundNode(server_home) as served:
        with pytest.raises(grpc.RpcError) as info:
            _call(served.peer_address, server_home, key, chain, _list_origins)
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED
        assert "is not pinned in any member card" in info.value.details()
        # The health service sits behind the same check.
        with (
            _channel(served.peer_address, server_home, key, chain) as channel,
            pytest.raises(grpc.RpcError) as info,
        ):
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert info.value.code() is grpc.StatusCode.PERMISSION_DENIED


def test_health_on_the_peer_server(server_home: Path, client_home: Path) -> None:
    _add_member(server_home, _card(client_home))
    key, cert = _tls(client_home)
    with (
        BackgroundNode(server_home) as served,
        _channel(served.peer_address, server_home, key, cert) as channel,
    ):
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hashfed.v1.FederationService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_stream_entries_in_bounded_batches_and_proofs(server_home: Path, client_home: Path) -> None:
    _add_member(server_home, _card(client_home))
    with Node.open(server_home) as node:
        node.publisher.import_hash_list(
            [f"md5 {i:032x}" for i in range(1_500)], Labels(tags=("bulk",))
        )
        node.publisher.import_hash_list([f"md5 {i:032x}" for i in range(1_500, 2_600)], Labels())
        bodies = [row.body for row in node.store.log.entries(SERVER)]
        server_key = node.verifier
    assert len(bodies) == 2_600
    key, cert = _tls(client_home)
    with (
        BackgroundNode(server_home) as served,
        _channel(served.peer_address, server_home, key, cert) as channel,
    ):
        stub = _federation(channel)
        request = federation_pb2.StreamEntriesRequest(origin=SERVER, start_index=3, end_index=2_600)
        batches = list(stub.StreamEntries(request, timeout=10))
        assert all(
            0 < len(b.entries) <= MAX_BATCH_ENTRIES and sum(map(len, b.entries)) <= MAX_BATCH_BYTES
            for b in batches
        )
        assert [b.start_index for b in batches] == [3, 1_003, 2_003]
        assert [e for b in batches for e in b.entries] == bodies[3:]

        [listed] = stub.ListOrigins(federation_pb2.ListOriginsRequest(), timeout=5).origins
        newest = SignedCheckpoint.open(listed.checkpoint, server_key).checkpoint
        assert newest.size == 2_600
        assert root_of([leaf_hash(b) for b in bodies]) == newest.root

        # Each batch proves the tree up to its end into the tree of end_index (2,600 here).
        leaves = [leaf_hash(b) for b in bodies]
        for b in batches:
            end = b.start_index + len(b.entries)
            proof = list(b.consistency_proof)
            assert (proof == []) == (end == 2_600)
            verify_consistency(end, 2_600, proof, root_of(leaves[:end]), newest.root)
        short = list(
            stub.StreamEntries(
                federation_pb2.StreamEntriesRequest(origin=SERVER, start_index=0, end_index=1_700),
                timeout=10,
            )
        )
        for b in short:
            end = b.start_index + len(b.entries)
            verify_consistency(
                end,
                1_700,
                list(b.consistency_proof),
                root_of(leaves[:end]),
                root_of(leaves[:1_700]),
            )

        proof = stub.GetInclusionProof(
            federation_pb2.GetInclusionProofRequest(origin=SERVER, entry_index=1_234, tree_size=0),
            timeout=5,
        )
        assert proof.entry == bodies[1_234]
        assert proof.checkpoint == listed.checkpoint
        bundle = Bundle(SERVER, 1_234, proof.entry, tuple(proof.hashes), proof.checkpoint)
        bundle.verify(server_key)

        old = stub.GetInclusionProof(
            federation_pb2.GetInclusionProofRequest(origin=SERVER, entry_index=0, tree_size=1_500),
            timeout=5,
        )
        old_checkpoint = SignedCheckpoint.open(old.checkpoint, server_key).checkpoint
        assert old_checkpoint.size == 1_500
        consistency = stub.GetConsistencyProof(
            federation_pb2.GetConsistencyProofRequest(
                origin=SERVER, old_size=1_500, new_size=2_600
            ),
            timeout=5,
        )
        verify_consistency(1_500, 2_600, list(consistency.hashes), old_checkpoint.root, newest.root)

        for bad, code in [
            (
                federation_pb2.StreamEntriesRequest(origin=SERVER, start_index=0, end_index=2_601),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (
                federation_pb2.StreamEntriesRequest(origin=SERVER, start_index=5, end_index=4),
                grpc.StatusCode.INVALID_ARGUMENT,
            ),
            (
                federation_pb2.StreamEntriesRequest(origin="nobody.example", end_index=1),
                grpc.StatusCode.NOT_FOUND,
            ),
        ]:
            with pytest.raises(grpc.RpcError) as info:
                list(stub.StreamEntries(bad, timeout=5))
            assert info.value.code() is code, info.value.details()
        with pytest.raises(grpc.RpcError) as info:
            stub.GetInclusionProof(
                federation_pb2.GetInclusionProofRequest(
                    origin=SERVER, entry_index=0, tree_size=1_499
                ),
                timeout=5,
            )
        assert info.value.code() is grpc.StatusCode.NOT_FOUND
