"""LocalService: the member's own systems use the node through this (docs/protocol.md §8).

Thin by design: each method converts protobuf to facade values (:mod:`node.server.convert`),
makes one call on the node thread (:class:`node.service.runner.NodeRunner`) and converts the
result back. Validation lives in the facade; errors become statuses in :mod:`node.server.status`
(via the guard interceptor).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import grpc

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.errors import InvalidInputError
from node.results import QueryResult
from node.server.convert import (
    SignalQuery,
    computed_signals,
    file_name_field,
    labels_from_pb,
    log_index,
    match_response,
    origin_field,
    publish_response,
    signal_query,
    stream_matches_response,
    verdict_from_pb,
)
from node.service.runner import NodeRunner
from node.wire.limits import MAX_QUERIES_PER_MESSAGE

SERVICE_NAME = "hashfed.v1.LocalService"

# The context of each call, typed by its request and response messages.
Context = grpc.aio.ServicerContext

# -- calls made on the node thread -------------------------------------------------------------
# Lookups catch up with the store first (appends by other processes, synced entries): the
# freshness task does so every 0.25 s as well, this makes a lookup right after a write exact.


def match_queries(node: Node, queries: Sequence[SignalQuery]) -> list[QueryResult]:
    # match_signals catches the index up once per call: one call per run of queries with the
    # same threshold (a whole StreamMatches message, as a rule).
    results: list[QueryResult] = []
    start = 0
    while start < len(queries):
        threshold = queries[start][1]
        end = start + 1
        while end < len(queries) and queries[end][1] == threshold:
            end += 1
        results.extend(node.matcher.match_signals([s for s, _ in queries[start:end]], threshold))
        start = end
    return results


# -- the servicer ------------------------------------------------------------------------------


class LocalServicer(local_pb2_grpc.LocalServiceServicer):
    """hashfed.v1.LocalService over a :class:`NodeRunner`."""

    def __init__(self, runner: NodeRunner) -> None:
        self._runner = runner
        self._node = runner.node  # only to name methods for runner.call

    async def MatchSignal(  # noqa: N802 (gRPC method names)
        self,
        request: local_pb2.MatchSignalRequest,
        context: Context[local_pb2.MatchSignalRequest, local_pb2.MatchResponse],
    ) -> local_pb2.MatchResponse:
        query = signal_query(request.query)
        [result] = await self._runner.call(match_queries, self._node, [query])
        return match_response(result)

    async def MatchMedia(  # noqa: N802
        self,
        request: local_pb2.MatchMediaRequest,
        context: Context[local_pb2.MatchMediaRequest, local_pb2.MatchResponse],
    ) -> local_pb2.MatchResponse:
        threshold = request.pdq_threshold if request.HasField("pdq_threshold") else None
        name = file_name_field(request.file_name)
        result = await self._runner.call(
            self._node.matcher.match_media, request.content, name, threshold
        )
        return match_response(result)

    async def StreamMatches(  # noqa: N802
        self,
        request_iterator: AsyncIterator[local_pb2.StreamMatchesRequest],
        context: Context[local_pb2.StreamMatchesRequest, local_pb2.StreamMatchesResponse],
    ) -> AsyncIterator[local_pb2.StreamMatchesResponse]:
        number = 0
        async for request in request_iterator:
            count = len(request.queries)
            if count > MAX_QUERIES_PER_MESSAGE:
                raise InvalidInputError(
                    f"message {number} has {count} queries; at most "
                    f"{MAX_QUERIES_PER_MESSAGE} per message (split them over more messages)"
                )
            queries = [
                signal_query(q, f"message {number}, query {i}")
                for i, q in enumerate(request.queries)
            ]
            results = await self._runner.call(match_queries, self._node, queries)
            yield stream_matches_response(results)
            number += 1

    async def PublishMedia(  # noqa: N802
        self,
        request: local_pb2.PublishMediaRequest,
        context: Context[local_pb2.PublishMediaRequest, local_pb2.PublishResponse],
    ) -> local_pb2.PublishResponse:
        name = file_name_field(request.file_name)
        labels = labels_from_pb(request.labels)
        report = await self._runner.call(
            self._node.publisher.publish_media, request.content, name, labels, request.note
        )
        return publish_response(report)

    async def PublishSignals(  # noqa: N802
        self,
        request: local_pb2.PublishSignalsRequest,
        context: Context[local_pb2.PublishSignalsRequest, local_pb2.PublishResponse],
    ) -> local_pb2.PublishResponse:
        signals = computed_signals(request)
        labels = labels_from_pb(request.labels)
        report = await self._runner.call(
            self._node.publisher.publish_signals, signals, labels, request.note
        )
        return publish_response(report)

    async def RetractEntry(  # noqa: N802
        self,
        request: local_pb2.RetractEntryRequest,
        context: Context[local_pb2.RetractEntryRequest, local_pb2.PublishResponse],
    ) -> local_pb2.PublishResponse:
        index = log_index(request.entry_index)
        report = await self._runner.call(self._node.publisher.retract, index, request.reason)
        return publish_response(report)

    async def CreateOpinion(  # noqa: N802
        self,
        request: local_pb2.CreateOpinionRequest,
        context: Context[local_pb2.CreateOpinionRequest, local_pb2.PublishResponse],
    ) -> local_pb2.PublishResponse:
        origin = origin_field(request.origin)
        verdict = verdict_from_pb(request.verdict)
        index = log_index(request.entry_index)
        report = await self._runner.call(
            self._node.publisher.opinion,
            origin,
            index,
            verdict,
            agrees_with_labels=request.agrees_with_labels,
        )
        return publish_response(report)

    async def GetProvenanceBundle(  # noqa: N802
        self,
        request: local_pb2.GetProvenanceBundleRequest,
        context: Context[local_pb2.GetProvenanceBundleRequest, local_pb2.ProvenanceBundle],
    ) -> local_pb2.ProvenanceBundle:
        origin = origin_field(request.origin)
        index = log_index(request.entry_index)
        bundle = await self._runner.call(self._node.reader.bundle, origin, index)
        return local_pb2.ProvenanceBundle(json=bundle.to_json())
