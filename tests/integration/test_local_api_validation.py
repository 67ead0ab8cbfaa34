"""Empty and absurd request fields on the local API get INVALID_ARGUMENT or NOT_FOUND, in words.

Issue 9, finding 7: ``GetProvenanceBundle(origin="")`` was INTERNAL (an assertion inside the
node), and a field far longer than any real value was echoed into the status details until
gRPC dropped the reply (the caller saw RESOURCE_EXHAUSTED "Stream removed", not its mistake).
A real node served on 127.0.0.1 port 0, a real gRPC client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from node._proto.hashfed.v1 import entry_pb2, local_pb2, local_pb2_grpc
from node.testing.background import BackgroundNode

ORIGIN = "acme.example"
MD5 = "ab" * 16
INVALID, NOT_FOUND = grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND


@pytest.fixture
def stub(home: Path) -> Iterator[Any]:
    with BackgroundNode(home) as served, grpc.insecure_channel(served.local_address) as channel:
        yield local_pb2_grpc.LocalServiceStub(channel)


def _publish_one(stub: Any) -> None:
    stub.PublishSignals(
        local_pb2.PublishSignalsRequest(
            signals=[local_pb2.SignalQuery(type="md5", value=MD5)],
            labels=entry_pb2.Labels(entity="E"),
        )
    )


def _refused(call: Any, request: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value


def _check(error: grpc.RpcError, code: grpc.StatusCode, words: str, error_class: str) -> None:
    assert (error.code(), words in error.details()) == (code, True), error.details()
    assert ("hashfed-error", error_class) in tuple(error.trailing_metadata())


def test_bundle_with_an_empty_origin_is_invalid_argument_before_and_after_a_publish(
    stub: Any,
) -> None:
    request = local_pb2.GetProvenanceBundleRequest(origin="", entry_index=0)
    _check(
        _refused(stub.GetProvenanceBundle, request),
        INVALID,
        "origin is missing",
        "InvalidInputError",
    )
    _publish_one(stub)  # with an entry to prove, the empty origin used to reach an assertion
    _check(
        _refused(stub.GetProvenanceBundle, request),
        INVALID,
        "origin is missing",
        "InvalidInputError",
    )
    # the same request with the origin named works
    bundle = stub.GetProvenanceBundle(
        local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=0)
    )
    assert bundle.json


@pytest.mark.parametrize("index", [1, 2**63 - 1])
def test_bundle_of_an_index_beyond_the_log_is_not_found_with_the_log_size(
    stub: Any, index: int
) -> None:
    _publish_one(stub)
    request = local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=index)
    _check(
        _refused(stub.GetProvenanceBundle, request),
        NOT_FOUND,
        f"has no entry {index} (log size 1)",
        "NotFoundError",
    )


def test_opinion_with_an_empty_origin_is_invalid_argument(stub: Any) -> None:
    _publish_one(stub)
    request = local_pb2.CreateOpinionRequest(
        origin="", entry_index=0, verdict=entry_pb2.OpinionStatement.TRUE_POSITIVE
    )
    _check(_refused(stub.CreateOpinion, request), INVALID, "origin is missing", "InvalidInputError")


@pytest.mark.parametrize(
    ("method", "request_", "words"),
    [
        (
            "GetProvenanceBundle",
            local_pb2.GetProvenanceBundleRequest(origin="x" * 100_000),
            "origin has 100,000 characters; an origin name has at most 253",
        ),
        (
            "CreateOpinion",
            local_pb2.CreateOpinionRequest(
                origin="\x00" * 40_000, verdict=entry_pb2.OpinionStatement.TRUE_POSITIVE
            ),
            "origin has 40,000 characters",
        ),
        (
            "MatchSignal",
            local_pb2.MatchSignalRequest(query=local_pb2.SignalQuery(type="z" * 50_000, value=MD5)),
            "signal type has 50,000 characters",
        ),
        (
            "MatchMedia",
            local_pb2.MatchMediaRequest(content=b"not an image", file_name="a" * 20_000 + ".jpg"),
            "file_name has 20,004 characters; at most 255",
        ),
        (
            "PublishMedia",
            local_pb2.PublishMediaRequest(content=b"bytes", file_name="\x1b[2J" * 5_000),
            "file_name has 20,000 characters",
        ),
    ],
    ids=["bundle-origin", "opinion-origin", "signal-type", "match-file-name", "publish-file-name"],
)
def test_absurdly_long_fields_are_refused_in_words_not_by_a_dropped_stream(
    stub: Any, method: str, request_: Any, words: str
) -> None:
    _check(_refused(getattr(stub, method), request_), INVALID, words, "InvalidInputError")


def test_refused_requests_changed_nothing(stub: Any) -> None:
    with pytest.raises(grpc.RpcError):
        stub.PublishMedia(local_pb2.PublishMediaRequest(content=b"bytes", file_name="n" * 300))
    with pytest.raises(grpc.RpcError):
        stub.PublishSignals(
            local_pb2.PublishSignalsRequest(
                signals=[local_pb2.SignalQuery(type="m" * 40, value=MD5)]
            )
        )
    found = stub.MatchSignal(
        local_pb2.MatchSignalRequest(query=local_pb2.SignalQuery(type="md5", value=MD5))
    )
    assert list(found.matches) == []
    _publish_one(stub)  # the first real publish is still entry 0: nothing was appended before
    bundle = stub.GetProvenanceBundle(local_pb2.GetProvenanceBundleRequest(origin=ORIGIN))
    assert json.loads(bundle.json)["entry_index"] == 0
