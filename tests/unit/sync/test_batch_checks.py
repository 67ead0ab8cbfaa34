"""What the client checks of each streamed batch, in order: place and count, sizes, then the
consistency proof from the size after it to the signed size (node.sync.engine)."""

from __future__ import annotations

import pytest

from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import MAX_ENTRY_BYTES
from node.log.keys import SignerKey
from node.log.merkle import Frontier, leaf_hash, root_of
from node.log.proofs import consistency_proof
from node.sync.engine import (
    BATCH_FAULT_REASON,
    NO_BATCH_PROOF_REASON,
    OUT_OF_RANGE_REASON,
    OVERSIZED_REASON,
    BatchRefusedError,
    verify_batch,
)

ORIGIN = "a.example"
BODIES = [f"entry {i}".encode() for i in range(2_500)]
LEAVES = [leaf_hash(b) for b in BODIES]


def _signed(size: int) -> SignedCheckpoint:
    signer = SignerKey.generate(ORIGIN)
    return SignedCheckpoint.sign(Checkpoint(ORIGIN, size, root_of(LEAVES[:size])), signer)


def _proof(end: int, size: int) -> list[bytes]:
    return [] if end == size else consistency_proof(end, LEAVES[:size])


def test_batches_that_prove_into_the_signed_tree_extend_the_frontier() -> None:
    signed = _signed(2_500)
    frontier = Frontier.empty().extend(LEAVES[:700])  # what we already verified
    for start in range(700, 2_500, 1_000):
        end = min(start + 1_000, 2_500)
        frontier, leaves = verify_batch(
            start, BODIES[start:end], _proof(end, 2_500), frontier, signed
        )
        assert frontier.size == end and leaves == LEAVES[start:end]
    assert frontier.root() == signed.checkpoint.root


def _refused(
    start: int, batch: list[bytes], proof: list[bytes], at: int = 700
) -> BatchRefusedError:
    frontier = Frontier.empty().extend(LEAVES[:at])
    with pytest.raises(BatchRefusedError) as caught:
        verify_batch(start, batch, proof, frontier, _signed(2_500))
    return caught.value


def test_a_batch_out_of_place_or_too_long_is_refused_before_hashing() -> None:
    for start, batch in [
        (701, BODIES[701:800]),  # not where we are
        (700, []),  # empty
        (700, BODIES[700:1_701]),  # 1,001 entries
    ]:
        error = _refused(start, batch, _proof(start + len(batch), 2_500))
        assert error.reason == OUT_OF_RANGE_REASON and not error.proof
    error = _refused(2_400, [*BODIES[2_400:2_500], b"x"], [], at=2_400)  # beyond the signed size
    assert error.reason == OUT_OF_RANGE_REASON


def test_oversized_entries_and_batches_are_refused() -> None:
    error = _refused(700, [b"x" * (MAX_ENTRY_BYTES + 1)], [])
    assert error.reason == OVERSIZED_REASON and "at most 65536" in error.detail
    huge = [b"y" * MAX_ENTRY_BYTES] * 18  # 1.125 MiB: over the 1 MiB a batch may hold
    error = _refused(700, huge, [])
    assert error.reason == OVERSIZED_REASON and "batches are at most" in error.detail


@pytest.mark.parametrize("how", ["flipped entry", "padded proof", "short proof"])
def test_a_batch_that_does_not_prove_is_refused_with_the_reason(how: str) -> None:
    batch = BODIES[700:1_700]
    proof = _proof(1_700, 2_500)
    if how == "flipped entry":
        batch = [*batch[:5], b"entry 705!", *batch[6:]]
    elif how == "padded proof":
        proof = [*proof, proof[0]]
    else:
        proof = proof[:-1]
    error = _refused(700, batch, proof)
    assert error.reason == BATCH_FAULT_REASON and error.proof
    assert error.detail.startswith("entries 700..1699: ") and error.count == 1_000


def test_a_batch_without_a_proof_before_the_signed_size_is_an_outdated_peer() -> None:
    # What a hashfed older than batch proofs sends: nothing proven, nothing counted.
    error = _refused(700, BODIES[700:1_700], [])
    assert error.reason == NO_BATCH_PROOF_REASON and not error.proof and error.count == 0
    # The batch that ends at the signed size needs no proof: it is checked against the root.
    error = _refused(1_500, [*BODIES[1_500:2_499], b"x"], [], at=1_500)
    assert error.reason == BATCH_FAULT_REASON and error.proof
