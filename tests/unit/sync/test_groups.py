"""Verified batches are stored in groups that start small and grow (node/sync/groups.py)."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path

from node.core import Node
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels
from node.log.merkle import Frontier, leaf_hashes
from node.service.runner import NodeRunner
from node.sync.groups import GROUP_BYTES, GROUP_ENTRIES, GroupWriter

A = "node-a.example"
SIZE = 70_000
BATCH = 1_000


def test_groups_start_at_8192_entries_and_double_until_the_byte_bound(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    Node.init(a, A, peer_address="127.0.0.1:7311").close()
    Node.init(b, "node-b.example", peer_address="127.0.0.1:7312").close()
    with Node.open(a) as na, Node.open(b) as nb:
        nb.members.add(json.dumps(na.identity_card()))
        lines = [f"pdq {secrets.token_hex(32)}" for _ in range(SIZE)]
        na.publisher.import_hash_list(lines, Labels(entity="E"))
        signed = SignedCheckpoint.open(na.reader.checkpoint().note, na.verifier)
        bodies = na.reader.entry_bodies(A, 0, SIZE)
    body_size = len(bodies[0])
    assert {len(body) for body in bodies} == {body_size}

    async def stream() -> list[int]:
        runner = await NodeRunner.open(b)
        try:
            writer = GroupWriter(runner, A, signed, 0, Frontier.empty())
            frontier = Frontier.empty()
            sizes: list[int] = []
            for start in range(0, SIZE, BATCH):
                batch = bodies[start : start + BATCH]
                leaves = leaf_hashes(batch)
                frontier = frontier.extend(leaves)
                await writer.add(batch, leaves, frontier)
                # The node thread runs one call at a time: this one sees every group handed
                # to it before.
                held = (await runner.call(runner.node.importer.held, A)).size
                if not sizes or held != sizes[-1]:
                    sizes.append(held)
            await writer.finish()
            sizes.append((await runner.call(runner.node.importer.held, A)).size)
            return [s for s in sizes if s]
        finally:
            await runner.close()

    sizes = asyncio.run(stream())
    # Written once a group holds at least its limit, at a batch boundary: 9,000 (>= 8,192),
    # then 17,000 more (>= 16,384), then 33,000 (>= 32,768); the fourth group would be 65,536
    # but 4 MiB of these bodies come first; the rest at the end.
    per_bytes = -(-GROUP_BYTES // body_size // BATCH) * BATCH
    expected = [9_000, 26_000, 59_000]
    if 59_000 + per_bytes < SIZE:
        expected.append(59_000 + per_bytes)
    expected.append(SIZE)
    assert GROUP_ENTRIES == 8_192
    assert sorted(set(sizes)) == expected
