"""How a peer is doing, and when to try it again: the per-peer schedule of the sync loop.

Each round with a peer ends in one :class:`Outcome`; the peer's *state* is the outcome of its
latest round. A clean round resets the count of consecutive failures and schedules the next
round ``sync_interval_s`` later. Any other round backs off exponentially::

    failure (unreachable, slow, broken off):  interval * 2**k
    lie (a batch rejected against the peer):  interval * 2**(k + LIE_EXTRA_DOUBLINGS)

where ``k`` counts the consecutive unclean rounds including this one, capped at
``sync_backoff_max_s`` and then shortened by up to a quarter at random (jitter, so that peers
failing together do not retry together). Shortening, never lengthening, keeps the cap a real
bound and each delay longer than the one before until the cap.

This module only decides; :mod:`node.sync.loop` runs the rounds and the store keeps the result
(``peer_health``, migration ``006_peer_health``) so ``hashfed status`` can show it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from node.home import Config
from node.store.rows import PeerHealthRow
from node.sync.engine import FAILED, PEER_OUTDATED, OriginSyncReport, PeerSyncReport

LIE_EXTRA_DOUBLINGS = 2
"""A lying peer waits four times longer than a failing one after the same number of rounds:
its failure is not bad luck, and each of its rounds costs us a full fetch."""

JITTER = 0.25
"""Delays are shortened by a random fraction of at most this much."""

MIN_DEADLINE_S = 60.0
"""The default round deadline is never below this: a first sync of a large log must fit."""


class PeerState(StrEnum):
    UNTRIED = "untried"
    """No round yet."""
    HEALTHY = "healthy"
    BACKING_OFF = "backing-off"
    """The peer failed without lying: a stream it broke off or ended early, a batch it sent
    without a proof (older software); or an unexpected error of ours in its round (not a store
    fault: those leave the peer's health alone)."""
    SLOW = "slow"
    """The round exceeded its deadline, or the stream was below the minimum rate."""
    LYING = "lying"
    """Entries or a checkpoint from the peer were rejected."""
    UNREACHABLE = "unreachable"
    """No connection (nothing listens, a certificate refused, …)."""


@dataclass(frozen=True)
class Limits:
    """The scheduling bounds, read once from the config."""

    interval_s: float
    deadline_s: float
    backoff_max_s: float
    min_rate: float
    """Entries per second a stream must deliver over ``rate_window_s``; 0 turns the rule off."""
    rate_window_s: float
    max_fetch: int = 0
    """``max_fetch_per_round``: the engine stops an origin's stream once this many entries
    arrived, so the rate watch stops timing it there (0: not known, only ``total`` ends it)."""

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            interval_s=config.sync_interval_s,
            deadline_s=round_deadline_s(config),
            # A failing peer is never tried more often than a healthy one.
            backoff_max_s=max(config.sync_backoff_max_s, config.sync_interval_s),
            min_rate=config.sync_min_entries_per_s,
            rate_window_s=config.sync_rate_window_s,
            max_fetch=config.max_fetch_per_round,
        )


def round_deadline_s(config: Config) -> float:
    """``sync_round_deadline_s``, or by default twice the interval but at least 60 s."""
    if config.sync_round_deadline_s is not None:
        return config.sync_round_deadline_s
    return max(2 * config.sync_interval_s, MIN_DEADLINE_S)


@dataclass(frozen=True)
class Outcome:
    state: PeerState
    reason: str | None = None

    @property
    def clean(self) -> bool:
        return self.state is PeerState.HEALTHY


PEER_FAILURE_MARKERS: tuple[str, ...] = ("sent no batch proof",)
"""Words of per-origin ``failed`` reasons that are the peer's failure although they do not start
with its name. A peer that sends batches without proofs runs older software: a failure to retry
later, never a lie (its entries are not counted against it)."""


def peer_failed(report: PeerSyncReport, origin: OriginSyncReport) -> bool:
    """Whether ``origin``'s outcome is a failure of the peer (not a lie, not the origin's doing).

    Only a ``failed`` status can be, and only when the peer's connection caused it: the client
    (node/sync/client.py) and the engine ("ended the stream ... before n") word every such
    failure with the peer's name first. Every other ``failed`` reason is about what the *origin*
    signed ("signed an entry this node cannot read", a signed tree that contradicts the entries
    we hold) or about our own store (held entries that differ, the origin no longer trusted),
    none of which the relaying peer could have done otherwise: it relayed signed data
    unchanged.
    """
    if origin.status == PEER_OUTDATED:
        return True  # older software: retry later, never a lie (nothing counted against it)
    if origin.status != FAILED or origin.own_damage:
        return False  # our own store's damage is never the peer's doing
    reason = origin.reason or ""
    # "we refuse P's certificate": the probe's words (node/sync/diagnosis.py) when the
    # connection failed because of the certificate P presented.
    named = (f"{report.peer} ", f"we refuse {report.peer}'s ")
    return reason.startswith(named) or any(m in reason for m in PEER_FAILURE_MARKERS)


def judge_report(report: PeerSyncReport) -> Outcome:
    """The outcome of a round that ran to its end.

    Only what the peer did counts: a rejected checkpoint or batch (``lying``), no connection
    (``unreachable``), a stream it broke off (``backing-off``). Per-origin outcomes that are the
    origin's doing (a checkpoint it signed larger than ``max_origin_entries``, an entry it signed
    that we cannot read, its contradictions) leave the peer healthy: they are in the sync report
    and the peer's last error, and backing off an honest relay for them would only delay every
    other origin it relays.
    """
    if report.error is not None:
        return Outcome(PeerState.UNREACHABLE, report.error)
    if report.rejected:
        why = "; ".join(
            f"{o.origin}: {o.reason}" for o in report.origins if o.rejected and o.reason
        )
        return Outcome(PeerState.LYING, f"{report.rejected} entries rejected: {why}")
    failed = [o for o in report.origins if peer_failed(report, o)]
    if failed:
        return Outcome(
            PeerState.BACKING_OFF,
            "; ".join(f"{report.peer}: {o.origin}: {o.reason}" for o in failed),
        )
    others = [o for o in report.origins if not o.ok]
    if others:
        # Healthy, with the origins' problems as the reason (status --json shows it).
        return Outcome(
            PeerState.HEALTHY,
            "not the peer's doing: " + "; ".join(f"{o.origin}: {o.reason}" for o in others),
        )
    return Outcome(PeerState.HEALTHY)


def backoff_s(
    limits: Limits, failures: int, *, lie: bool, rng: random.Random | None = None
) -> float:
    """Seconds to wait after the ``failures``-th unclean round in a row (``failures >= 1``)."""
    doublings = failures + (LIE_EXTRA_DOUBLINGS if lie else 0)
    # Past the cap the exponent no longer matters; clamping it avoids float overflow.
    base = min(limits.backoff_max_s, limits.interval_s * 2.0 ** min(doublings, 64))
    shorten = (rng or random).random() * JITTER
    return base * (1.0 - shorten)


def next_health(
    peer: str,
    previous: PeerHealthRow | None,
    outcome: Outcome,
    limits: Limits,
    *,
    now_ms: int,
    duration_s: float,
    rng: random.Random | None = None,
) -> tuple[PeerHealthRow, float]:
    """The peer's new health row and the seconds until its next round."""
    if outcome.clean:
        failures = 0
        delay = limits.interval_s
    else:
        failures = (previous.consecutive_failures if previous else 0) + 1
        delay = backoff_s(limits, failures, lie=outcome.state is PeerState.LYING, rng=rng)
    row = PeerHealthRow(
        peer=peer,
        state=str(outcome.state),
        reason=outcome.reason,
        consecutive_failures=failures,
        next_attempt_ms=now_ms + int(delay * 1000),
        last_round_ms=now_ms,
        last_round_s=duration_s,
    )
    return row, delay
