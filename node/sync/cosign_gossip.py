"""After a sync with a peer: cosign what we verified, and collect the peer's cosignatures.

Cosignatures travel as cosigned checkpoints (``ListCheckpoints`` with ``cosigned_only``). Each
is checked here against the origin's key from our member cards and the witnesses' keys from
theirs; only cosignatures on a root we verified ourselves are kept, and an origin-signed
checkpoint that contradicts ours becomes evidence, exactly as if the peer had offered it in a
sync (docs/audit.md). A peer's failure here costs nothing but the cosignatures of this round.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from node.core import Node
from node.errors import HashfedError
from node.service.runner import NodeRunner
from node.sync.client import PeerClient, PeerError, PeerTarget
from node.text import shown

log = logging.getLogger("hashfed.witness")

# A peer answering with more than this many cosigned checkpoints for one origin in one round is
# cut off: what we need is the few recent ones.
MAX_NOTES_PER_ORIGIN = 1_000


@dataclass
class GossipReport:
    peer: str
    stored: int = 0
    evidence_ids: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _plan(node: Node, offered: list[str]) -> list[tuple[str, int]]:
    """(origin, smallest size still worth asking about) for every origin we witness or own."""
    halted = node.importer.halted_origins()
    trusted = set(node.members.trusted_keys())
    out = []
    for origin in dict.fromkeys([node.origin, *offered]):
        if origin in halted or (origin != node.origin and origin not in trusted):
            continue
        node.importer.cosign_latest(origin)
        witnessed = node.witness.covering(origin).sizes
        out.append((origin, witnessed[-1] if witnessed else 0))
    return out


async def gather_cosignatures(runner: NodeRunner, peer: str, offered: list[str]) -> GossipReport:
    """Cosign our newest checkpoints of the ``offered`` origins, then fetch and keep ``peer``'s
    cosignatures for them (and for our own log)."""
    report = GossipReport(peer)
    node = runner.node
    try:
        plan = await runner.call(_plan, node, offered)
        target = await runner.call(PeerTarget.load, node, peer)
    except HashfedError as exc:
        report.problems.append(str(exc))
        return report
    async with PeerClient(target) as client:
        for origin, min_size in plan:
            try:
                notes = await client.list_checkpoints(
                    origin, min_size, cosigned_only=True, max_notes=MAX_NOTES_PER_ORIGIN
                )
            except PeerError as exc:
                report.problems.append(str(exc))
                continue
            if notes is None:  # the peer does not serve that origin
                continue
            try:
                absorbed = await runner.call(node.importer.absorb_cosigned, origin, notes, peer)
            except HashfedError as exc:
                report.problems.append(f"{origin}: {exc}")
                continue
            report.stored += absorbed.stored
            report.evidence_ids += absorbed.evidence_ids
            report.problems += [f"{origin}: {p}" for p in absorbed.problems]
    for problem in report.problems:
        log.warning("cosignatures from %s: %s", peer, shown(problem))
    if report.stored:
        log.info("kept %d new cosignatures from %s", report.stored, peer)
    return report
