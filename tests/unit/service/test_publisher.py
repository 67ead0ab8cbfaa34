"""The publisher: one signed checkpoint per call, duplicates skipped, refusals store nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core import Node
from node.errors import IdentityError, InvalidInputError, NotFoundError
from node.log.entry import Labels, Verdict

LINES = ["md5 " + "11" * 16, "md5 " + "22" * 16]


def test_a_list_is_one_checkpoint_and_a_rerun_appends_nothing(home: Path) -> None:
    with Node.open(home) as node:
        first = node.publisher.import_hash_list(LINES, Labels(entity="E"))
        assert [e.entry_index for e in first.entries] == [0, 1]
        assert first.checkpoint_size == 2
        again = node.publisher.import_hash_list(LINES, Labels(entity="other labels"))
        assert again.entries == ()
        assert [(s.entry_index, s.source) for s in again.skipped] == [(0, "line 1"), (1, "line 2")]
        assert again.checkpoint_root_hex == first.checkpoint_root_hex
        assert node.reader.checkpoint().size == 2


def test_refused_retractions_and_opinions_store_nothing(home: Path) -> None:
    with Node.open(home) as node:
        node.publisher.import_hash_list(LINES[:1], Labels())
        node.publisher.retract(0, "mistake")
        with pytest.raises(InvalidInputError, match="already retracted"):
            node.publisher.retract(0)
        with pytest.raises(NotFoundError, match="no entry 5"):
            node.publisher.retract(5)
        with pytest.raises(InvalidInputError, match="not an ADD"):
            node.publisher.opinion(
                "acme.example", 1, Verdict.TRUE_POSITIVE, agrees_with_labels=True
            )
        with pytest.raises(InvalidInputError, match="holds no hashes"):
            node.publisher.import_hash_list([], Labels())
        assert node.reader.checkpoint().size == 2
        assert [line.retracted for line in node.reader.log()] == [True, False]


def test_an_auditor_cannot_publish(tmp_path: Path) -> None:
    with Node.init(tmp_path / "aud", "audit.example", auditor=True) as auditor:
        with pytest.raises(IdentityError, match="auditor identity"):
            auditor.publisher.import_hash_list(LINES, Labels())
        assert auditor.store.log.latest_checkpoint("audit.example") is None
