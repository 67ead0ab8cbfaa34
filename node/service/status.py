"""``hashfed status``: how each peer's syncs went, how far each origin is held and witnessed,
the witness policy, the store's health and the own log, as typed values."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.home import Role
from node.service import integrity_findings
from node.service.own_log_check import OwnLogState
from node.service.verified_import import held

if TYPE_CHECKING:
    from node.core import Node

# A peer before its first sync round (the other states are node.sync.health's).
UNTRIED = "untried"


@dataclass(frozen=True)
class PeerStatus:
    name: str
    address: str
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None
    received: int
    rejected: int
    rejected_reasons: Mapping[str, int]
    # The latest round's health (node.sync.health), UNTRIED before the first one.
    state: str
    reason: str | None
    consecutive_failures: int
    next_attempt_ms: int | None
    last_round_ms: int | None
    last_round_s: float | None


@dataclass(frozen=True)
class OriginStatus:
    origin: str
    is_self: bool = field(metadata={"json": "self"})
    size: int
    # Verified entries held, beyond ``size`` while a sync is on its way to a larger signed
    # checkpoint (docs/protocol.md §9.1).
    held: int
    checkpoint_age_s: float | None
    halted: bool
    witnessed_size: int | None
    newest_cosigned_size: int | None
    newest_cosigners: tuple[str, ...]


@dataclass(frozen=True)
class WitnessPolicy:
    min: int
    # The configured witnesses, or the words "any trusted member" when none are.
    witnesses: tuple[str, ...] | str


@dataclass(frozen=True)
class NodeStatus:
    origin: str
    peers: tuple[PeerStatus, ...]
    origins: tuple[OriginStatus, ...]
    evidence: int
    role: Role
    witness_policy: WitnessPolicy
    auditors: tuple[str, ...]
    store: Mapping[str, object]  # node.service.integrity_findings.store_health
    own_log: OwnLogState | None  # None for an auditor, which has no log


def node_status(node: Node) -> NodeStatus:
    """Per peer: last sync, last error, entries received and rejected (with reasons), health
    (state, reason, failures in a row, next attempt). Per origin: size, age of its newest
    checkpoint, witnessing. Evidence count."""
    store = node.store
    now = time.time_ns() // 1_000_000
    stats = store.members.peer_stats()
    health = store.members.peer_health()
    peers = []
    for peer in store.members.peers():
        s = stats.get(peer.name)
        h = health.get(peer.name)
        peers.append(
            PeerStatus(
                name=peer.name,
                address=peer.address,
                last_success_ms=s.last_success_ms if s else None,
                last_error=s.last_error if s else None,
                last_error_ms=s.last_error_ms if s else None,
                received=s.received if s else 0,
                rejected=s.rejected if s else 0,
                rejected_reasons=s.reasons if s else {},
                state=h.state if h else UNTRIED,
                reason=h.reason if h else None,
                consecutive_failures=h.consecutive_failures if h else 0,
                next_attempt_ms=h.next_attempt_ms if h else None,
                last_round_ms=h.last_round_ms if h else None,
                last_round_s=h.last_round_s if h else None,
            )
        )
    halted = store.audit.halted_origins()
    trusted = node.members.trusted_keys()
    origins = []
    for name in [*([] if node.is_auditor else [node.origin]), *sorted(trusted)]:
        latest = store.log.latest_checkpoint(name)
        witnessed = node.witness.summary(name)
        origins.append(
            OriginStatus(
                origin=name,
                is_self=name == node.origin,
                size=latest.size if latest else 0,
                held=held(store, name).size,
                checkpoint_age_s=(now - latest.received_ms) / 1000 if latest else None,
                halted=name in halted,
                witnessed_size=witnessed.witnessed_size,
                newest_cosigned_size=witnessed.newest_cosigned_size,
                newest_cosigners=witnessed.newest_cosigners,
            )
        )
    return NodeStatus(
        origin=node.origin,
        peers=tuple(peers),
        origins=tuple(origins),
        evidence=len(store.audit.evidence()),
        role=node.config.role,
        witness_policy=WitnessPolicy(
            node.config.witness_min, tuple(node.config.witnesses) or "any trusted member"
        ),
        auditors=tuple(a.name for a in store.audit.auditors()),
        store=integrity_findings.store_health(node.paths.root, node.paths.database),
        own_log=None if node.is_auditor else node.own_log_state(),
    )
