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
from node.store.federation import PeerHealthRow
from node.sync.engine import PeerSyncReport

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
    """The round broke off for another reason (stream cut, our own trouble)."""
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

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        return cls(
            interval_s=config.sync_interval_s,
            deadline_s=round_deadline_s(config),
            # A failing peer is never tried more often than a healthy one.
            backoff_max_s=max(config.sync_backoff_max_s, config.sync_interval_s),
            min_rate=config.sync_min_entries_per_s,
            rate_window_s=config.sync_rate_window_s,
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


def judge_report(report: PeerSyncReport) -> Outcome:
    """The outcome of a round that ran to its end."""
    if report.error is not None:
        return Outcome(PeerState.UNREACHABLE, report.error)
    if report.rejected:
        why = "; ".join(
            f"{o.origin}: {o.reason}" for o in report.origins if o.rejected and o.reason
        )
        return Outcome(PeerState.LYING, f"{report.rejected} entries rejected: {why}")
    if not report.ok:
        return Outcome(PeerState.BACKING_OFF, "; ".join(report.problems()))
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
