"""An import checks trust and evidence inside its own write transaction, not only when the sync
planned it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.core import Node
from node.errors import EquivocationError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.service.verified_import import import_verified


def test_a_halted_origin_is_refused_under_the_write_lock(tmp_path: Path) -> None:
    """Evidence recorded by another process after a sync planned its import (a CLI sync beside
    `serve`) must still stop the import: the check runs inside the import's transaction."""
    origin_home, reader_home = tmp_path / "o", tmp_path / "r"
    with Node.init(origin_home, "halt-origin.example") as origin:
        origin.publisher.import_hash_list([f"pdq {'ab' * 32}"], Labels(entity="x"))
        card = json.dumps(origin.identity_card())
        signed = SignedCheckpoint.open(origin.reader.checkpoint().note, origin.verifier)
        bodies = [row.body for row in origin.store.log.entries("halt-origin.example")]
    with Node.init(reader_home, "halt-reader.example") as reader:
        reader.members.add(card)
        # As another process records it (that process checked the evidence; record_evidence
        # here would refuse these placeholder notes, which prove nothing).
        with reader.store.transaction():
            reader.store.audit.add_evidence(
                "halt-origin.example", "same-size-different-roots", "a", "b", "{}", None
            )
        with pytest.raises(EquivocationError, match="stopped"):
            import_verified(reader.store, "halt-origin.example", signed, bodies, None)
        assert reader.store.log.latest_checkpoint("halt-origin.example") is None
