"""Whose fault: a peer's bad bytes never convict the origin; only a full, consistent log does."""

from __future__ import annotations

import pytest

from node.log.merkle import EMPTY_ROOT, leaf_hash, root_of
from node.sync.fault import PEER_FAULT_REASON, Culprit, FullLogCheck, judge


def _leaves(tag: str, n: int) -> list[bytes]:
    return [leaf_hash(f"{tag}-{i}".encode()) for i in range(n)]


HONEST = _leaves("honest", 20)


def test_a_peer_with_a_flipped_leaf_is_at_fault() -> None:
    bad = list(HONEST)
    bad[13] = leaf_hash(b"flipped")
    verdict = judge(8, root_of(HONEST[:8]), 20, root_of(HONEST), bad)
    assert verdict.culprit is Culprit.PEER
    assert verdict.reason == PEER_FAULT_REASON
    assert verdict.detail["computed_root"] == root_of(bad).hex()


@pytest.mark.parametrize("count", [0, 19, 21])
def test_a_peer_serving_the_wrong_number_of_entries_is_at_fault(count: int) -> None:
    served = (HONEST + _leaves("extra", 5))[:count]
    verdict = judge(8, root_of(HONEST[:8]), 20, root_of(HONEST), served)
    assert verdict.culprit is Culprit.PEER
    assert verdict.reason.startswith(PEER_FAULT_REASON)
    assert f"served {count} entries" in verdict.reason


def test_a_flip_inside_our_verified_prefix_blames_the_peer_not_the_origin() -> None:
    # The prefix no longer reproduces our root, but neither does the whole: no proof against A.
    bad = list(HONEST)
    bad[2] = leaf_hash(b"flipped")
    verdict = judge(8, root_of(HONEST[:8]), 20, root_of(HONEST), bad)
    assert verdict.culprit is Culprit.PEER


def test_a_full_log_that_reproduces_both_roots_blames_nobody() -> None:
    verdict = judge(8, root_of(HONEST[:8]), 20, root_of(HONEST), HONEST)
    assert verdict.culprit is Culprit.NOBODY
    assert verdict.detail["prefix_root"] == root_of(HONEST[:8]).hex()


def test_from_an_empty_log_only_the_peer_can_be_at_fault() -> None:
    assert judge(0, EMPTY_ROOT, 20, root_of(HONEST), HONEST).culprit is Culprit.NOBODY
    assert judge(0, EMPTY_ROOT, 20, root_of(HONEST), HONEST[::-1]).culprit is Culprit.PEER


def test_an_origin_that_signed_two_inconsistent_trees_is_convicted() -> None:
    # Our verified tree of size 8 came from one branch; the origin also signed a tree of size
    # 20 whose leaves begin differently. The full leaves reproduce that signed root.
    other = _leaves("other", 20)
    verdict = judge(8, root_of(HONEST[:8]), 20, root_of(other), other)
    assert verdict.culprit is Culprit.ORIGIN
    d = verdict.detail
    assert (d["smaller_size"], d["larger_size"], d["leaf_count"]) == (8, 20, 20)
    assert d["smaller_root"] == root_of(HONEST[:8]).hex()
    assert d["larger_root"] == root_of(other).hex()
    assert d["prefix_root"] == root_of(other[:8]).hex()
    assert "inconsistent" in str(d["explanation"])


def test_leaves_can_arrive_in_batches_of_any_shape() -> None:
    other = _leaves("other", 20)
    check = FullLogCheck(8, root_of(HONEST[:8]), 20, root_of(other))
    for start, end in ((0, 3), (3, 8), (8, 9), (9, 20)):
        check.add(other[start:end])
    assert check.size == 20
    assert check.verdict().culprit is Culprit.ORIGIN


def test_sizes_must_be_ordered() -> None:
    with pytest.raises(ValueError):
        FullLogCheck(20, root_of(HONEST), 20, root_of(HONEST))
