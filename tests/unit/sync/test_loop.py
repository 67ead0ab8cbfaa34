"""The minimum-rate rule of a round: measured on the engine's progress, only while streaming."""

from __future__ import annotations

from node.sync.engine import SyncProgress
from node.sync.health import Limits
from node.sync.loop import _RateWatch

LIMITS = Limits(interval_s=1, deadline_s=60, backoff_max_s=60, min_rate=10, rate_window_s=30)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _watch(limits: Limits = LIMITS) -> tuple[_RateWatch, Clock, list[SyncProgress]]:
    clock = Clock()
    seen: list[SyncProgress] = []
    return _RateWatch(limits, seen.append, clock), clock, seen


def _tell(watch: _RateWatch, received: int, total: int, origin: str = "a.example") -> None:
    watch(SyncProgress("p.example", origin, received, total))


def test_a_trickle_is_cut_after_one_window_and_progress_is_passed_on() -> None:
    watch, clock, seen = _watch()
    _tell(watch, 0, 3_000)
    _tell(watch, 1_000, 3_000)  # the first batch at once, then one every 55 s
    clock.now += 29.9
    assert watch.too_slow() is None  # not a whole window yet
    clock.now += 0.2
    assert watch.too_slow() == (
        "too slow: 0 entries of a.example in the last 30 s (at least 10 per second expected)"
    )
    assert [p.received for p in seen] == [0, 1_000]


def test_a_steady_stream_is_never_cut() -> None:
    watch, clock, _ = _watch()
    _tell(watch, 0, 100_000)
    for step in range(1, 120):
        clock.now += 1.0
        _tell(watch, step * 400, 100_000)  # 400 entries/s, well above 10
        assert watch.too_slow() is None


def test_a_stream_that_completed_is_no_longer_timed() -> None:
    watch, clock, _ = _watch()
    _tell(watch, 0, 250)
    _tell(watch, 120, 250)
    clock.now += 31
    _tell(watch, 249, 250)
    assert watch.too_slow() is not None  # 129 entries in 30 s: below 10 per second
    _tell(watch, 250, 250)  # complete: verified and imported next, which is not a stream
    clock.now += 100
    assert watch.too_slow() is None


def test_nothing_is_timed_between_streams_or_when_the_rule_is_off() -> None:
    watch, clock, _ = _watch()
    _tell(watch, 0, 500)
    watch.streams_over()  # a stream that broke off; the gossip that follows is not timed
    clock.now += 100
    assert watch.too_slow() is None

    _tell(watch, 0, 500, origin="b.example")  # the next origin starts its own window
    clock.now += 10
    assert watch.too_slow() is None
    clock.now += 21
    assert watch.too_slow() is not None and "of b.example" in (watch.too_slow() or "")

    off, clock, _ = _watch(
        Limits(interval_s=1, deadline_s=60, backoff_max_s=60, min_rate=0, rate_window_s=30)
    )
    _tell(off, 0, 500)
    clock.now += 1_000
    assert off.too_slow() is None


def test_an_origin_stopped_at_max_fetch_is_no_longer_timed() -> None:
    """The engine stops an origin at max_fetch_per_round although received < total; what it
    does next (storing, the next origins' work, deciding whose fault) is not a stream."""
    limits = Limits(
        interval_s=1,
        deadline_s=60,
        backoff_max_s=60,
        min_rate=10,
        rate_window_s=30,
        max_fetch=5_000,
    )
    watch, clock, _ = _watch(limits)
    for i in range(1, 6):
        clock.now += 0.4
        _tell(watch, i * 1_000, 10_000)
    for later in (10, 29, 31, 35, 300):
        clock.now += later
        assert watch.too_slow() is None
    # The next origin is timed on its own again.
    _tell(watch, 1_000, 3_000, origin="b.example")
    clock.now += 31
    assert "of b.example" in (watch.too_slow() or "")


def test_a_final_report_ends_the_timing_and_a_restart_opens_a_new_window() -> None:
    watch, clock, _ = _watch()
    _tell(watch, 1_000, 3_000)
    _tell(watch, 1_000, 1_000)  # an engine's report that the origin's session ended early
    clock.now += 100
    assert watch.too_slow() is None
    # The same origin streamed again from its start (the retry of §9.2): a new window, not a
    # negative count over the old one.
    _tell(watch, 0, 3_000)
    _tell(watch, 500, 3_000)
    clock.now += 29
    assert watch.too_slow() is None
    _tell(watch, 1_000, 3_000)
    clock.now += 2
    assert watch.too_slow() is None  # 1,000 entries in 31 s: above 10 per second
