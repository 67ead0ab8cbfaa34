"""A malicious peer: a real FederationService over real mutual TLS that lies about one byte.

:class:`RelayPeer` is the shared relay (its own identity, pinned clients, calls proxied to an
honest node; also the base of ``tests/support/slow_peer.py``). :class:`FlippingPeer` relays
entries with one byte of one entry flipped (every time, or only the first ``max_flips``
times). Checkpoints pass through untouched, so what it serves claims to be the origin's signed
log but does not reproduce the signed root.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self

import grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from tests.support.fednet import Member


class RelayPeer(federation_pb2_grpc.FederationServiceServicer):  # type: ignore[misc]
    """A real FederationService over real mutual TLS that relays an honest node.

    It serves with its own member identity (the keys and certificate of a real home) and admits
    exactly the client certificates in ``pinned_clients``; every call a subclass relays goes,
    over real mTLS with that identity, to the upstream node (``self._stub``). This base relays
    ``GetNodeInfo`` (its own answer) and ``ListOrigins`` (unchanged); subclasses add the calls
    they relay and where they lie or dawdle. Calls nobody implements answer ``UNIMPLEMENTED``.
    """

    software_version = "fake"

    def __init__(
        self,
        home: Path,
        origin: str,
        *,
        upstream_address: str,
        upstream_origin: str,
        upstream_certificate: bytes,
        pinned_clients: list[bytes],
    ) -> None:
        self.origin = origin
        self._key = (home / "keys" / "tls.key").read_bytes()
        self._cert = (home / "keys" / "tls.crt").read_bytes()
        self._upstream = (upstream_address, upstream_origin, upstream_certificate)
        self._pinned = b"".join(pinned_clients)
        self._server: grpc.aio.Server | None = None
        self._channel: grpc.aio.Channel | None = None
        self.port = 0

    @classmethod
    def between(cls, relay: Member, upstream: Member, client: Member, **options: Any) -> Self:
        """``relay``'s node serving ``client`` (the one certificate it pins) what it fetches
        from ``upstream``; ``options`` are the subclass's own."""
        return cls(
            relay.home,
            relay.origin,
            upstream_address=upstream.address,
            upstream_origin=upstream.origin,
            upstream_certificate=upstream.tls_certificate,
            pinned_clients=[client.tls_certificate],
            **options,
        )

    async def start(self, address: str = "127.0.0.1:0") -> int:
        upstream_address, upstream_origin, upstream_cert = self._upstream
        credentials = grpc.ssl_channel_credentials(
            root_certificates=upstream_cert, private_key=self._key, certificate_chain=self._cert
        )
        self._channel = grpc.aio.secure_channel(
            upstream_address,
            credentials,
            options=[("grpc.ssl_target_name_override", upstream_origin)],
        )
        self._stub = federation_pb2_grpc.FederationServiceStub(self._channel)
        self._server = grpc.aio.server()
        federation_pb2_grpc.add_FederationServiceServicer_to_server(self, self._server)
        server_credentials = grpc.ssl_server_credentials(
            [(self._key, self._cert)], root_certificates=self._pinned, require_client_auth=True
        )
        self.port = int(self._server.add_secure_port(address, server_credentials))
        assert self.port, f"could not bind {address}"
        await self._server.start()
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
        if self._channel is not None:
            await self._channel.close()

    # -- FederationService ---------------------------------------------------------------------

    async def GetNodeInfo(  # noqa: N802
        self, request: federation_pb2.GetNodeInfoRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.NodeInfo:
        return federation_pb2.NodeInfo(
            origin=self.origin,
            protocol_version="hashfed.v1",
            software_version=self.software_version,
        )

    async def ListOrigins(  # noqa: N802
        self, request: federation_pb2.ListOriginsRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.ListOriginsResponse:
        response: federation_pb2.ListOriginsResponse = await self._stub.ListOrigins(request)
        return response


class FlippingPeer(RelayPeer):
    def __init__(
        self,
        home: Path,
        origin: str,
        *,
        flip_origin: str,
        flip_index: int,
        flip_offset: int = -1,
        max_flips: int | None = None,
        **relay: Any,
    ) -> None:
        """``relay``: the upstream and the pinned clients, as :class:`RelayPeer` takes them."""
        super().__init__(home, origin, **relay)
        self.flip_origin = flip_origin
        self.flip_index = flip_index
        self.flip_offset = flip_offset
        self.max_flips = max_flips  # None: lie every time
        self.flipped = 0  # how many times the lie was told

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        async for batch in self._stub.StreamEntries(request):
            entries = list(batch.entries)
            position = self.flip_index - batch.start_index
            lying = self.max_flips is None or self.flipped < self.max_flips
            if lying and request.origin == self.flip_origin and 0 <= position < len(entries):
                entries[position] = self.tamper(entries[position])
                self.flipped += 1
            yield federation_pb2.EntryBatch(
                start_index=batch.start_index,
                entries=entries,
                consistency_proof=batch.consistency_proof,
            )

    def tamper(self, body: bytes) -> bytes:
        """The lie told in place of entry ``flip_index``: here one bit of one byte flipped."""
        altered = bytearray(body)
        altered[self.flip_offset] ^= 0x01
        return bytes(altered)


class PaddingPeer(FlippingPeer):
    """Relays like FlippingPeer, but replaces entry ``flip_index`` with ``pad_bytes`` of junk:
    bytes that can never verify, sent to fill the receiver's disk if it staged them."""

    pad_bytes = 70 * 1024

    def tamper(self, body: bytes) -> bytes:
        return b"\x00" * self.pad_bytes


class JunkPeer(FlippingPeer):
    """Relays the origin's genuine signed checkpoint (``ListOrigins`` passes through) but
    streams ``junk_bytes`` of junk for every entry asked for, in batches within the protocol's
    1 MiB, and ends the stream ``short_by`` entries before the end asked for. Nothing it could
    send would prove junk into the signed tree; each batch carries a made-up proof (a batch
    without any would read as an outdated peer, not a liar). ``flipped`` counts the junk
    entries sent."""

    junk_bytes = 64 * 1024
    short_by = 0

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        per = max(1, (1024 * 1024) // self.junk_bytes)
        stop = int(request.end_index) - self.short_by
        for first in range(int(request.start_index), stop, per):
            count = min(per, stop - first)
            junk = [bytes([(first + i) % 251]) * self.junk_bytes for i in range(count)]
            self.flipped += count
            yield federation_pb2.EntryBatch(
                start_index=first, entries=junk, consistency_proof=[b"\x00" * 32]
            )


class ProoflessPeer(FlippingPeer):
    """Relays the origin's batches intact but without their consistency proofs: what a hashfed
    older than batch proofs serves (docs/protocol.md §8)."""

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        async for batch in self._stub.StreamEntries(request):
            self.flipped += 1
            yield federation_pb2.EntryBatch(start_index=batch.start_index, entries=batch.entries)


class ShortPeer(FlippingPeer):
    """Relays the origin's batches intact, proofs included, but never the last one: an honest
    looking stream that ends early, or (``abort``) breaks with an error there. ``flipped``
    counts the streams cut short."""

    abort = False

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        async for batch in self._stub.StreamEntries(request):
            if batch.start_index + len(batch.entries) >= request.end_index:
                self.flipped += 1
                if self.abort:
                    await context.abort(grpc.StatusCode.INTERNAL, "the relay broke down")
                return
            yield batch
