"""StreamMatches / MatchSignal replies carry every field of the facade's results, witnessing too."""

from __future__ import annotations

from node._proto.hashfed.v1 import local_pb2
from node.log.entry import Labels
from node.results import Match, OpinionSummary, QueryResult, SignalDistance, Witnessing
from node.server.convert import labels_from_pb, match_response, stream_matches_response

QUERY = "pdq:" + "ab" * 32


def _match(index: int, witnessing: Witnessing | None, **changes: object) -> Match:
    fields: dict[str, object] = {
        "query": QUERY,
        "origin": "acme.example",
        "entry_index": index,
        "signals": (SignalDistance("pdq", 4), SignalDistance("phash", 0)),
        "labels": Labels("E", "image", ("glorification",), ("t1", "t2")),
        "note": "a note",
        "opinions": OpinionSummary(1, 2, 3, 4, 5),
        "witnessing": witnessing,
    }
    fields.update(changes)
    return Match(**fields)  # type: ignore[arg-type]


RESULTS = [
    QueryResult(QUERY, ()),
    QueryResult(
        QUERY,
        (
            _match(0, None),
            _match(2**40, Witnessing(17, ("w1.example", "w2.example"), 2)),
            _match(5, Witnessing(None, ("w1.example",), 3)),
            # Zero values everywhere: proto3 leaves them out, a reader sees the same values.
            _match(
                0,
                Witnessing(None, (), 0),
                origin="b.example",
                signals=(),
                labels=Labels(),
                note="",
                opinions=OpinionSummary(),
            ),
        ),
    ),
]


def _check(pb: local_pb2.MatchResponse, result: QueryResult) -> None:
    assert pb.query == result.query
    assert len(pb.matches) == len(result.matches)
    for m, want in zip(pb.matches, result.matches, strict=True):
        assert (m.origin, m.entry_index, m.note) == (want.origin, want.entry_index, want.note)
        assert [(s.type, s.distance) for s in m.signals] == [
            (s.type, s.distance) for s in want.signals
        ]
        assert labels_from_pb(m.labels) == want.labels
        o = want.opinions
        assert (
            m.opinions.true_positive,
            m.opinions.false_positive,
            m.opinions.disputed,
            m.opinions.agree_labels,
            m.opinions.disagree_labels,
        ) == (o.true_positive, o.false_positive, o.disputed, o.agree_labels, o.disagree_labels)
        w = want.witnessing
        if w is None:
            assert not m.HasField("witnessing")
            continue
        assert m.HasField("witnessing")
        assert m.witnessing.witnessed == w.witnessed
        assert m.witnessing.checkpoint_size == (w.checkpoint_size or 0)
        assert m.witnessing.witnesses == len(w.witnesses)
        assert m.witnessing.required == w.required
        assert tuple(m.witnessing.witness_names) == w.witnesses


def test_stream_reply_round_trips_every_field() -> None:
    wire = stream_matches_response(RESULTS).SerializeToString()
    decoded = local_pb2.StreamMatchesResponse.FromString(wire)
    assert len(decoded.results) == len(RESULTS)
    for pb, result in zip(decoded.results, RESULTS, strict=True):
        _check(pb, result)


def test_unary_reply_is_the_stream_reply_of_one() -> None:
    for result in RESULTS:
        single = match_response(result)
        _check(local_pb2.MatchResponse.FromString(single.SerializeToString()), result)
        assert stream_matches_response([result]).results[0] == single


def test_witnessing_fields_follow_the_facade() -> None:
    witnessed = _match(1, Witnessing(9, ("w.example",), 1))
    [m] = match_response(QueryResult(QUERY, (witnessed,))).matches
    assert m.witnessing.witnessed and m.witnessing.checkpoint_size == 9
    unwitnessed = _match(1, Witnessing(None, ("w.example",), 2))
    [m] = match_response(QueryResult(QUERY, (unwitnessed,))).matches
    assert not m.witnessing.witnessed and m.witnessing.checkpoint_size == 0
    assert (m.witnessing.witnesses, m.witnessing.required) == (1, 2)


def test_an_empty_stream_message_has_no_results() -> None:
    assert stream_matches_response([]).SerializeToString() == b""
