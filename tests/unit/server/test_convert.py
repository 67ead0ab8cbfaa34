"""Protobuf <-> facade conversions of the local API, and their refusals."""

from __future__ import annotations

import pytest

from node._proto.hashfed.v1 import entry_pb2, local_pb2
from node.errors import InvalidInputError, InvalidSignalError, UnknownSignalTypeError
from node.log.entry import Labels, Verdict
from node.results import Match, OpinionSummary, QueryResult, SignalDistance
from node.server.convert import (
    computed_signals,
    labels_from_pb,
    log_index,
    match_response,
    signal_query,
    verdict_from_pb,
)

PDQ = "f" * 64
MD5 = "0123456789abcdef" * 2


def test_signal_query_with_and_without_threshold() -> None:
    signal, threshold = signal_query(local_pb2.SignalQuery(type="pdq", value=PDQ))
    assert (str(signal), threshold) == (f"pdq:{PDQ}", None)
    _, threshold = signal_query(local_pb2.SignalQuery(type="pdq", value=PDQ, threshold=0))
    assert threshold == 0  # presence, not truthiness


def test_signal_query_errors_name_the_query_and_keep_their_class() -> None:
    with pytest.raises(InvalidSignalError, match="message 2, query 7: pdq value has 3 hex"):
        signal_query(local_pb2.SignalQuery(type="pdq", value="abc"), "message 2, query 7")
    with pytest.raises(UnknownSignalTypeError, match="query"):
        signal_query(local_pb2.SignalQuery(type="photodna", value="00"))
    with pytest.raises(InvalidInputError, match="signal type is missing"):
        signal_query(local_pb2.SignalQuery(value=PDQ))


def test_pdq_quality_goes_to_the_pdq_signal_only() -> None:
    request = local_pb2.PublishSignalsRequest(
        signals=[
            local_pb2.SignalQuery(type="pdq", value=PDQ),
            local_pb2.SignalQuery(type="md5", value=MD5),
        ],
        pdq_quality=77,
    )
    assert [(c.signal.type, c.quality) for c in computed_signals(request)] == [
        ("pdq", 77),
        ("md5", None),
    ]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            local_pb2.PublishSignalsRequest(
                signals=[local_pb2.SignalQuery(type="md5", value=MD5)], pdq_quality=80
            ),
            "no pdq signal",
        ),
        (
            local_pb2.PublishSignalsRequest(
                signals=[local_pb2.SignalQuery(type="pdq", value=PDQ)], pdq_quality=101
            ),
            "outside 0..100",
        ),
        (
            local_pb2.PublishSignalsRequest(
                signals=[local_pb2.SignalQuery(type="pdq", value=PDQ, threshold=3)]
            ),
            "threshold means nothing",
        ),
    ],
)
def test_publish_signals_refusals(request_: local_pb2.PublishSignalsRequest, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        computed_signals(request_)


def test_verdicts() -> None:
    assert verdict_from_pb(entry_pb2.OpinionStatement.TRUE_POSITIVE) is Verdict.TRUE_POSITIVE
    assert verdict_from_pb(entry_pb2.OpinionStatement.FALSE_POSITIVE) is Verdict.FALSE_POSITIVE
    assert verdict_from_pb(entry_pb2.OpinionStatement.DISPUTED) is Verdict.DISPUTED
    with pytest.raises(InvalidInputError, match="verdict is missing"):
        verdict_from_pb(entry_pb2.OpinionStatement.VERDICT_UNSPECIFIED)
    with pytest.raises(InvalidInputError, match="unknown verdict 42"):
        verdict_from_pb(42)


def test_log_index_refuses_what_sqlite_cannot_hold() -> None:
    assert log_index(2**63 - 1) == 2**63 - 1
    with pytest.raises(InvalidInputError, match="tree_size 18446744073709551615 is too large"):
        log_index(2**64 - 1, "tree_size")


def test_labels_and_match_response() -> None:
    labels = labels_from_pb(
        entry_pb2.Labels(entity="E", content_type="image", behaviours=["b"], tags=["t1", "t2"])
    )
    assert labels == Labels("E", "image", ("b",), ("t1", "t2"))
    result = QueryResult(
        "pdq:" + PDQ,
        (
            Match(
                "pdq:" + PDQ,
                "acme.example",
                3,
                (SignalDistance("pdq", 4),),
                labels,
                "note",
                OpinionSummary(1, 2, 3, 4, 5),
            ),
        ),
    )
    response = match_response(result)
    assert response.query == "pdq:" + PDQ
    [m] = response.matches
    assert (m.origin, m.entry_index, m.note) == ("acme.example", 3, "note")
    assert [(s.type, s.distance) for s in m.signals] == [("pdq", 4)]
    assert labels_from_pb(m.labels) == labels
    assert (m.opinions.true_positive, m.opinions.disagree_labels) == (1, 5)
