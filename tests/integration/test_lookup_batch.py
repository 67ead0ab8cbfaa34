"""StreamMatches answers a message of mixed queries exactly as MatchSignal answers each alone.

Over a real served node: bulk lookups take the batched search path (``MatchIndex.search_many``)
and the batched encoder, single lookups the one-query paths, so any difference between the two
paths (order, retracted rows, types, thresholds, fields) shows here.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.hashing import ComputedSignal, parse_signal
from node.log.entry import Labels
from node.testing.background import BackgroundNode

TYPES = {"pdq": 32, "phash": 8, "dhash": 8, "md5": 16, "sha256": 32}


def _flip(value: bytes, bits: int, rng: random.Random) -> bytes:
    number = int.from_bytes(value, "big")
    for bit in rng.sample(range(len(value) * 8), bits):
        number ^= 1 << bit
    return number.to_bytes(len(value), "big")


@pytest.fixture
def published(home: Path) -> list[tuple[str, bytes]]:
    """Clusters of near-identical hashes of every type, some retracted, some with opinions."""
    rng = random.Random(11)
    stored: list[tuple[str, bytes]] = []
    with Node.open(home) as node:
        for round_ in range(3):
            lines = []
            exact: list[list[ComputedSignal]] = []
            for name, size in TYPES.items():
                centre = rng.randbytes(size)
                for _ in range(12):
                    if name in ("pdq", "phash", "dhash"):
                        value = _flip(centre, rng.randrange(0, 6), rng)
                        lines.append(f"{name} {value.hex()}")
                        stored.append((name, value))
                        continue
                    # One origin publishes a hash live once; items that share an exact hash
                    # differ in another one (the same MD5 found beside different SHA-256s).
                    other = "sha256" if name == "md5" else "md5"
                    partner = rng.randbytes(TYPES[other])
                    stored.extend([(name, centre), (other, partner)])
                    exact.append(
                        [
                            ComputedSignal(parse_signal(f"{name}:{centre.hex()}"), None),
                            ComputedSignal(parse_signal(f"{other}:{partner.hex()}"), None),
                        ]
                    )
            labels = Labels(entity=f"E{round_}", behaviours=("glorification",), tags=("t",))
            report = node.publisher.import_hash_list(lines, labels, note=f"round {round_}")
            entries = list(report.entries)
            for signals in exact:
                entries.extend(node.publisher.publish_signals(signals, labels).entries)
            for entry in entries[::7]:
                node.publisher.retract(entry.entry_index)
    return stored


@pytest.fixture
def stub(home: Path, published: list[tuple[str, bytes]]) -> Iterator[Any]:
    with (
        BackgroundNode(home) as served,
        grpc.insecure_channel(served.local_address) as channel,
    ):
        yield local_pb2_grpc.LocalServiceStub(channel)


@pytest.mark.parametrize("threshold", [None, 0, 8, 31])
def test_stream_equals_match_signal_one_by_one(
    stub: Any, published: list[tuple[str, bytes]], threshold: int | None
) -> None:
    rng = random.Random(threshold)
    queries = []
    for _ in range(120):
        name, value = rng.choice(published)
        if name in ("pdq", "phash", "dhash") and rng.random() < 0.7:
            value = _flip(value, rng.randrange(0, 12), rng)
        elif rng.random() < 0.2:
            value = rng.randbytes(len(value))  # matches nothing
        query = local_pb2.SignalQuery(type=name, value=value.hex())
        if threshold is not None and (name == "pdq" or threshold <= 8):
            query.threshold = threshold
        queries.append(query)
    # Two messages, so thresholds differ within one (the servicer splits runs of them).
    messages = [
        local_pb2.StreamMatchesRequest(queries=queries[:70]),
        local_pb2.StreamMatchesRequest(queries=queries[70:]),
    ]
    streamed = [result for reply in stub.StreamMatches(iter(messages)) for result in reply.results]
    alone = [stub.MatchSignal(local_pb2.MatchSignalRequest(query=q)) for q in queries]
    assert streamed == alone
    # The comparison means something only if many queries matched, several rows at once.
    assert sum(len(r.matches) > 1 for r in alone) >= 10
