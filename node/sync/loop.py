"""Syncing peers independently: one task per peer, a deadline per round, back-off per peer.

``hashfed serve`` runs :func:`run_sync_loop`: every peer has its own asyncio task and its own
schedule (:mod:`node.sync.health`), so a peer that trickles entries, stalls or lies delays
nobody but itself. ``hashfed sync`` runs :func:`sync_all`: one round with every peer at once.

Each round (:func:`sync_round`) runs :func:`~node.sync.engine.sync_peer` and the cosignature
gossip under two bounds:

* **deadline** (``sync_round_deadline_s``): a round still running then is cancelled: its
  streams are cancelled, the channel closed; whatever the engine already stored stays (every
  store write is one transaction on the node thread, which a cancelled coroutine never
  interrupts). The peer is marked ``slow``: "too slow: round exceeded N s";
* **minimum rate** (``sync_min_entries_per_s`` over ``sync_rate_window_s``): a stream that
  delivers fewer entries than that over the window is cut the same way, without waiting for
  the deadline. Measured on the engine's progress reports, so only while entries are being
  streamed, never while they are verified or imported.

The outcome of every round is kept in the store (``peer_health``) and shown by ``hashfed
status``; the statistics' last error says it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from node.core import Node
from node.errors import NotFoundError, StoreError
from node.service.runner import NodeRunner
from node.store.rows import PeerHealthRow, now_ms
from node.sync.cosign_gossip import gather_cosignatures
from node.sync.engine import PeerSyncReport, ProgressFn, SyncProgress, sync_peer
from node.sync.health import Limits, Outcome, PeerState, judge_report, next_health
from node.text import shown

log = logging.getLogger("hashfed.sync")

WATCH_TICK_S = 0.5
"""How often a round's rate is checked (never more often than a quarter of the window)."""


def _peer_names(node: Node) -> list[str]:
    return [p.name for p in node.members.peers()]


def _addresses(node: Node) -> dict[str, str]:
    return {p.name: p.address for p in node.members.peers()}


def _limits(node: Node) -> Limits:
    return Limits.from_config(node.config)


class _RateWatch:
    """The progress callback of one round: remembers how fast entries arrive.

    The engine reports ``received`` of ``total`` per origin after each verified batch. An
    origin's stream is timed from its first report until the engine stops streaming it, which
    is the first of:

    * ``received == total``: all of ``[start, n)`` arrived;
    * ``received >= max_fetch_per_round``: the engine stops the origin there (§9.6); what
      follows (storing the last group, the next origins) is not a stream;
    * the next origin's first report, or :meth:`streams_over` at the end of the round.

    A stream that stops at a refused batch or breaks off gives no report of its own: the work
    that follows it (a rejection, the next origins' comparisons) is not a stream either, but
    the watch only learns so at the next report, or from a report with ``received == total``
    that an engine may send when an origin's session ends.
    """

    def __init__(
        self,
        limits: Limits,
        forward: ProgressFn | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits
        self.forward = forward
        self._clock = clock
        self._origin: str | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._streaming = False

    def __call__(self, p: SyncProgress) -> None:
        now = self._clock()
        if p.origin != self._origin or (self._samples and p.received < self._samples[-1][1]):
            # Another origin, or the same one streamed again from its start (the retry after
            # a refused first batch, §9.2): a new stream, a new window.
            self._origin = p.origin
            self._samples.clear()
        self._samples.append((now, p.received))
        # At max_fetch the engine breaks off the stream after this batch (engine._fetch:
        # ``position >= limit``), whatever ``total`` says: from here on nothing is streamed,
        # and the silence that follows must not look like a trickle.
        stopped = 0 < self.limits.max_fetch <= p.received
        self._streaming = p.received < p.total and not stopped
        if self.forward is not None:
            self.forward(p)

    def streams_over(self) -> None:
        """No more entries in this round (the cosignature gossip follows): nothing to time."""
        self._streaming = False

    def too_slow(self) -> str | None:
        """Why the stream in hand is too slow, or None."""
        now = self._clock()
        rate, window = self.limits.min_rate, self.limits.rate_window_s
        if rate <= 0 or not self._streaming or not self._samples:
            return None
        if now - self._samples[0][0] < window:
            return None  # not streaming for a whole window yet
        # Entries received at the start of the window: the newest sample at or before it.
        while len(self._samples) > 1 and self._samples[1][0] <= now - window:
            self._samples.popleft()
        at_start = self._samples[0][1]
        received = self._samples[-1][1] - at_start
        if received >= rate * window:
            return None
        return (
            f"too slow: {received} entries of {self._origin} in the last {window:g} s "
            f"(at least {rate:g} per second expected)"
        )


@dataclass
class PeerRound:
    """One round with one peer: its report, how it ended, when the next one is due."""

    peer: str
    report: PeerSyncReport
    outcome: Outcome
    health: PeerHealthRow
    delay_s: float


async def sync_round(
    runner: NodeRunner,
    peer: str,
    limits: Limits,
    progress: ProgressFn | None = None,
    *,
    address: str = "",
) -> PeerRound:
    """One bounded round with ``peer``; the outcome is recorded in the peer's health.

    Raises only for our own trouble (the peer unknown, the database unusable), as
    :func:`~node.sync.engine.sync_peer` does.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    watch = _RateWatch(limits, progress)

    async def work() -> PeerSyncReport:
        report = await sync_peer(runner, peer, watch)
        # A stream that broke off leaves the watch "streaming"; the gossip is not a stream.
        watch.streams_over()
        if report.error is None:
            await gather_cosignatures(runner, peer, [o.origin for o in report.origins])
        return report

    task = asyncio.ensure_future(work())
    slow: str | None = None
    try:
        while not task.done():
            left = started + limits.deadline_s - loop.time()
            if left <= 0:
                slow = f"too slow: round exceeded {limits.deadline_s:g} s"
                break
            tick = min(left, WATCH_TICK_S, limits.rate_window_s / 4)
            await asyncio.wait({task}, timeout=tick)
            if not task.done() and (slow := watch.too_slow()) is not None:
                break
    finally:
        if not task.done():
            # Cancelling cancels the stream in hand and closes the channel; what the engine
            # stored so far stays (each store call is one transaction on the node thread).
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if slow is not None:
        report = PeerSyncReport(peer, address, error=slow)
        outcome = Outcome(PeerState.SLOW, slow)
        # The engine records its own results; a cancelled round never got that far.
        await runner.call(runner.node.importer.record_peer_result, peer, error=slow)
        log.warning("sync %s: %s; cancelled, next round later", peer, slow)
    else:
        report = task.result()
        outcome = judge_report(report)
    duration = loop.time() - started
    return await _record(runner, peer, report, outcome, limits, duration)


async def _record(
    runner: NodeRunner,
    peer: str,
    report: PeerSyncReport,
    outcome: Outcome,
    limits: Limits,
    duration: float,
) -> PeerRound:
    previous = (await runner.call(runner.node.importer.peer_health)).get(peer)
    health, delay = next_health(
        peer, previous, outcome, limits, now_ms=now_ms(), duration_s=duration
    )
    await runner.call(runner.node.importer.record_peer_health, health)
    if not outcome.clean:
        log.info(
            "sync %s: %s (%d in a row); next round in %.1f s",
            peer,
            outcome.state,
            health.consecutive_failures,
            delay,
        )
    return PeerRound(peer, report, outcome, health, delay)


async def sync_all(
    runner: NodeRunner, only: str | None = None, progress: ProgressFn | None = None
) -> list[PeerSyncReport]:
    """One round with every peer (or only ``only``), all at once, each within its deadline.

    Back-off is not waited for (the operator asked for a sync now) but the outcome is
    recorded like the loop's. Peer failures are in the reports; our own trouble (an unknown
    peer, the database) raises once every round has ended.
    """
    limits = await runner.call(_limits, runner.node)
    addresses = await runner.call(_addresses, runner.node)
    names = [only] if only is not None else list(addresses)
    rounds = await asyncio.gather(
        *(
            sync_round(runner, name, limits, progress, address=addresses.get(name, ""))
            for name in names
        ),
        return_exceptions=True,
    )
    for result in rounds:
        if isinstance(result, BaseException):
            raise result
    return [r.report for r in rounds if isinstance(r, PeerRound)]


async def _first_delay(runner: NodeRunner, peer: str, limits: Limits) -> float:
    """A peer still backing off (from before a restart) waits out what is left of it."""
    health = (await runner.call(runner.node.importer.peer_health)).get(peer)
    if health is None or health.consecutive_failures == 0 or health.next_attempt_ms is None:
        return 0.0
    left = (health.next_attempt_ms - now_ms()) / 1000
    return min(max(0.0, left), limits.backoff_max_s)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    if seconds > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


async def _peer_loop(runner: NodeRunner, peer: str, limits: Limits, stop: asyncio.Event) -> None:
    """Rounds with one peer, each when its schedule says, until ``stop`` or cancellation."""
    try:
        delay = await _first_delay(runner, peer, limits)
    except Exception:
        log.exception("sync %s: cannot read its schedule; starting now", peer)
        delay = 0.0
    if delay > 0:
        log.info("sync %s: still backing off; first round in %.1f s", peer, delay)
    while True:
        await _wait(stop, delay)
        if stop.is_set():
            return
        try:
            delay = (await sync_round(runner, peer, limits)).delay_s
        except NotFoundError as exc:
            # Removed meanwhile: the supervisor ends this task at its next look.
            log.info("sync %s: %s", peer, shown(str(exc)))
            delay = limits.interval_s
        except StoreError as exc:
            # Our own store failed (disk full, database busy, a damaged page): not the peer's
            # doing, so its health and back-off are left as they were, and the round is tried
            # again at the normal interval: once space is freed, sync resumes within one
            # interval instead of a back-off of up to sync_backoff_max_s. `status` shows the
            # store's trouble in its store section.
            log.error(
                "sync %s: not synced, our store failed: %s; trying again in %g s",
                peer,
                shown(str(exc)),
                limits.interval_s,
            )
            delay = limits.interval_s
        except Exception as exc:
            # Anything else is unexpected (a bug, perhaps triggered by what this peer sent):
            # this peer waits like after a failure, so a peer that trips it is not retried
            # every interval.
            log.exception("sync %s: failed on our side", peer)
            try:
                outcome = Outcome(PeerState.BACKING_OFF, f"our side: {exc}")
                report = PeerSyncReport(peer, error=str(exc))
                delay = (await _record(runner, peer, report, outcome, limits, 0.0)).delay_s
            except Exception:
                log.exception("sync %s: cannot record the failure", peer)
                delay = limits.interval_s


async def run_sync_loop(runner: NodeRunner, stop: asyncio.Event) -> None:
    """Sync every peer on its own schedule until ``stop`` is set.

    One task per peer (:func:`_peer_loop`); the peer list is read again every
    ``sync_interval_s``, so peers added or removed meanwhile are started or ended. Never dies
    on a peer's error. When ``stop`` is set, rounds in progress are cancelled (what they stored
    stays) and the loop ends.
    """
    limits = await runner.call(_limits, runner.node)
    log.info(
        "sync loop started: every %g s per peer, rounds of at most %g s, back-off up to %g s",
        limits.interval_s,
        limits.deadline_s,
        limits.backoff_max_s,
    )
    tasks: dict[str, asyncio.Task[None]] = {}
    try:
        while not stop.is_set():
            try:
                names = set(await runner.call(_peer_names, runner.node))
            except Exception:
                log.exception("cannot list peers; trying again in %g s", limits.interval_s)
                names = set(tasks)
            for name in sorted(set(tasks) - names):
                tasks.pop(name).cancel()
            for name in sorted(names):
                task = tasks.get(name)
                if task is not None and task.done() and not task.cancelled():
                    if task.exception() is not None:
                        log.error("sync %s: its task ended: %r; restarting", name, task.exception())
                    task = None
                if task is None:
                    tasks[name] = asyncio.get_running_loop().create_task(
                        _peer_loop(runner, name, limits, stop), name=f"hashfed-sync-{name}"
                    )
            await _wait(stop, limits.interval_s)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        log.info("sync loop stopped")
