"""FederationService: what peer nodes ask of this one, over mutual TLS.

Thin, like the local servicer: protobuf in, one facade call on the node thread, protobuf out
(:mod:`node.server.convert`). Who may call is decided before any of this runs (handshake +
fingerprint check in :mod:`node.server.access`). Nothing served here needs to be trusted by the
receiver: it checks every entry against the origin's signed checkpoint itself.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import AsyncIterator, Iterable, Iterator

import grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.errors import InvalidInputError
from node.server import convert
from node.server.convert import log_index
from node.service.runner import NodeRunner
from node.wire.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_CHECKPOINTS,
    MAX_BATCH_ENTRIES,
    STORE_CHUNK_ENTRIES,
)

SERVICE_NAME = "hashfed.v1.FederationService"
PROTOCOL_VERSION = "hashfed.v1"

# The context of each call, typed by its request and response messages.
Context = grpc.aio.ServicerContext


def software_version() -> str:
    try:
        return importlib.metadata.version("hashfed")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def batches(
    start: int,
    bodies: Iterable[bytes],
    max_entries: int = MAX_BATCH_ENTRIES,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[tuple[int, list[bytes]]]:
    """Split consecutive entries starting at index ``start`` into bounded batches.

    Each batch is ``(index of its first entry, entries)`` with at most ``max_entries`` entries
    and at most ``max_bytes`` of entry bytes, except that a single entry larger than
    ``max_bytes`` travels alone (entries are at most 64 KiB, so this cannot happen in practice).
    """
    batch: list[bytes] = []
    size = 0
    index = start
    for body in bodies:
        if batch and (len(batch) == max_entries or size + len(body) > max_bytes):
            yield index, batch
            index += len(batch)
            batch, size = [], 0
        batch.append(body)
        size += len(body)
    if batch:
        yield index, batch


def _proven_batches(
    node: Node, origin: str, start: int, stop: int, end: int
) -> list[tuple[int, list[bytes], list[bytes]]]:
    """Entries ``[start, stop)`` of ``origin`` in batches, each with its consistency proof from
    the size after it to ``end`` (run on the node thread: one store read, cached tree levels)."""
    bodies = node.reader.entry_bodies(origin, start, stop)
    if len(bodies) != stop - start:
        raise RuntimeError(
            f"entry_bodies({origin!r}, {start}, {stop}) returned {len(bodies)} entries"
        )
    split = list(batches(start, bodies))
    proofs = node.importer.batch_proofs(origin, [first + len(batch) for first, batch in split], end)
    return [(first, batch, proof) for (first, batch), proof in zip(split, proofs, strict=True)]


class FederationServicer(federation_pb2_grpc.FederationServiceServicer):
    """hashfed.v1.FederationService over a :class:`NodeRunner`."""

    def __init__(self, runner: NodeRunner) -> None:
        self._runner = runner
        self._node = runner.node  # only to name methods for runner.call
        self._version = software_version()

    async def GetNodeInfo(  # noqa: N802 (gRPC method names)
        self,
        request: federation_pb2.GetNodeInfoRequest,
        context: Context[federation_pb2.GetNodeInfoRequest, federation_pb2.NodeInfo],
    ) -> federation_pb2.NodeInfo:
        return convert.node_info(
            self._runner.origin, PROTOCOL_VERSION, self._version, self._runner.witness_key
        )

    async def ListOrigins(  # noqa: N802
        self,
        request: federation_pb2.ListOriginsRequest,
        context: Context[federation_pb2.ListOriginsRequest, federation_pb2.ListOriginsResponse],
    ) -> federation_pb2.ListOriginsResponse:
        checkpoints = await self._runner.call(self._node.reader.served_checkpoints)
        return convert.origins_response((cp.origin, cp.note) for cp in checkpoints)

    async def StreamEntries(  # noqa: N802
        self,
        request: federation_pb2.StreamEntriesRequest,
        context: Context[federation_pb2.StreamEntriesRequest, federation_pb2.EntryBatch],
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        start = log_index(request.start_index, "start_index")
        end = log_index(request.end_index, "end_index")
        if start > end:
            raise InvalidInputError(f"start_index {start} is after end_index {end}")
        # Read the store in chunks through the node thread, so a long range neither sits in
        # memory at once nor holds the node thread for the whole stream.
        for chunk_start in range(start, end, STORE_CHUNK_ENTRIES):
            chunk_end = min(chunk_start + STORE_CHUNK_ENTRIES, end)
            chunk = await self._runner.call(
                _proven_batches, self._node, request.origin, chunk_start, chunk_end, end
            )
            for first, batch, proof in chunk:
                yield convert.entry_batch(first, batch, proof)

    async def GetInclusionProof(  # noqa: N802
        self,
        request: federation_pb2.GetInclusionProofRequest,
        context: Context[federation_pb2.GetInclusionProofRequest, federation_pb2.InclusionProof],
    ) -> federation_pb2.InclusionProof:
        index = log_index(request.entry_index)
        tree_size = log_index(request.tree_size, "tree_size")
        entry, hashes, checkpoint = await self._runner.call(
            self._node.reader.inclusion, request.origin, index, tree_size
        )
        return convert.inclusion_proof(entry, hashes, checkpoint)

    async def GetConsistencyProof(  # noqa: N802
        self,
        request: federation_pb2.GetConsistencyProofRequest,
        context: Context[
            federation_pb2.GetConsistencyProofRequest, federation_pb2.ConsistencyProof
        ],
    ) -> federation_pb2.ConsistencyProof:
        old = log_index(request.old_size, "old_size")
        new = log_index(request.new_size, "new_size")
        hashes = await self._runner.call(self._node.reader.consistency, request.origin, old, new)
        return convert.consistency_proof(hashes)

    async def ListCheckpoints(  # noqa: N802
        self,
        request: federation_pb2.ListCheckpointsRequest,
        context: Context[federation_pb2.ListCheckpointsRequest, federation_pb2.CheckpointBatch],
    ) -> AsyncIterator[federation_pb2.CheckpointBatch]:
        min_size = log_index(request.min_size, "min_size")
        # One bounded read per batch through the node thread, as StreamEntries does, so an
        # origin with a million checkpoints never costs one long call.
        while True:
            chunk = await self._runner.call(
                self._node.reader.checkpoint_notes,
                request.origin,
                min_size,
                request.cosigned_only,
                MAX_BATCH_CHECKPOINTS,
            )
            if not chunk:
                return
            yield convert.checkpoint_batch(note for _, note in chunk)
            if len(chunk) < MAX_BATCH_CHECKPOINTS:
                return
            min_size = chunk[-1][0] + 1
