"""One streamed batch checked: its range and sizes, then its consistency proof into the
origin's signed tree (docs/protocol.md §9)."""

from __future__ import annotations

from collections.abc import Sequence

from node.errors import ProofError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import MAX_ENTRY_BYTES
from node.log.merkle import Frontier, leaf_hashes
from node.log.proof_verification import verify_consistency
from node.sync.fault import PEER_FAULT_REASON
from node.wire.limits import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES

# Statistics keys (``peer_stats.reasons``) of batches refused before or at verification.
OUT_OF_RANGE_REASON = "entries sent out of the range asked for"
OVERSIZED_REASON = "entry larger than the protocol allows"
BATCH_FAULT_REASON = PEER_FAULT_REASON
NO_BATCH_PROOF_REASON = "peer sent no batch proof"
"""``BatchRefusedError.reason`` of a batch ending before the signed size without a proof: what a
hashfed older than batch proofs sends (the package is still ``hashfed.v1``)."""

MAX_BATCH_BYTES_RECEIVED = MAX_BATCH_BYTES + MAX_ENTRY_BYTES
"""Most entry bytes accepted in one batch: the protocol's 1 MiB, which one entry (at most
``MAX_ENTRY_BYTES``) may overrun."""


class BatchRefusedError(Exception):
    """A batch failed a check before or at verification; ends the stream (internal)."""

    def __init__(self, reason: str, detail: str, count: int, *, proof: bool = False) -> None:
        super().__init__(f"{reason} ({detail})")
        self.reason = reason
        self.detail = detail
        self.count = count
        self.proof = proof
        """Whether the batch was well-formed but did not prove into the signed tree."""


def check_batch(start: int, batch: Sequence[bytes], position: int, end: int) -> None:
    """Raise :class:`BatchRefusedError` unless ``batch`` is a well-formed next batch of ``[position,
    end)``: at ``position``, 1..1,000 entries, none beyond ``end``, each entry and the whole
    batch within the protocol's sizes. Checked before any hashing."""
    count = len(batch)
    if start != position or not 0 < count <= min(MAX_BATCH_ENTRIES, end - position):
        raise BatchRefusedError(
            OUT_OF_RANGE_REASON,
            f"{count} entries at index {start} when at most {MAX_BATCH_ENTRIES} of "
            f"{position}..{end - 1} were asked for",
            max(count, 1),
        )
    sizes = list(map(len, batch))
    largest = max(sizes)
    if largest > MAX_ENTRY_BYTES:
        raise BatchRefusedError(
            OVERSIZED_REASON,
            f"an entry of {largest} bytes; entries are at most {MAX_ENTRY_BYTES}",
            count,
        )
    if sum(sizes) > MAX_BATCH_BYTES_RECEIVED:
        raise BatchRefusedError(
            OVERSIZED_REASON,
            f"a batch of {sum(sizes)} bytes of entries; batches are at most {MAX_BATCH_BYTES} "
            f"(one entry may overrun it)",
            count,
        )


def verify_batch(
    start: int,
    batch: Sequence[bytes],
    proof: Sequence[bytes],
    frontier: Frontier,
    signed: SignedCheckpoint,
) -> tuple[Frontier, list[bytes]]:
    """Check one streamed batch; return the frontier after it and the batch's leaf hashes, or
    raise :class:`BatchRefusedError`.

    ``frontier`` is our verified tree so far (its size is where the batch must start). The
    batch is folded into it, and ``proof`` must be the RFC 9162 consistency proof from that
    new size to the signed size, against the new root and the signed root: then the batch's
    entries are provably the origin's, whoever relayed them.
    """
    cp = signed.checkpoint
    check_batch(start, batch, frontier.size, cp.size)
    leaves = leaf_hashes(batch)
    extended = frontier.extend(leaves)
    if not proof and extended.size < cp.size:
        # What a hashfed older than batch proofs sends: outdated, not lying (nothing counted).
        raise BatchRefusedError(
            NO_BATCH_PROOF_REASON,
            f"entries {start}..{extended.size - 1} end before {cp.size} without a proof",
            0,
        )
    try:
        verify_consistency(extended.size, cp.size, proof, extended.root(), cp.root)
    except ProofError as exc:
        raise BatchRefusedError(
            BATCH_FAULT_REASON,
            f"entries {start}..{extended.size - 1}: {exc}",
            len(batch),
            proof=True,
        ) from None
    return extended, leaves
