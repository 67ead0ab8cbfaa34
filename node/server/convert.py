"""Protobuf messages <-> domain values, for both servicers: the server's one conversion module.

Requests become facade values here (and are refused here when they cannot be one, with the
field named); results become responses here. The servicers call these and nothing else touches
protobuf fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from node._proto.hashfed.v1 import entry_pb2, federation_pb2, local_pb2
from node.errors import InvalidInputError
from node.hashing import get_signal_type
from node.log.entry import Labels, Verdict
from node.results import PublishReport, QueryResult
from node.signals import ComputedSignal, Signal
from node.wire.limits import MAX_INDEX

SignalQuery = tuple[Signal, int | None]


# -- protobuf -> facade values -----------------------------------------------------------------


# Longest text of each kind a request may carry where the node names it back in an error: a
# status's details travel as metadata, and gRPC drops a reply whose metadata exceeds 16 KiB,
# which the caller then sees as a broken stream (RESOURCE_EXHAUSTED), not as its mistake.
MAX_ORIGIN_CHARS = 253  # an origin name is DNS-style (docs/protocol.md §1)
MAX_FILE_NAME_CHARS = 255  # NAME_MAX; only the extension is ever used
MAX_SIGNAL_TYPE_CHARS = 32


def origin_field(value: str, what: str = "origin") -> str:
    """An origin named in a request: present, and no longer than an origin name can be."""
    if not value:
        raise InvalidInputError(
            f"{what} is missing: name the origin whose log is meant, e.g. acme.example"
        )
    if len(value) > MAX_ORIGIN_CHARS:
        raise InvalidInputError(
            f"{what} has {len(value):,} characters; an origin name has at most {MAX_ORIGIN_CHARS}"
        )
    return value


def file_name_field(value: str) -> str:
    if len(value) > MAX_FILE_NAME_CHARS:
        raise InvalidInputError(
            f"file_name has {len(value):,} characters; at most {MAX_FILE_NAME_CHARS} (only its "
            "extension is used: it says whether the content must be an image)"
        )
    return value


def signal_query(query: local_pb2.SignalQuery, where: str = "query") -> SignalQuery:
    """A parsed signal and its threshold (None: the type's default)."""
    if not query.type:
        raise InvalidInputError(f"{where}: signal type is missing (pdq, phash, dhash, md5, sha256)")
    if len(query.type) > MAX_SIGNAL_TYPE_CHARS:
        raise InvalidInputError(
            f"{where}: signal type has {len(query.type):,} characters; expected one of pdq, "
            "phash, dhash, md5, sha256"
        )
    try:
        signal = get_signal_type(query.type).parse(query.value)
    except InvalidInputError as exc:
        exc.args = (f"{where}: {exc}",)  # say which query, keep the precise error class
        raise
    return signal, (query.threshold if query.HasField("threshold") else None)


def labels_from_pb(labels: entry_pb2.Labels) -> Labels:
    return Labels(labels.entity, labels.content_type, tuple(labels.behaviours), tuple(labels.tags))


def computed_signals(request: local_pb2.PublishSignalsRequest) -> list[ComputedSignal]:
    """The signals of a PublishSignals request; ``pdq_quality`` belongs to the pdq signal."""
    signals = []
    for i, query in enumerate(request.signals):
        if query.HasField("threshold"):
            raise InvalidInputError(f"signals[{i}]: a threshold means nothing when publishing")
        signals.append(signal_query(query, f"signals[{i}]")[0])
    quality: int | None = None
    if request.HasField("pdq_quality"):
        quality = request.pdq_quality
        if quality > 100:
            raise InvalidInputError(f"pdq_quality {quality} is outside 0..100")
        if not any(s.type == "pdq" for s in signals):
            raise InvalidInputError("pdq_quality was given but there is no pdq signal")
    return [ComputedSignal(s, quality if s.type == "pdq" else None) for s in signals]


def verdict_from_pb(value: int) -> Verdict:
    if value == entry_pb2.OpinionStatement.VERDICT_UNSPECIFIED:
        raise InvalidInputError("verdict is missing: TRUE_POSITIVE, FALSE_POSITIVE or DISPUTED")
    try:
        name = entry_pb2.OpinionStatement.Verdict.Name(
            entry_pb2.OpinionStatement.Verdict.ValueType(value)
        )
    except ValueError as exc:
        raise InvalidInputError(f"unknown verdict {value}") from exc
    return Verdict[name]


def log_index(value: int, what: str = "entry_index") -> int:
    """A uint64 log index or size from the wire, refused when SQLite cannot hold it."""
    if value > MAX_INDEX:
        raise InvalidInputError(f"{what} {value} is too large (at most 2^63 - 1)")
    return value


# -- facade values -> protobuf -----------------------------------------------------------------


def labels_to_pb(labels: Labels) -> entry_pb2.Labels:
    return entry_pb2.Labels(
        entity=labels.entity,
        content_type=labels.content_type,
        behaviours=list(labels.behaviours),
        tags=list(labels.tags),
    )


def match_response(result: QueryResult) -> local_pb2.MatchResponse:
    response = local_pb2.MatchResponse()
    fill_match_response(response, result)
    return response


def stream_matches_response(results: Sequence[QueryResult]) -> local_pb2.StreamMatchesResponse:
    response = local_pb2.StreamMatchesResponse()
    add = response.results.add
    for result in results:
        fill_match_response(add(), result)
    return response


def fill_match_response(target: local_pb2.MatchResponse, result: QueryResult) -> None:
    """Write ``result`` into ``target`` in place.

    A StreamMatches reply carries up to 1,000 of these. Building each nested message with
    keyword arguments creates it standalone and then copies it into its parent; ``add()`` and
    field assignment write straight into the parent, and fields left at their zero value
    (most opinion counts, most labels) are simply not touched, which is what proto3 encodes.
    """
    target.query = result.query
    add = target.matches.add
    for m in result.matches:
        match = add()
        match.origin = m.origin
        match.entry_index = m.entry_index
        add_signal = match.signals.add
        for s in m.signals:
            signal = add_signal()
            signal.type = s.type
            signal.distance = s.distance
        labels = m.labels
        if labels.entity:
            match.labels.entity = labels.entity
        if labels.content_type:
            match.labels.content_type = labels.content_type
        if labels.behaviours:
            match.labels.behaviours.extend(labels.behaviours)
        if labels.tags:
            match.labels.tags.extend(labels.tags)
        if m.note:
            match.note = m.note
        o = m.opinions
        if o.true_positive or o.false_positive or o.disputed or o.agree_labels or o.disagree_labels:
            opinions = match.opinions
            opinions.true_positive = o.true_positive
            opinions.false_positive = o.false_positive
            opinions.disputed = o.disputed
            opinions.agree_labels = o.agree_labels
            opinions.disagree_labels = o.disagree_labels
        w = m.witnessing
        if w is not None:
            witnessing = match.witnessing
            # Set even when every field is zero: its presence says the policy was evaluated.
            witnessing.SetInParent()
            witnessing.witnessed = w.witnessed
            witnessing.checkpoint_size = w.checkpoint_size or 0
            witnessing.witnesses = len(w.witnesses)
            witnessing.required = w.required
            witnessing.witness_names.extend(w.witnesses)


def publish_response(report: PublishReport) -> local_pb2.PublishResponse:
    return local_pb2.PublishResponse(
        entries=[
            local_pb2.PublishedEntry(origin=e.origin, entry_index=e.entry_index, kind=e.kind)
            for e in report.entries
        ],
        checkpoint_size=report.checkpoint_size,
        checkpoint_root=report.checkpoint_root_hex,
    )


# -- FederationService responses ---------------------------------------------------------------


def node_info(
    origin: str, protocol_version: str, software_version: str, witness_key: str
) -> federation_pb2.NodeInfo:
    return federation_pb2.NodeInfo(
        origin=origin,
        protocol_version=protocol_version,
        software_version=software_version,
        witness_key=witness_key,
    )


def origins_response(checkpoints: Iterable[tuple[str, str]]) -> federation_pb2.ListOriginsResponse:
    """``(origin, signed checkpoint note)`` of every served origin."""
    return federation_pb2.ListOriginsResponse(
        origins=[
            federation_pb2.OriginCheckpoint(origin=origin, checkpoint=note)
            for origin, note in checkpoints
        ]
    )


def entry_batch(start: int, entries: list[bytes], proof: list[bytes]) -> federation_pb2.EntryBatch:
    return federation_pb2.EntryBatch(start_index=start, entries=entries, consistency_proof=proof)


def inclusion_proof(
    entry: bytes, hashes: list[bytes], checkpoint: str
) -> federation_pb2.InclusionProof:
    return federation_pb2.InclusionProof(entry=entry, hashes=hashes, checkpoint=checkpoint)


def consistency_proof(hashes: list[bytes]) -> federation_pb2.ConsistencyProof:
    return federation_pb2.ConsistencyProof(hashes=hashes)


def checkpoint_batch(notes: Iterable[str]) -> federation_pb2.CheckpointBatch:
    return federation_pb2.CheckpointBatch(checkpoints=list(notes))
