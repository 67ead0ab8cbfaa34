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

import grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.errors import HashfedError
from node.server.runner import NodeRunner
from node.sync.client import CALL_TIMEOUT_S, MAX_RECEIVE_BYTES, PeerTarget
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
    halted = node.halted_origins()
    trusted = set(node.trusted_keys())
    out = []
    for origin in dict.fromkeys([node.origin, *offered]):
        if origin in halted or (origin != node.origin and origin not in trusted):
            continue
        node.cosign_latest(origin)
        summary = node.witness.summary(origin)
        witnessed = summary["witnessed_size"]
        out.append((origin, witnessed if isinstance(witnessed, int) else 0))
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
    credentials = grpc.ssl_channel_credentials(
        root_certificates=target.pinned_pem,
        private_key=target.our_key_pem,
        certificate_chain=target.our_cert_pem,
    )
    async with grpc.aio.secure_channel(
        target.address,
        credentials,
        options=[
            ("grpc.ssl_target_name_override", target.name),
            ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
        ],
    ) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        for origin, min_size in plan:
            notes: list[str] = []
            try:
                call = stub.ListCheckpoints(
                    federation_pb2.ListCheckpointsRequest(
                        origin=origin, min_size=min_size, cosigned_only=True
                    ),
                    timeout=CALL_TIMEOUT_S,
                )
                async for batch in call:
                    notes.extend(batch.checkpoints)
                    if len(notes) > MAX_NOTES_PER_ORIGIN:
                        call.cancel()
                        break
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.NOT_FOUND:  # the peer does not serve it
                    report.problems.append(f"{origin}: ListCheckpoints failed: {exc.details()}")
                continue
            try:
                absorbed = await runner.call(
                    node.absorb_cosigned, origin, notes[:MAX_NOTES_PER_ORIGIN], peer
                )
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
