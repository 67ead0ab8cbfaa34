"""A served node saves its index snapshot on stop and starts from it; changes stay visible fast."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.log.entry import Labels
from node.service.index_snapshot import FOLDER_NAME, MANIFEST
from node.service.match_index import StartReport
from node.testing.background import BackgroundNode


def _start_report(served: BackgroundNode) -> StartReport:
    runner = served.running.runner

    def report(node: Node) -> StartReport:
        return node.index.start

    return served.run(runner.call(report, runner.node))


def _matches(stub: Any, value: str) -> list[int]:
    query = local_pb2.SignalQuery(type="pdq", value=value, threshold=0)
    response = stub.MatchSignal(local_pb2.MatchSignalRequest(query=query))
    return [m.entry_index for m in response.matches]


def _until(check: Callable[[], bool], timeout: float = 1.0) -> float:
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > timeout:
            raise AssertionError(f"not visible within {timeout} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def test_restart_uses_the_snapshot_and_follows_changes(home: Path) -> None:
    rng = random.Random(1)
    values = [rng.randbytes(32).hex() for _ in range(3000)]
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"pdq {v}" for v in values], Labels(entity="t"))

    with BackgroundNode(home) as served:
        assert _start_report(served).source == "store"
    manifest = json.loads((home / FOLDER_NAME / MANIFEST).read_text())
    assert manifest["store"]["rows"]["pdq"] == 3000

    with Node.open(home) as node:  # the store moves on while the node is down
        node.publisher.import_hash_list(
            [f"pdq {rng.randbytes(32).hex()}" for _ in range(5)], Labels()
        )

    with BackgroundNode(home) as served:
        report = _start_report(served)
        assert report.source == "snapshot", report.reason
        assert report.caught_up_rows == 5
        with grpc.insecure_channel(served.local_address) as channel:
            stub = local_pb2_grpc.LocalServiceStub(channel)
            assert _matches(stub, values[17]) == [17]
            # Published by this server: visible at once.
            fresh = rng.randbytes(32).hex()
            stub.PublishSignals(
                local_pb2.PublishSignalsRequest(
                    signals=[local_pb2.SignalQuery(type="pdq", value=fresh)]
                )
            )
            assert _matches(stub, fresh) == [3005]
            # Published and retracted by another process: visible within a second.
            other = rng.randbytes(32).hex()
            with Node.open(home) as node:
                node.publisher.import_hash_list([f"pdq {other}"], Labels())
                _until(lambda: _matches(stub, other) == [3006])
                node.publisher.retract(17)
                _until(lambda: _matches(stub, values[17]) == [])

    with BackgroundNode(home) as served:  # the snapshot written at the last stop is current
        report = _start_report(served)
        assert report.source == "snapshot" and report.caught_up_rows == 0, report
        with grpc.insecure_channel(served.local_address) as channel:
            stub = local_pb2_grpc.LocalServiceStub(channel)
            assert _matches(stub, values[17]) == []
            assert _matches(stub, other) == [3006]


def test_a_corrupt_snapshot_means_a_rebuild(home: Path) -> None:
    rng = random.Random(2)
    values = [rng.randbytes(32).hex() for _ in range(500)]
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"pdq {v}" for v in values], Labels(entity="t"))
    with BackgroundNode(home):
        pass
    manifest = json.loads((home / FOLDER_NAME / MANIFEST).read_text())
    words = next((home / FOLDER_NAME / manifest["generation"]).glob("*-pdq.words.npy"))
    raw = bytearray(words.read_bytes())
    raw[-1] ^= 1
    words.write_bytes(bytes(raw))
    with BackgroundNode(home) as served:
        report = _start_report(served)
        assert report.source == "store" and "SHA-256" in report.reason
        with grpc.insecure_channel(served.local_address) as channel:
            stub = local_pb2_grpc.LocalServiceStub(channel)
            assert _matches(stub, values[-1]) == [499]
