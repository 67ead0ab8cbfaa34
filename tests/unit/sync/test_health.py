"""The per-peer schedule: how a round's report becomes a state, and how long a peer waits."""

from __future__ import annotations

import random
from pathlib import Path

from node.home import Config
from node.sync.engine import PEER_OUTDATED, OriginSyncReport, PeerSyncReport
from node.sync.health import (
    MIN_DEADLINE_S,
    Limits,
    Outcome,
    PeerState,
    backoff_s,
    judge_report,
    next_health,
    round_deadline_s,
)

LIMITS = Limits(interval_s=10.0, deadline_s=60.0, backoff_max_s=600.0, min_rate=0, rate_window_s=30)


def test_failures_double_the_wait_up_to_the_cap_and_lies_wait_four_times_longer() -> None:
    rng = random.Random(7)
    failures = [backoff_s(LIMITS, k, lie=False, rng=rng) for k in range(1, 9)]
    lies = [backoff_s(LIMITS, k, lie=True, rng=rng) for k in range(1, 7)]
    for k, wait in enumerate(failures, start=1):
        assert 0.75 * min(600, 10 * 2**k) <= wait <= min(600, 10 * 2**k)
    for k, wait in enumerate(lies, start=1):
        assert 0.75 * min(600, 10 * 2 ** (k + 2)) <= wait <= min(600, 10 * 2 ** (k + 2))
    # Jitter only shortens, so each wait is longer than the one before until the cap.
    assert failures[:5] == sorted(failures[:5])
    assert lies[:3] == sorted(lies[:3])
    assert max(failures + lies) <= LIMITS.backoff_max_s
    assert backoff_s(LIMITS, 10_000, lie=True, rng=rng) <= LIMITS.backoff_max_s  # no overflow


def test_jitter_spreads_peers_that_fail_together() -> None:
    rng = random.Random(1)
    waits = {round(backoff_s(LIMITS, 3, lie=False, rng=rng), 3) for _ in range(20)}
    assert len(waits) > 10


def _report(*origins: OriginSyncReport, error: str | None = None) -> PeerSyncReport:
    return PeerSyncReport("p.example", "127.0.0.1:1", list(origins), error)


def test_reports_become_states_with_their_reasons() -> None:
    assert judge_report(_report(OriginSyncReport("a", "imported", imported=3))) == Outcome(
        PeerState.HEALTHY
    )
    assert judge_report(_report(error="p.example is not reachable")) == Outcome(
        PeerState.UNREACHABLE, "p.example is not reachable"
    )
    lie = OriginSyncReport("a", "rejected", rejected=20, reason="entries do not reproduce")
    good = OriginSyncReport("b", "imported", imported=1)
    assert judge_report(_report(good, lie)) == Outcome(
        PeerState.LYING, "20 entries rejected: a: entries do not reproduce"
    )
    # The peer's connection failed: the client and the engine name the peer first.
    broken = OriginSyncReport("a", "failed", reason="p.example ended the stream early")
    outcome = judge_report(_report(broken))
    assert outcome.state is PeerState.BACKING_OFF
    assert outcome.reason == "p.example: a: p.example ended the stream early"


def test_a_clean_round_resets_the_count_and_waits_one_interval() -> None:
    rng = random.Random(3)
    row = None
    for expected in (1, 2, 3):
        row, wait = next_health(
            "p", row, Outcome(PeerState.SLOW, "too slow"), LIMITS, now_ms=1_000, duration_s=2.5
        )
        assert row.consecutive_failures == expected
        assert row.state == "slow" and row.reason == "too slow"
        assert row.next_attempt_ms == 1_000 + int(wait * 1000)
    row, wait = next_health(
        "p", row, Outcome(PeerState.HEALTHY), LIMITS, now_ms=5_000, duration_s=0.1, rng=rng
    )
    assert (row.state, row.reason, row.consecutive_failures) == ("healthy", None, 0)
    assert wait == LIMITS.interval_s
    assert row.next_attempt_ms == 15_000
    assert (row.last_round_ms, row.last_round_s) == (5_000, 0.1)


def _config(tmp_path: Path, text: str) -> Config:
    return Config.from_toml(f'version = 1\norigin = "a.example"\n{text}', tmp_path / "c.toml")


def test_the_deadline_defaults_to_twice_the_interval_but_at_least_a_minute(
    tmp_path: Path,
) -> None:
    assert round_deadline_s(_config(tmp_path, "sync_interval_s = 10")) == MIN_DEADLINE_S
    assert round_deadline_s(_config(tmp_path, "sync_interval_s = 300")) == 600
    assert round_deadline_s(_config(tmp_path, "sync_round_deadline_s = 4")) == 4
    limits = Limits.from_config(_config(tmp_path, "sync_interval_s = 900"))
    assert limits.backoff_max_s == 900  # never tried more often than a healthy peer


def test_only_the_peers_own_doing_counts_against_it() -> None:
    """An honest relay of an origin that signed something odd, or that our policy refuses,
    stays healthy; the origins' problems are its reason. A stream the peer broke off, or a
    batch without a proof (older software), is a failure of the peer, never a lie."""
    big = OriginSyncReport(
        "big",
        "rejected",
        reason="checkpoint larger than this node accepts (big signed a tree of 10^12 entries)",
    )
    odd = OriginSyncReport(
        "odd", "failed", reason="odd signed an entry this node cannot read: bad tag"
    )
    fork = OriginSyncReport(
        "fork",
        "failed",
        reason="fork's signed tree of size 9 does not extend the 5 entries we hold (verified "
        "against its checkpoint of size 7); not the peer's fault",
    )
    good = OriginSyncReport("b", "imported", imported=1)
    outcome = judge_report(_report(good, big, odd, fork))
    assert outcome.clean and outcome.state is PeerState.HEALTHY
    assert outcome.reason is not None
    for origin in ("big: checkpoint larger", "odd: odd signed an entry", "fork: fork's signed"):
        assert origin in outcome.reason

    cut = OriginSyncReport(
        "a", "failed", reason="p.example ended the stream of a at index 3, before 9"
    )
    assert judge_report(_report(big, cut)).state is PeerState.BACKING_OFF
    refused = OriginSyncReport(
        "a", "failed", reason="we refuse p.example's certificate: it presented sha256 ab"
    )
    assert judge_report(_report(refused)).state is PeerState.BACKING_OFF
    old = OriginSyncReport(
        "a",
        "failed",
        reason="sent no batch proof: it runs a hashfed without batch proofs; upgrade it",
    )
    outcome = judge_report(_report(odd, old))
    assert outcome.state is PeerState.BACKING_OFF
    assert outcome.reason == f"p.example: a: {old.reason}"


def test_the_fetch_bound_reaches_the_rate_watch(tmp_path: Path) -> None:
    limits = Limits.from_config(_config(tmp_path, "max_fetch_per_round = 5000"))
    assert limits.max_fetch == 5000


def test_an_outdated_peer_backs_off_and_our_own_damage_never_counts() -> None:
    """The engine's explicit outcomes, not words: a peer on older software (no batch proofs)
    is a failure to retry later; damage in our own store is ours, whatever the reason says."""
    outdated = OriginSyncReport("a", PEER_OUTDATED, reason="upgrade it")
    outcome = judge_report(_report(outdated))
    assert outcome.state is PeerState.BACKING_OFF
    damaged = OriginSyncReport(
        "b", "failed", reason="p.example ended ... our store is damaged", own_damage=True
    )
    assert judge_report(_report(damaged)).state is PeerState.HEALTHY
