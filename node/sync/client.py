"""The federation client: one mutually authenticated gRPC channel to one peer.

We present our own TLS key and certificate (``keys/tls.key``, ``keys/tls.crt``) and trust exactly
one root: the certificate pinned in the peer's member card. Node certificates carry the origin
as a DNS name (plus ``localhost`` and ``127.0.0.1``), so the channel checks the peer's name with
``grpc.ssl_target_name_override`` = its origin, wherever its address points.

Every failed call becomes a :class:`PeerError` whose message says what went wrong in words: an
``UNAVAILABLE`` is diagnosed with :mod:`node.sync.diagnosis` (who refused whose certificate, or
that nothing listens at the address), never passed on bare.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.errors import NotFoundError, SyncError
from node.sync.diagnosis import Diagnosis, diagnose, observe_tls, they_refuse
from node.tls import certificate_fingerprint, load_tls_identity

MIB = 1024 * 1024
MAX_RECEIVE_BYTES = 8 * MIB
"""The peer server sends at most 8 MiB per message (an ``EntryBatch`` is at most 1 MiB of
entries plus framing)."""

CALL_TIMEOUT_S = 15.0
"""Deadline of the unary calls (GetNodeInfo, ListOrigins)."""

STREAM_IDLE_TIMEOUT_S = 60.0
"""Longest wait for the next batch of a stream before giving up on the peer."""

PROTOCOL_VERSION = "hashfed.v1"


class PeerError(SyncError):
    """A call to a peer failed; the message says why in words."""


@dataclass(frozen=True)
class PeerTarget:
    """Everything needed to connect to one peer, read from the node once (on its thread)."""

    name: str
    address: str
    pinned_pem: bytes
    pinned_fingerprint: str
    our_origin: str
    our_key_file: Path
    our_cert_file: Path
    our_key_pem: bytes
    our_cert_pem: bytes
    our_fingerprint: str

    @classmethod
    def load(cls, node: Node, peer: str) -> PeerTarget:
        """Look ``peer`` up (run on the node thread)."""
        peers = {p.name: p for p in node.members.peers()}
        if peer not in peers:
            raise NotFoundError(f"{peer!r} is not a peer of this node (see `peer list`)")
        member = next((m for m in node.members.known() if m.origin == peer and m.trusted), None)
        if member is None:
            raise NotFoundError(
                f"{peer!r} is a peer but not a trusted member; add its card again with `peer add`"
            )
        # Checked as `serve` checks it: a key that is not the certificate's, or an expired
        # certificate, would otherwise surface as a handshake failure blamed on the peer.
        identity = load_tls_identity(node.paths.tls_key, node.paths.tls_cert)
        cert = identity.cert_pem
        return cls(
            name=peer,
            address=peers[peer].address,
            pinned_pem=member.tls_certificate.encode(),
            pinned_fingerprint=member.tls_fingerprint,
            our_origin=node.origin,
            our_key_file=node.paths.tls_key,
            our_cert_file=node.paths.tls_cert,
            our_key_pem=identity.key_pem,
            our_cert_pem=cert,
            our_fingerprint=certificate_fingerprint(cert),
        )


async def probe(target: PeerTarget) -> Diagnosis:
    """Diagnose the connection to ``target`` with :mod:`ssl` (in a worker thread)."""
    observation = await asyncio.to_thread(
        observe_tls,
        target.address,
        server_name=target.name,
        pinned_pem=target.pinned_pem,
        pinned_fingerprint=target.pinned_fingerprint,
        cert_file=target.our_cert_file,
        key_file=target.our_key_file,
    )
    return diagnose(
        observation,
        peer=target.name,
        address=target.address,
        pinned_fingerprint=target.pinned_fingerprint,
        our_fingerprint=target.our_fingerprint,
        our_origin=target.our_origin,
    )


class PeerClient:
    """``async with PeerClient(target) as client``: the FederationService calls we use."""

    def __init__(self, target: PeerTarget) -> None:
        self.target = target
        credentials = grpc.ssl_channel_credentials(
            root_certificates=target.pinned_pem,
            private_key=target.our_key_pem,
            certificate_chain=target.our_cert_pem,
        )
        self._channel = grpc.aio.secure_channel(
            target.address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", target.name),
                ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
            ],
        )
        self._stub = federation_pb2_grpc.FederationServiceStub(self._channel)

    async def __aenter__(self) -> PeerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def node_info(self) -> federation_pb2.NodeInfo:
        try:
            info: federation_pb2.NodeInfo = await self._stub.GetNodeInfo(
                federation_pb2.GetNodeInfoRequest(), timeout=CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            raise await self.explain(exc, "GetNodeInfo") from None
        return info

    async def list_origins(self) -> list[tuple[str, str]]:
        """(origin, signed checkpoint note) for every origin the peer serves."""
        try:
            response = await self._stub.ListOrigins(
                federation_pb2.ListOriginsRequest(), timeout=CALL_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as exc:
            raise await self.explain(exc, "ListOrigins") from None
        return [(o.origin, o.checkpoint) for o in response.origins]

    async def stream_entries(
        self, origin: str, start: int, end: int
    ) -> AsyncGenerator[tuple[int, list[bytes], list[bytes]], None]:
        """Batches ``(start index, entry bytes, consistency proof to end)`` of ``[start, end)``
        as the peer sends them.

        The batches are not checked here (the caller decides what a wrong batch means).
        """
        call = self._stub.StreamEntries(
            federation_pb2.StreamEntriesRequest(origin=origin, start_index=start, end_index=end)
        )
        try:
            while True:
                try:
                    batch = await asyncio.wait_for(call.read(), STREAM_IDLE_TIMEOUT_S)
                except TimeoutError:
                    call.cancel()
                    raise PeerError(
                        f"{self.target.name} sent nothing for {STREAM_IDLE_TIMEOUT_S:g} s while "
                        f"streaming entries of {origin}"
                    ) from None
                if not isinstance(batch, federation_pb2.EntryBatch):  # grpc.aio.EOF
                    return
                yield int(batch.start_index), list(batch.entries), list(batch.consistency_proof)
        except grpc.aio.AioRpcError as exc:
            raise await self.explain(exc, f"StreamEntries({origin})") from None
        finally:
            if not call.done():
                call.cancel()

    async def inclusion_proof(
        self, origin: str, index: int, tree_size: int = 0
    ) -> tuple[bytes, list[bytes], str]:
        """(entry bytes, audit path, signed checkpoint note) of entry ``index`` of ``origin``
        in the tree of ``tree_size`` (0: the peer's newest). Not checked here."""
        try:
            proof = await self._stub.GetInclusionProof(
                federation_pb2.GetInclusionProofRequest(
                    origin=origin, entry_index=index, tree_size=tree_size
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            raise await self.explain(exc, f"GetInclusionProof({origin}, {index})") from None
        return bytes(proof.entry), [bytes(h) for h in proof.hashes], str(proof.checkpoint)

    async def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes]:
        """The peer's RFC 9162 consistency proof of ``origin`` from ``old_size`` to
        ``new_size`` (not checked here)."""
        try:
            response = await self._stub.GetConsistencyProof(
                federation_pb2.GetConsistencyProofRequest(
                    origin=origin, old_size=old_size, new_size=new_size
                ),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            raise await self.explain(exc, f"GetConsistencyProof({origin})") from None
        return list(response.hashes)

    async def list_checkpoints(
        self, origin: str, min_size: int, *, cosigned_only: bool, max_notes: int
    ) -> list[str] | None:
        """Cosigned checkpoint notes of ``origin`` from ``min_size`` on (at most ``max_notes``),
        or None when the peer does not serve that origin."""
        call = self._stub.ListCheckpoints(
            federation_pb2.ListCheckpointsRequest(
                origin=origin, min_size=min_size, cosigned_only=cosigned_only
            ),
            timeout=CALL_TIMEOUT_S,
        )
        notes: list[str] = []
        try:
            async for batch in call:
                notes.extend(batch.checkpoints)
                if len(notes) >= max_notes:
                    call.cancel()
                    break
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise await self.explain(exc, f"ListCheckpoints({origin})") from None
        return notes[:max_notes]

    async def explain(self, exc: grpc.aio.AioRpcError, what: str) -> PeerError:
        """A :class:`PeerError` that says in words why ``what`` failed."""
        return PeerError(await explain_rpc_error(self.target, exc, what))


async def explain_rpc_error(target: PeerTarget, exc: grpc.aio.AioRpcError, what: str) -> str:
    code = exc.code()
    details = exc.details() or ""
    if code == grpc.StatusCode.UNAVAILABLE:
        diagnosis = await probe(target)
        if diagnosis.problems:
            return diagnosis.message()
        return (
            f"{target.name} at {target.address} was unavailable for {what} although TLS "
            f"works both ways now (a transient failure?): {details}"
        )
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        words = they_refuse(target.name, target.our_fingerprint, target.our_origin)
        return f"{words} ({details})"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{target.name} at {target.address} did not answer {what} in time"
    return f"{target.name} answered {what} with {code.name}: {details}"
