"""``to_json``: the one JSON helper gives every result the shape ``--json`` always printed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import pytest

from node.hashing import ComputedSignal, Signal
from node.log.entry import Labels
from node.results import (
    FileHashes,
    Match,
    OpinionSummary,
    Published,
    PublishReport,
    QueryResult,
    SignalDistance,
    Skipped,
    Witnessing,
    to_json,
    to_json_dict,
)

PDQ = Signal("pdq", bytes(range(32)))
LABELS = Labels(entity="E", tags=("t",))


def test_a_publish_report_nests_its_checkpoint() -> None:
    report = PublishReport(
        (Published("a.example", 3, "ADD", "x.png"),),
        4,
        "ab" * 32,
        (Skipped("a.example", (1, 2), "line 7"),),
    )
    assert to_json(report) == {
        "entries": [{"origin": "a.example", "entry_index": 3, "kind": "ADD", "source": "x.png"}],
        "skipped": [
            {
                "origin": "a.example",
                "entry_index": 1,
                "entry_indexes": [1, 2],
                "source": "line 7",
                "reason": "already published",
            }
        ],
        "checkpoint": {"size": 4, "root": "ab" * 32},
    }


def test_a_query_result_in_full() -> None:
    match = Match(
        "pdq:00",
        "a.example",
        5,
        (SignalDistance("pdq", 12),),
        LABELS,
        "a note",
        OpinionSummary(1, 0, 2, 1, 0),
        Witnessing(7, ("b.example", "c.example"), 2),
    )
    doc = to_json([QueryResult("pdq:00", (match,))])
    assert doc == [
        {
            "query": "pdq:00",
            "matches": [
                {
                    "query": "pdq:00",
                    "origin": "a.example",
                    "entry_index": 5,
                    "signals": [{"type": "pdq", "distance": 12}],
                    "labels": {"entity": "E", "content_type": "", "behaviours": [], "tags": ["t"]},
                    "note": "a note",
                    "opinions": {
                        "true_positive": 1,
                        "false_positive": 0,
                        "disputed": 2,
                        "agree_labels": 1,
                        "disagree_labels": 0,
                    },
                    "witnessing": {
                        "witnessed": True,
                        "checkpoint_size": 7,
                        "witnesses": 2,
                        "witness_names": ["b.example", "c.example"],
                        "required": 2,
                    },
                }
            ],
        }
    ]
    # Keys in the order the CLI always printed them.
    assert list(doc[0]["matches"][0]["witnessing"]) == [
        "witnessed",
        "checkpoint_size",
        "witnesses",
        "witness_names",
        "required",
    ]
    assert json.loads(json.dumps(doc)) == doc


def test_file_hashes_name_the_file_and_give_values_in_hex() -> None:
    hashes = FileHashes(
        "x.png", (ComputedSignal(PDQ, 90), ComputedSignal(Signal("md5", b"\1" * 16), None))
    )
    assert to_json(hashes) == {
        "file": "x.png",
        "signals": [
            {"type": "pdq", "value": PDQ.hex, "quality": 90},
            {"type": "md5", "value": "01" * 16, "quality": None},
        ],
    }


class _Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True)
class _Plain:
    is_self: bool = field(metadata={"json": "self"})
    colour: _Colour
    raw: bytes
    where: Path
    tags: frozenset[str]


def test_plain_dataclasses_enums_bytes_paths_and_renamed_fields() -> None:
    value = _Plain(True, _Colour.RED, b"\xff\x00", Path("/x/y"), frozenset({"t"}))
    assert to_json_dict(value) == {
        "self": True,
        "colour": "red",
        "raw": "ff00",
        "where": "/x/y",
        "tags": ["t"],
    }
    assert type(to_json(_Colour.RED)) is str


def test_what_has_no_json_form_is_refused() -> None:
    with pytest.raises(TypeError, match="object"):
        to_json(object())
    with pytest.raises(TypeError, match="not a JSON object"):
        to_json_dict([1])
