"""Evidence files written by a real node (``Audit.evidence_file``) prove the equivocation with
scripts/verify_evidence.py and the origin's key alone, and prove nothing with another key.

Node B holds A's verified log; A (its real signing key) then signs a conflicting checkpoint that
a peer relays to B, and B records evidence, exactly as it would during sync.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import Labels
from node.log.keys import SignerKey
from node.log.merkle import leaf_hash, root_of
from tests.unit.scripts.fixtures import add_entry, load_script

ve = load_script("verify_evidence")
A = "a.example"


def _node_with_evidence(tmp_path: Path, fork_size: int) -> tuple[str, str]:
    """B's evidence file against A, and A's verifier key."""
    with Node.init(tmp_path / "a", A) as a:
        for i in range(5):
            signal = ComputedSignal(parse_signal(f"md5:{i + 1:032x}"), None)
            a.publisher.publish_signals([signal], Labels(entity="E"))
        card = json.dumps(a.identity_card())
        latest = a.reader.checkpoint()
        bodies = [row.body for row in a.store.log.entries(A, 0, latest.size)]
        signer: SignerKey = a.signer
        key = a.verifier
    with Node.init(tmp_path / "b", "b.example") as b:
        b.members.add(card)
        b.importer.import_verified(A, SignedCheckpoint.open(latest.note, key), bodies)
        # A signs another history: entry fork_size - 1 differs.
        fork = [*bodies[: fork_size - 1], add_entry(A, 99)]
        root = root_of([leaf_hash(e) for e in fork])
        note = SignedCheckpoint.sign(Checkpoint(A, fork_size, root), signer).text()
        report = b.importer.absorb_cosigned(A, [note], "c.example")
        assert len(report.evidence_ids) == 1
        return b.audit.evidence_file(report.evidence_ids[0]), str(key)


@pytest.mark.parametrize(
    ("fork_size", "kind"), [(5, "same-size-different-roots"), (3, "inconsistent-smaller")]
)
def test_evidence_written_by_the_node_is_proven(tmp_path: Path, fork_size: int, kind: str) -> None:
    evidence, key = _node_with_evidence(tmp_path, fork_size)

    code, text = ve.check_evidence(evidence.encode(), key)
    other = ve.check_evidence(evidence.encode(), str(SignerKey.generate(A).verifier()))

    assert code == 0, text
    assert text.startswith(f"PROVEN: {A} equivocated ({kind})")
    assert other[0] == 1
