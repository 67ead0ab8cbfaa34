"""TreeLevels answers exactly what the plain generators answer, for any growth pattern."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.log.merkle import leaf_hash, root_of
from node.log.proof_verification import verify_consistency, verify_inclusion
from node.log.proofs import consistency_proof, inclusion_proof
from node.log.tree_levels import TreeLevels


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(b"%d" % i).digest()) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.data())
def test_proofs_equal_the_generators_while_the_tree_grows(
    chunks: list[int], data: st.DataObject
) -> None:
    leaves = _leaves(sum(chunks))
    tree = TreeLevels()
    held = 0
    for chunk in chunks:
        tree.extend(leaves[held : held + chunk])
        held += chunk
        assert tree.size == held
        if held == 0:
            continue
        size = data.draw(st.integers(1, held))
        prefix = leaves[:size]
        assert tree.root(size) == root_of(prefix)
        index = data.draw(st.integers(0, size - 1))
        proof = tree.inclusion_proof(index, size)
        assert proof == inclusion_proof(index, prefix)
        verify_inclusion(prefix[index], index, size, proof, root_of(prefix))
        old = data.draw(st.integers(1, size))
        cons = tree.consistency_proof(old, size)
        assert cons == consistency_proof(old, prefix)
        verify_consistency(old, size, cons, root_of(leaves[:old]), root_of(prefix))


def test_every_size_and_index_of_a_small_tree() -> None:
    leaves = _leaves(70)
    tree = TreeLevels()
    tree.extend(leaves)
    assert tree.root(0) == root_of([])
    for size in range(1, 71):
        for index in range(size):
            assert tree.inclusion_proof(index, size) == inclusion_proof(index, leaves[:size])
        for old in range(1, size + 1):
            assert tree.consistency_proof(old, size) == consistency_proof(old, leaves[:size])
    assert tree.nbytes() < 70 * 2 * 32


def test_refusals() -> None:
    tree = TreeLevels()
    tree.extend(_leaves(5))
    with pytest.raises(ValueError, match="beyond"):
        tree.inclusion_proof(0, 6)
    with pytest.raises(ValueError, match="not in a tree"):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError, match="need 0 < old"):
        tree.consistency_proof(0, 5)
    with pytest.raises(ValueError, match="32 bytes"):
        tree.extend([b"short"])
