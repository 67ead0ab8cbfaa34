"""Storing verified groups (node.service.verified_import.store_verified) on a real store.

Groups of one origin may overlap when two syncs (two peers, or ``hashfed sync`` beside
``serve``) stream it at once: what is held is skipped after its leaves are compared, only the
tail is appended, the head follows, and the signed checkpoint is stored when a group reaches it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.errors import NotFoundError, ProofError, SyncError
from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.log.merkle import Frontier, leaf_hash, root_of
from node.service.verified_import import VerifiedGroup

A = "node-a.example"
SIZE = 30


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    Node.init(a, A, peer_address="127.0.0.1:7301").close()
    Node.init(b, "node-b.example", peer_address="127.0.0.1:7302").close()
    with Node.open(a) as na, Node.open(b) as nb:
        nb.members.add(json.dumps(na.identity_card()))
        for n in range(SIZE - 1):
            signal = ComputedSignal(parse_signal("md5:" + f"{n:032x}"), None)
            na.publisher.publish_signals([signal], Labels(entity="E"))
        na.publisher.retract(3, "wrong")  # a retraction among the streamed entries applies at once
    return a, b


def _source(home: Path) -> tuple[SignedCheckpoint, list[bytes]]:
    with Node.open(home) as node:
        signed = SignedCheckpoint.open(node.reader.checkpoint().note, node.verifier)
        return signed, node.reader.entry_bodies(A, 0, SIZE)


def _group(bodies: list[bytes], start: int, stop: int) -> VerifiedGroup:
    leaves = [leaf_hash(b) for b in bodies]
    before = Frontier.empty().extend(leaves[:start])
    group = VerifiedGroup(A, start, before)
    group.add(bodies[start:stop], leaves[start:stop], before.extend(leaves[start:stop]))
    return group


def _held(node: Node) -> tuple[int, int, int, int]:
    heads = node.store.integrity.row_counts()["verified_heads"]
    checkpoints = len(node.store.log.checkpoints(A))
    entries = node.store.integrity.entry_count(A)[0]
    return node.importer.held(A).size, entries, heads, checkpoints


def test_overlapping_groups_store_each_entry_once(homes: tuple[Path, Path]) -> None:
    a, b = homes
    signed, bodies = _source(a)
    with Node.open(b) as node:
        assert node.importer.store_verified(_group(bodies, 0, 10), signed).appended == 10
        assert _held(node) == (10, 10, 1, 0)
        # Already held: skipped whole. Overlapping: only the tail is appended.
        assert node.importer.store_verified(_group(bodies, 0, 8), signed).appended == 0
        assert node.importer.store_verified(_group(bodies, 5, 18), signed).appended == 8
        assert _held(node) == (18, 18, 1, 0)
        # The retraction of entry 3 (entry 29) is not here yet: entry 3 still matches.
        assert node.matcher.match_signals([parse_signal("md5:" + f"{3:032x}")])[0].matches
        # Reaching the signed size stores the signed checkpoint and drops the head.
        stored = node.importer.store_verified(_group(bodies, 12, SIZE), signed)
        assert (stored.appended, stored.checkpoint) == (SIZE - 18, True)
        assert _held(node) == (SIZE, SIZE, 0, 1)
        assert node.reader.checkpoint(A).note == signed.text()
        leaves = node.store.log.leaves(A, SIZE)
        assert (
            leaves == [leaf_hash(x) for x in bodies] and root_of(leaves) == signed.checkpoint.root
        )
        # Entry 3 was retracted by entry 29, applied as it arrived.
        assert not node.matcher.match_signals([parse_signal("md5:" + f"{3:032x}")])[0].matches
        assert node.matcher.match_signals([parse_signal("md5:" + f"{4:032x}")])[0].matches


def test_a_gap_or_different_leaves_are_refused_and_change_nothing(
    homes: tuple[Path, Path],
) -> None:
    a, b = homes
    signed, bodies = _source(a)
    with Node.open(b) as node:
        node.importer.store_verified(_group(bodies, 0, 10), signed)
        with pytest.raises(SyncError, match="gap"):
            node.importer.store_verified(_group(bodies, 12, 20), signed)
        other = list(bodies)
        other[7] = bodies[8]  # an entry of the log, at another index
        with pytest.raises(ProofError, match="differ from those held"):
            node.importer.store_verified(_group(other, 5, 15), signed)
        assert _held(node) == (10, 10, 1, 0)


def test_entries_beyond_the_newest_checkpoint_have_no_bundle_yet(
    homes: tuple[Path, Path],
) -> None:
    a, b = homes
    signed, bodies = _source(a)
    with Node.open(b) as node:
        node.importer.store_verified(_group(bodies, 0, 10), signed)
        with pytest.raises(NotFoundError, match="no signed checkpoint covers it yet"):
            node.reader.bundle(A, 4)
        node.importer.store_verified(_group(bodies, 10, SIZE), signed)
        assert node.reader.bundle(A, 4).entry_index == 4


def test_groups_reach_the_index_from_memory_and_every_match_sees_them(
    homes: tuple[Path, Path],
) -> None:
    a, b = homes
    signed, bodies = _source(a)
    with Node.open(b) as node:
        index = node.index  # loaded first, as a serving node's is
        for start in range(0, SIZE, 4):
            stored = node.importer.store_verified(
                _group(bodies, start, min(start + 4, SIZE)), signed
            )
            assert stored.result is not None
            if not stored.checkpoint:
                # Kept for the index, not yet in it (the backlog is below one catch-up)...
                assert index.sizes()["md5"] == start < node.store.signals.signal_count("md5")
                # ...but found by a match, which catches up first.
                last = min(start + 4, SIZE - 1) - 1
                hits = node.matcher.match_signals([parse_signal("md5:" + f"{last:032x}")])[
                    0
                ].matches
                assert [h.entry_index for h in hits] == [last]
        assert index.sizes()["md5"] == SIZE - 1
        assert node.store.signals.signal_count("md5") == SIZE - 1
        for n in range(SIZE - 1):
            found = node.matcher.match_signals([parse_signal("md5:" + f"{n:032x}")])[0].matches
            assert [h.entry_index for h in found] == ([] if n == 3 else [n])
