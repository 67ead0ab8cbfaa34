"""The local gRPC API over a real server on 127.0.0.1: real node, real SQLite, real media.

Also: the bearer token when the local API is bound beyond loopback, freshness after a publish
by another process, and ``hashfed serve`` stopping cleanly on SIGTERM and SIGINT.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from node._proto.hashfed.v1 import entry_pb2, local_pb2, local_pb2_grpc
from node.core import Node
from node.errors import HashfedError, InvalidInputError
from node.hashing import hash_media
from node.log.bundle import Bundle
from node.testing import sample_media
from node.testing.background import BackgroundNode
from tests.support.paths import ROOT

ORIGIN = "acme.example"


@pytest.fixture
def served(home: Path) -> Iterator[BackgroundNode]:
    with BackgroundNode(home) as node:
        yield node


@pytest.fixture
def stub(served: BackgroundNode) -> Iterator[Any]:
    with grpc.insecure_channel(served.local_address) as channel:
        yield local_pb2_grpc.LocalServiceStub(channel)


def _pdq_of(image_bytes: bytes) -> str:
    return next(
        c.signal.hex for c in hash_media(image_bytes, name="x.png") if c.signal.type == "pdq"
    )


def _query(type_: str, value: str, threshold: int | None = None) -> local_pb2.SignalQuery:
    if threshold is None:
        return local_pb2.SignalQuery(type=type_, value=value)
    return local_pb2.SignalQuery(type=type_, value=value, threshold=threshold)


def _rpc_error(call: Any, request: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, **kwargs)
    return info.value


LABELS = entry_pb2.Labels(
    entity="Example Front", content_type="image", behaviours=["glorification"], tags=["t1"]
)


def test_publish_media_then_match_media_and_signal(stub: Any) -> None:
    image = sample_media.generate(1)
    png = sample_media.png_bytes(image)
    published = stub.PublishMedia(
        local_pb2.PublishMediaRequest(
            content=png, file_name="original.png", labels=LABELS, note="report 1"
        )
    )
    assert [(e.origin, e.entry_index, e.kind) for e in published.entries] == [(ORIGIN, 0, "ADD")]
    assert published.checkpoint_size == 1
    assert len(bytes.fromhex(published.checkpoint_root)) == 32

    # A re-encoded, resized copy still matches by PDQ (the file hashes differ).
    copy = sample_media.jpeg_bytes(sample_media.resized(image))
    result = stub.MatchMedia(local_pb2.MatchMediaRequest(content=copy, file_name="copy.jpg"))
    assert result.query == "copy.jpg"
    [match] = result.matches
    assert (match.origin, match.entry_index, match.note) == (ORIGIN, 0, "report 1")
    assert match.labels == LABELS
    distances = {s.type: s.distance for s in match.signals}
    assert distances["pdq"] <= 31
    assert "md5" not in distances

    # A strict PDQ threshold excludes the copy; the exact original still matches every type.
    strict = stub.MatchMedia(
        local_pb2.MatchMediaRequest(content=copy, file_name="copy.jpg", pdq_threshold=0)
    )
    assert all(s.type != "pdq" for m in strict.matches for s in m.signals) or distances["pdq"] == 0
    exact = stub.MatchMedia(local_pb2.MatchMediaRequest(content=png, file_name="o.png"))
    assert {s.type for s in exact.matches[0].signals} >= {"pdq", "md5", "sha256"}

    pdq = _pdq_of(png)
    by_signal = stub.MatchSignal(local_pb2.MatchSignalRequest(query=_query("pdq", pdq)))
    assert by_signal.query == f"pdq:{pdq}"
    assert [(m.origin, m.entry_index) for m in by_signal.matches] == [(ORIGIN, 0)]
    assert by_signal.matches[0].signals[0].distance == 0

    unrelated = _pdq_of(sample_media.png_bytes(sample_media.generate(99_999)))
    nothing = stub.MatchSignal(local_pb2.MatchSignalRequest(query=_query("pdq", unrelated)))
    assert list(nothing.matches) == []


def test_stream_matches_many_queries_per_message_in_order(stub: Any) -> None:
    rng = random.Random(7)
    shared = [rng.randbytes(32).hex() for _ in range(20)]
    for value in shared:
        stub.PublishSignals(
            local_pb2.PublishSignalsRequest(
                signals=[_query("pdq", value)], pdq_quality=90, labels=LABELS
            )
        )
    messages: list[list[tuple[str, int | None]]] = []
    for _ in range(4):
        wanted = []
        for _ in range(500):
            if rng.random() < 0.2:
                value = rng.choice(shared)
                flip = rng.randrange(256)  # one bit off: distance 1
                value = (int(value, 16) ^ (1 << flip)).to_bytes(32, "big").hex()
                wanted.append((value, 1))
            else:
                wanted.append((rng.randbytes(32).hex(), None))
        messages.append(wanted)

    requests = [
        local_pb2.StreamMatchesRequest(queries=[_query("pdq", v) for v, _ in wanted])
        for wanted in messages
    ]
    responses = list(stub.StreamMatches(iter(requests)))
    assert len(responses) == len(messages)
    for wanted, response in zip(messages, responses, strict=True):
        assert len(response.results) == len(wanted)
        for (value, distance), result in zip(wanted, response.results, strict=True):
            assert result.query == f"pdq:{value}"
            if distance is None:
                assert list(result.matches) == []  # random 256-bit values are ~128 bits apart
            else:
                [m] = result.matches
                assert m.origin == ORIGIN
                assert m.signals[0].distance == distance

    # Per-query thresholds: distance 1 is excluded at threshold 0.
    near = (int(shared[0], 16) ^ 1).to_bytes(32, "big").hex()
    [response] = stub.StreamMatches(
        iter(
            [local_pb2.StreamMatchesRequest(queries=[_query("pdq", near, 0), _query("pdq", near)])]
        )
    )
    assert [len(r.matches) for r in response.results] == [0, 1]


def test_stream_matches_refuses_more_than_1000_queries_per_message(stub: Any) -> None:
    too_many = local_pb2.StreamMatchesRequest(queries=[_query("md5", "00" * 16)] * 1001)
    with pytest.raises(grpc.RpcError) as info:
        list(stub.StreamMatches(iter([too_many])))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "1001 queries; at most 1000 per message" in info.value.details()

    bad = local_pb2.StreamMatchesRequest(queries=[_query("md5", "00" * 16), _query("md5", "zz")])
    ok = local_pb2.StreamMatchesRequest(queries=[_query("md5", "00" * 16)])
    with pytest.raises(grpc.RpcError) as info:
        list(stub.StreamMatches(iter([ok, bad])))
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.details().startswith("message 1, query 1: md5 value has 2 hex digits")


def test_retract_then_no_match_opinion_and_bundle(stub: Any, home: Path) -> None:
    values = [random.Random(i).randbytes(32).hex() for i in range(2)]
    for value in values:
        stub.PublishSignals(
            local_pb2.PublishSignalsRequest(signals=[_query("pdq", value)], labels=LABELS)
        )

    opinion = stub.CreateOpinion(
        local_pb2.CreateOpinionRequest(
            origin=ORIGIN,
            entry_index=1,
            verdict=entry_pb2.OpinionStatement.TRUE_POSITIVE,
            agrees_with_labels=False,
        )
    )
    assert [(e.entry_index, e.kind) for e in opinion.entries] == [(2, "OPINION")]
    [m] = stub.MatchSignal(local_pb2.MatchSignalRequest(query=_query("pdq", values[1]))).matches
    assert (m.opinions.true_positive, m.opinions.disagree_labels) == (1, 1)

    retracted = stub.RetractEntry(local_pb2.RetractEntryRequest(entry_index=0, reason="mistake"))
    assert [(e.entry_index, e.kind) for e in retracted.entries] == [(3, "RETRACT")]
    assert retracted.checkpoint_size == 4
    gone = stub.MatchSignal(local_pb2.MatchSignalRequest(query=_query("pdq", values[0])))
    assert list(gone.matches) == []

    bundle_json = stub.GetProvenanceBundle(
        local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=1)
    ).json
    with Node.open(home) as node:
        key = node.verifier
    checkpoint = Bundle.from_json(bundle_json).verify(key)
    assert checkpoint.checkpoint.size == 4


def test_errors_map_to_status_codes_with_readable_details(stub: Any) -> None:
    pdq = "ab" * 32
    cases: list[tuple[Any, Any, grpc.StatusCode, str, str]] = [
        (
            stub.MatchSignal,
            local_pb2.MatchSignalRequest(query=_query("pdq", "xyz")),
            grpc.StatusCode.INVALID_ARGUMENT,
            "pdq value has 3 hex digits; expected 64",
            "InvalidSignalError",
        ),
        (
            stub.MatchSignal,
            local_pb2.MatchSignalRequest(query=_query("pdq", pdq, 300)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "threshold 300 for pdq is outside 0..256",
            "InvalidInputError",
        ),
        (
            stub.PublishSignals,
            local_pb2.PublishSignalsRequest(signals=[_query("pdq", pdq)], pdq_quality=20),
            grpc.StatusCode.INVALID_ARGUMENT,
            "PDQ quality 20 is below 50",
            "LowQualityError",
        ),
        (
            stub.MatchMedia,
            local_pb2.MatchMediaRequest(content=b"", file_name="empty.png"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "file is empty",
            "MediaError",
        ),
        (
            stub.RetractEntry,
            local_pb2.RetractEntryRequest(entry_index=5),
            grpc.StatusCode.NOT_FOUND,
            "has no entry 5",
            "NotFoundError",
        ),
        (
            stub.GetProvenanceBundle,
            local_pb2.GetProvenanceBundleRequest(origin="nobody.example", entry_index=0),
            grpc.StatusCode.NOT_FOUND,
            "nobody.example",
            "NotFoundError",
        ),
        (
            stub.GetProvenanceBundle,
            local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=2**64 - 1),
            grpc.StatusCode.INVALID_ARGUMENT,
            "entry_index 18446744073709551615 is too large",
            "InvalidInputError",
        ),
        (
            stub.CreateOpinion,
            local_pb2.CreateOpinionRequest(origin=ORIGIN, entry_index=0),
            grpc.StatusCode.INVALID_ARGUMENT,
            "verdict is missing",
            "InvalidInputError",
        ),
    ]
    for call, request, code, details, error_class in cases:
        error = _rpc_error(call, request)
        assert error.code() is code, (request, error.details())
        assert details in error.details(), (request, error.details())
        assert ("hashfed-error", error_class) in tuple(error.trailing_metadata()), request


def test_publish_by_another_process_is_visible_within_a_second(stub: Any, home: Path) -> None:
    value = random.Random(42).randbytes(32).hex()
    query = local_pb2.MatchSignalRequest(query=_query("pdq", value))
    assert list(stub.MatchSignal(query).matches) == []
    env = {**os.environ, "HASHFED_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "node.cli.main", "add", "--signal", f"pdq:{value}"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    published = time.monotonic()
    while not stub.MatchSignal(query).matches:
        assert time.monotonic() - published < 1.0, "the publish was not visible within 1 s"
        time.sleep(0.02)


def test_in_flight_stream_finishes_during_graceful_stop(home: Path) -> None:
    served = BackgroundNode(home)
    served.start()
    stopped = None
    try:
        with grpc.insecure_channel(served.local_address) as channel:
            stub = local_pb2_grpc.LocalServiceStub(channel)
            outbox: queue.Queue[local_pb2.StreamMatchesRequest | None] = queue.Queue()

            def feed() -> Iterator[local_pb2.StreamMatchesRequest]:
                while (item := outbox.get()) is not None:
                    yield item

            request = local_pb2.StreamMatchesRequest(queries=[_query("md5", "00" * 16)])
            responses = stub.StreamMatches(feed())
            outbox.put(request)
            assert len(next(responses).results) == 1
            stopped = served.submit(served.running.stop(grace=5.0))
            time.sleep(0.2)  # the server now refuses new calls but this one is in flight
            outbox.put(request)
            assert len(next(responses).results) == 1
            outbox.put(None)
            assert list(responses) == []
            stopped.result(timeout=10)
            with pytest.raises(grpc.RpcError) as info:
                stub.MatchSignal(local_pb2.MatchSignalRequest(query=_query("md5", "00" * 16)))
            assert info.value.code() is grpc.StatusCode.UNAVAILABLE
    finally:
        if stopped is not None:
            stopped.result(timeout=10)
        served.stop()


def test_local_api_beyond_loopback_requires_the_token(home: Path) -> None:
    with Node.open(home) as node:
        token = node.config.local_token
    assert token
    with (
        BackgroundNode(home, local_address="0.0.0.0:0") as served,
        grpc.insecure_channel(f"127.0.0.1:{served.running.local_port}") as channel,
    ):
        assert served.local_address.startswith("0.0.0.0:")
        stub = local_pb2_grpc.LocalServiceStub(channel)
        request = local_pb2.MatchSignalRequest(query=_query("md5", "00" * 16))

        error = _rpc_error(stub.MatchSignal, request)
        assert error.code() is grpc.StatusCode.UNAUTHENTICATED
        assert "token is required because the local API is bound beyond loopback" in (
            error.details()
        )
        for wrong in (f"Bearer {token}x", "Bearer nope", token):
            error = _rpc_error(stub.MatchSignal, request, metadata=[("authorization", wrong)])
            assert error.code() is grpc.StatusCode.UNAUTHENTICATED
            assert token not in error.details()
        # Streaming calls are guarded too.
        with pytest.raises(grpc.RpcError) as info:
            list(stub.StreamMatches(iter([local_pb2.StreamMatchesRequest()])))
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED

        answer = stub.MatchSignal(request, metadata=[("authorization", f"Bearer {token}")])
        assert answer.query == "md5:" + "00" * 16

        # Health stays open for orchestrators' probes, which cannot send metadata.
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(service="hashfed.v1.LocalService"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_beyond_loopback_without_a_configured_token_refuses_to_start(home: Path) -> None:
    config = home / "config.toml"
    lines = config.read_text(encoding="utf-8").splitlines()
    config.write_text(
        "\n".join(line for line in lines if not line.startswith("local_token")) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(
        InvalidInputError, match="beyond loopback, but the node's config\\.toml has no"
    ):
        BackgroundNode(home, local_address="0.0.0.0:0").start()
    with BackgroundNode(home) as served:  # loopback needs none
        assert served.local_address.startswith("127.0.0.1:")


def test_loopback_needs_no_token_health_and_reflection(served: BackgroundNode) -> None:
    with grpc.insecure_channel(served.local_address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "hashfed.v1.LocalService", "hashfed.v1.FederationService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        [response] = list(reflection.ServerReflectionInfo(iter([request])))
        names = {s.name for s in response.list_services_response.service}
        assert names == {
            "hashfed.v1.LocalService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
        }


def test_address_in_use_is_an_error_and_leaves_nothing_running(
    served: BackgroundNode, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    Node.init(other, "other.example").close()
    threads = threading.active_count()
    for taken in ({"local_address": served.local_address}, {"peer_address": served.peer_address}):
        with pytest.raises(
            HashfedError,
            match=r"cannot listen on 127\.0\.0\.1:\d+ for the \w+ API: the address is in use",
        ):
            BackgroundNode(other, **taken).start()
    assert threading.active_count() == threads


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_signal(home: Path, signum: signal.Signals) -> None:
    command = [
        sys.executable,
        "-m",
        "node.cli.serve",
        "--home",
        str(home),
        "--peer-address",
        "127.0.0.1:0",
        "--local-address",
        "127.0.0.1:0",
        "--no-sync",
        "--json",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = json.loads(process.stdout.readline())
        assert line["origin"] == ORIGIN
        assert set(line) == {"origin", "peer_address", "local_address"}
        with grpc.insecure_channel(line["local_address"]) as channel:
            stub = local_pb2_grpc.LocalServiceStub(channel)
            query = local_pb2.MatchSignalRequest(query=_query("md5", "00" * 16))
            assert stub.MatchSignal(query, timeout=5).query == "md5:" + "00" * 16
        started = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 0, stderr
        assert time.monotonic() - started < 5
        assert f"{signum.name} received: stopping" in stderr
        assert f"stopped {ORIGIN}" in stderr
        assert line["local_address"] in stderr  # start and stop lines name the addresses
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
