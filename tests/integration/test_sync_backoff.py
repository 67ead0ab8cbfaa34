"""Peers that fail are retried later and later, liars later still, and status says why.

Real nodes over real mutual TLS, syncing in the background loop of a serving node: D is a
member whose node is not running (nothing listens at its address), M a real gRPC server
(:class:`~tests.support.fakes.FlippingPeer`) relaying A's log with one byte flipped every
time. The rounds are observed in C's database (``peer_health.last_round_ms``), as any
operator's tool could.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.log.entry import Labels
from node.sync.fault import PEER_FAULT_REASON
from tests.support.cli import hashfed, hashfed_json
from tests.support.fakes import FlippingPeer
from tests.support.fednet import Member, members, peer, trust
from tests.support.slow_peer import configure, wait_for

A, C, D, M = "node-a.example", "node-c.example", "node-d.example", "mallory.example"
INTERVAL_S = 0.25


class Rounds:
    """Watches C's ``peer_health`` table and notes when each round with each peer began and
    ended (the row keeps when the latest round ended and how long it took)."""

    def __init__(self, member: Member) -> None:
        self.member = member
        self.ends: dict[str, list[tuple[int, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Rounds:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self.member.query(
                    "SELECT peer, last_round_ms, last_round_s FROM peer_health"
                )
            except Exception:  # the table is created when C first opens its database
                rows = []
            for name, ended, took in rows:
                seen = self.ends.setdefault(name, [])
                if not seen or seen[-1][0] != ended:
                    seen.append((ended, took))
            time.sleep(0.01)

    def gaps(self, name: str) -> list[float]:
        """Seconds from the end of each round to the start of the next: the back-off."""
        ends = self.ends.get(name, [])
        return [
            (end - took * 1000 - before) / 1000
            for (before, _), (end, took) in itertools.pairwise(ends)
        ]

    def count(self, name: str) -> int:
        return len(self.ends.get(name, []))


def _peer_status(c: Member, name: str) -> dict[str, object]:
    (row,) = [p for p in hashfed_json(c.home, "status")["peers"] if p["name"] == name]
    return dict(row)


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[Member, Member, Member, Member]]:
    with members(tmp_path, A, C, D, M) as (a, c, d, m):
        yield a, c, d, m


def test_an_unreachable_peer_is_retried_later_and_later_until_it_answers(
    net: tuple[Member, Member, Member, Member],
) -> None:
    _, c, d, _ = net
    peer(c, d)  # D does not run yet
    configure(c, sync_interval_s=INTERVAL_S, sync_backoff_max_s=2.0, sync_min_entries_per_s=0)
    c.start(run_sync=True)
    with Rounds(c) as rounds:
        assert wait_for(lambda: rounds.count(D) >= 6, 15)
        gaps = rounds.gaps(D)[:5]
        # Back-off: 0.5, 1, 2 s (each shortened by at most a quarter), then the 2 s cap.
        for k, gap in enumerate(gaps[:3], start=1):
            assert gap >= 0.75 * INTERVAL_S * 2**k, gaps
        assert gaps[0] < gaps[1] < gaps[2], gaps
        assert all(gap < 2.0 + 1.0 for gap in gaps), gaps  # capped (plus a round's time)

        status = _peer_status(c, D)
        assert status["state"] == "unreachable"
        assert f"{D} is not reachable at {d.address}" in str(status["reason"])
        assert isinstance(status["consecutive_failures"], int)
        assert status["consecutive_failures"] >= 6
        text = " ".join(hashfed(c.home, "status").stdout.split())
        assert f"Peer {D} is unreachable: {D} is not reachable at" in text
        assert "rounds in a row); next round" in text

        # D starts answering: the next round is clean and the back-off is forgotten.
        d.start()
        assert wait_for(lambda: _peer_status(c, D)["state"] == "healthy", 10)
        status = _peer_status(c, D)
        assert status["consecutive_failures"] == 0
        assert status["reason"] is None
        before = rounds.count(D)
        assert wait_for(lambda: rounds.count(D) >= before + 3, 5)  # every interval again
        assert all(gap < 4 * INTERVAL_S + 0.5 for gap in rounds.gaps(D)[-2:])


def test_a_lying_peer_backs_off_harder_than_an_unreachable_one(
    net: tuple[Member, Member, Member, Member],
) -> None:
    a, c, d, m = net
    peer(c, d)  # never runs
    trust(c, a)  # C trusts A but gets it only through Mallory
    trust(a, m)
    c.members.add_peer(m.card())
    a.publisher.import_hash_list(
        [f"md5 {0xB0B0 + i:032x}" for i in range(20)], Labels(entity="test")
    )
    configure(c, sync_interval_s=INTERVAL_S, sync_backoff_max_s=30.0, sync_min_entries_per_s=0)
    a.start()
    fake = FlippingPeer.between(m, a, c, flip_origin=A, flip_index=3)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        c.start(run_sync=True)
        with Rounds(c) as rounds:
            # Lies: 2, 4 s after the first and second (interval x 2^(k+2), jittered shorter).
            assert wait_for(lambda: rounds.count(M) >= 3, 15)
            lies = rounds.gaps(M)[:2]
            failures = rounds.gaps(D)[:2]
        assert lies[0] >= 0.75 * INTERVAL_S * 2**3, lies
        assert lies[1] >= 0.75 * INTERVAL_S * 2**4, lies
        assert lies[0] > 2 * failures[0], (lies, failures)
        assert rounds.count(D) > rounds.count(M)
        assert fake.flipped >= 3

        status = _peer_status(c, M)
        assert status["state"] == "lying"
        assert PEER_FAULT_REASON in str(status["reason"])
        # Each round tries the flipped batch twice (nothing was held, so only the bytes can be
        # wrong: docs/protocol.md §9.2), and both tries count: 2 x 20 entries.
        assert "40 entries rejected" in str(status["reason"])
        assert isinstance(status["consecutive_failures"], int)
        assert status["consecutive_failures"] >= 3
        assert isinstance(status["next_attempt_ms"], int)
        assert status["next_attempt_ms"] > time.time() * 1000
        assert _peer_status(c, D)["state"] == "unreachable"
        assert c.count("entries", A) == 0  # nothing of the lies became visible
    finally:
        c.stop()
        a.served.run(fake.stop())
