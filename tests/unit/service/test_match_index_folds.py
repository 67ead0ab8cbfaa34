"""MatchIndex folds new rows on a worker thread; every row matches from the moment it is added."""

from __future__ import annotations

import secrets
from pathlib import Path

from node.core import Node
from node.hashing import Signal
from node.index import BitIndex
from node.log.entry import Labels


def test_published_rows_match_at_once_and_are_folded_by_the_worker(tmp_path: Path) -> None:
    Node.init(tmp_path / "a", "a.example").close()
    with Node.open(tmp_path / "a") as node:
        index = node.index
        pdq = index._indexes["pdq"]
        assert isinstance(pdq, BitIndex)
        values = [secrets.token_bytes(32) for _ in range(20_000)]
        node.publisher.import_hash_list([f"pdq {v.hex()}" for v in values], Labels(entity="t"))
        # No refresh: the appended rows are in the index (folded or still in its tail) at once.
        assert len(pdq) == 20_000
        found = index.search_many([Signal("pdq", v) for v in values[::997]], 0)
        assert [[(h.type, h.distance) for h in hits] for hits in found] == [[("pdq", 0)]] * len(
            values[::997]
        )
        index.settle()
        assert pdq.folded >= 20_000 - 4_096 and not pdq.fold_due()
        assert not index._folds.running
        hits = index.search(Signal("pdq", values[-1]), 0)
        assert [(h.row, h.distance) for h in hits] == [(19_999, 0)]
