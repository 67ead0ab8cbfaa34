"""One match path: files and media are hashed, then matched exactly as their signals are."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core import Node
from node.errors import InvalidInputError
from node.log.entry import Labels

LABELS = Labels(entity="E", tags=("t",))


@pytest.fixture
def node(home: Path, sample_files: dict[str, Path]) -> Node:
    opened = Node.open(home)
    opened.publisher.publish_files([sample_files["original-0"], sample_files["original-1"]], LABELS)
    return opened


def test_a_file_matches_as_its_signals_do(node: Node, sample_files: dict[str, Path]) -> None:
    with node:
        copy = next(p for k, p in sample_files.items() if k.startswith("copy-0-"))
        (by_file,) = node.matcher.match_files([copy], threshold=40)
        signals = node.hasher.hash_file(copy).signals
        queries = [(c.signal, 40 if c.signal.type == "pdq" else None) for c in signals]
        (by_signals,) = node.matcher.match([(str(copy), queries)])
        assert by_file == by_signals
        assert by_file.query == str(copy)
        assert [m.entry_index for m in by_file.matches] == [0]


def test_media_bytes_match_as_the_file_does(node: Node, sample_files: dict[str, Path]) -> None:
    with node:
        original = sample_files["original-1"]
        (by_file,) = node.matcher.match_files([original])
        by_bytes = node.matcher.match_media(original.read_bytes(), str(original))
        assert by_bytes == by_file
        assert node.matcher.match_media(original.read_bytes()).query == "media"
        (match,) = by_file.matches
        # Every signal of the same picture matches the one entry, nearest first by type.
        assert match.entry_index == 1
        assert {s.type for s in match.signals} >= {"pdq", "sha256"}
        assert all(s.distance == 0 for s in match.signals)


def test_a_batch_of_signals_gives_one_result_per_signal_in_order(node: Node) -> None:
    with node:
        add = node.reader.log()[0].entry.statement
        signals = [c.signal for c in add.signals]  # type: ignore[union-attr]
        unknown = signals[0].__class__("md5", b"\x00" * 16)
        results = node.matcher.match_signals([*signals, unknown, signals[0]])
        assert [r.query for r in results] == [str(s) for s in [*signals, unknown, signals[0]]]
        assert [len(r.matches) for r in results] == [1] * len(signals) + [0, 1]
        # The same entry, matched by several queries, is described identically each time.
        assert results[0].matches[0].labels == LABELS == results[-1].matches[0].labels


def test_the_threshold_applies_to_pdq_only_for_files(
    node: Node, sample_files: dict[str, Path]
) -> None:
    with node:
        unrelated = sample_files["unrelated"]
        # A threshold outside PDQ's range is refused before anything is searched...
        with pytest.raises(InvalidInputError, match="threshold 999"):
            node.matcher.match_files([unrelated], threshold=999)
        # ...and 256 (everything within reach) matches both published pictures by PDQ alone.
        (result,) = node.matcher.match_files([unrelated], threshold=256)
        assert sorted(m.entry_index for m in result.matches) == [0, 1]
        assert all([s.type for s in m.signals] == ["pdq"] for m in result.matches)
