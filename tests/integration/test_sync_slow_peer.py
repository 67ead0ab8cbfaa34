"""A slow peer delays nobody else's entries, is cut at its round's deadline, and shows in status.

Real nodes over real mutual TLS: C peers with an honest member H and with S, a real gRPC server
(:class:`~tests.support.slow_peer.SlowPeer`) that relays A's genuine log one batch every
55 s, under the client's 60 s idle timeout. C syncs in its background loop (``hashfed serve``).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.log.entry import Labels
from tests.support.cli import hashfed, hashfed_json
from tests.support.fednet import Member, cli_subprocess, members, peer, trust
from tests.support.slow_peer import SlowPeer, configure, wait_for

A, C, H, S = "node-a.example", "node-c.example", "honest.example", "slow.example"
A_ENTRIES = 3_000
"""Three batches: S sends the first at once, the next one 55 s later."""
INTERVAL_S = 1.5
DEADLINE_S = 8.0


def _hashes(tag: int, count: int) -> list[str]:
    return [f"md5 {tag:016x}{i:016x}" for i in range(count)]


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[Member, Member, Member, Member]]:
    with members(tmp_path, A, C, H, S) as (a, c, h, s):
        yield a, c, h, s


def _start_slow(a: Member, c: Member, s: Member, first_batches: int = 1) -> SlowPeer:
    """S's node: relays A's log (A serves S as a member) to C (S pins C), at a trickle."""
    slow = SlowPeer.between(s, a, c, first_batches=first_batches, gap_s=55.0)
    assert a.served is not None
    a.served.run(slow.start(s.address))
    return slow


def _peer_status(c: Member, name: str) -> dict[str, object]:
    (row,) = [p for p in hashfed_json(c.home, "status")["peers"] if p["name"] == name]
    return dict(row)


def test_a_slow_peer_never_delays_an_honest_peers_entry(
    net: tuple[Member, Member, Member, Member],
) -> None:
    a, c, h, s = net
    trust(c, a)  # C trusts A's entries; it gets them only through S
    peer(c, h)
    c.members.add_peer(s.card())
    trust(a, s)  # A serves S as it would any member
    a.publisher.import_hash_list(_hashes(0xA, A_ENTRIES), Labels(entity="a"))
    h.publisher.import_hash_list(_hashes(0x1, 1), Labels(entity="h"))
    # The rate rule is off here: this test is about the deadline alone.
    configure(
        c,
        sync_interval_s=INTERVAL_S,
        sync_round_deadline_s=DEADLINE_S,
        sync_min_entries_per_s=0,
        sync_backoff_max_s=60.0,
    )
    a.start()
    h.start()
    slow = _start_slow(a, c, s)
    c.start(run_sync=True)
    try:
        assert wait_for(lambda: slow.open == 1, 15), "C never started streaming from S"
        assert wait_for(lambda: c.count("entries", H) == 1, 2 * INTERVAL_S + 5)

        # H publishes while S is still streaming to C: it arrives within two intervals.
        h.publisher.import_hash_list(_hashes(0x2, 1), Labels(entity="h"))
        published = time.monotonic()
        assert wait_for(lambda: c.count("entries", H) == 2, 2 * INTERVAL_S)
        arrived = time.monotonic() - published
        assert slow.open == 1 and slow.cancelled == 0, "S's stream should still be going on"
        assert arrived <= 2 * INTERVAL_S

        # At its deadline S's round is cancelled: the stream too, and status says why.
        assert wait_for(lambda: slow.cancelled >= 1, DEADLINE_S + 5)
        assert wait_for(lambda: _peer_status(c, S)["state"] == "slow", 5)
        status = _peer_status(c, S)
        assert status["reason"] == f"too slow: round exceeded {DEADLINE_S:g} s"
        assert status["consecutive_failures"] == 1
        assert isinstance(status["next_attempt_ms"], int)
        assert status["last_error"] == f"too slow: round exceeded {DEADLINE_S:g} s"
        assert _peer_status(c, H)["state"] == "healthy"
        text = hashfed(c.home, "status").stdout
        assert f"Peer {S} is slow: too slow: round exceeded 8 s; next round" in " ".join(
            text.split()
        )
        assert c.count("entries", H) == 2
    finally:
        c.stop()
        assert a.served is not None
        a.served.run(slow.stop())


def test_a_stream_below_the_minimum_rate_is_cut_before_the_deadline(
    net: tuple[Member, Member, Member, Member],
) -> None:
    a, c, _h, s = net
    trust(c, a)
    c.members.add_peer(s.card())
    trust(a, s)
    a.publisher.import_hash_list(_hashes(0xA, A_ENTRIES), Labels(entity="a"))
    configure(
        c,
        sync_interval_s=INTERVAL_S,
        sync_round_deadline_s=120.0,
        sync_min_entries_per_s=2.0,
        sync_rate_window_s=2.0,
        sync_backoff_max_s=60.0,
    )
    a.start()
    slow = _start_slow(a, c, s)
    c.start(run_sync=True)
    try:
        assert wait_for(lambda: slow.started == 1, 15)
        began = time.monotonic()
        assert wait_for(lambda: slow.cancelled == 1, 10)
        assert time.monotonic() - began < 10  # long before the 120 s deadline
        assert wait_for(lambda: _peer_status(c, S)["state"] == "slow", 5)
        reason = str(_peer_status(c, S)["reason"])
        assert reason == (
            f"too slow: 0 entries of {A} in the last 2 s (at least 2 per second expected)"
        )
    finally:
        c.stop()
        assert a.served is not None
        a.served.run(slow.stop())


def test_hashfed_sync_runs_every_peer_at_once_each_within_its_deadline(
    net: tuple[Member, Member, Member, Member],
) -> None:
    """``hashfed sync`` (a real process) beside serving peers: the honest round and the slow
    one overlap in time, the slow one ends at its deadline, exit code 9 says it failed."""
    a, c, h, s = net
    trust(c, a)
    peer(c, h)
    c.members.add_peer(s.card())
    trust(a, s)
    a.publisher.import_hash_list(_hashes(0xA, A_ENTRIES), Labels(entity="a"))
    h.publisher.import_hash_list(_hashes(0x1, 3), Labels(entity="h"))
    configure(c, sync_round_deadline_s=4.0, sync_min_entries_per_s=0)
    a.start()
    h.start()
    slow = _start_slow(a, c, s)
    try:
        child = cli_subprocess(
            c.home, "sync", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            stdout, stderr = child.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            pytest.fail("hashfed sync was still running after 60 s (a 4 s deadline per round)")
    finally:
        assert a.served is not None
        a.served.run(slow.stop())
    assert child.returncode == 9, stderr
    peers = {p["peer"]: p for p in json.loads(stdout)["peers"]}
    assert peers[H]["ok"] and peers[H]["received"] == 3
    assert peers[S]["error"] == "too slow: round exceeded 4 s"
    assert "too slow: round exceeded 4 s" in stderr
    assert slow.cancelled == 1
    assert c.count("entries", H) == 3

    rounds = {
        name: (end - took * 1000, end)
        for name, end, took in c.query("SELECT peer, last_round_ms, last_round_s FROM peer_health")
    }
    (h_start, h_end), (s_start, s_end) = rounds[H], rounds[S]
    assert h_start < s_end and s_start < h_end, rounds  # at the same time, not one by one
    assert 4.0 <= (s_end - s_start) / 1000 < 4.0 + 2.0
    status = {p["name"]: p for p in hashfed_json(c.home, "status")["peers"]}
    assert (status[H]["state"], status[S]["state"]) == ("healthy", "slow")


def test_a_cancelled_round_keeps_what_arrived_and_the_next_round_goes_on_from_there(
    net: tuple[Member, Member, Member, Member],
) -> None:
    """S sends 9,000 of A's 10,000 entries at once, then stalls; the round is cut at 3 s."""
    a, c, _h, s = net
    trust(c, a)
    c.members.add_peer(s.card())
    trust(a, s)
    a.publisher.import_hash_list(_hashes(0xA, 10_000), Labels(entity="a"))
    configure(
        c,
        sync_interval_s=1.0,
        sync_round_deadline_s=3.0,
        sync_min_entries_per_s=0,
        sync_backoff_max_s=1.0,
    )
    a.start()
    slow = _start_slow(a, c, s, first_batches=9)
    c.start(run_sync=True)

    def state() -> str | None:
        rows = c.query("SELECT state FROM peer_health WHERE peer = ?", S)
        return str(rows[0][0]) if rows else None

    try:
        assert wait_for(lambda: slow.cancelled >= 1, 15)
        # Read while it holds: the next round (in at most 1 s) gets the last 1,808 entries at
        # once and may end healthy before C stops.
        assert wait_for(lambda: state() == "slow", 5)
        assert wait_for(lambda: len(slow.requests) >= 2, 10)
    finally:
        c.stop()
        assert a.served is not None
        a.served.run(slow.stop())
    # What arrived stayed (stored once verified), and the next round asked only for what came
    # after it: at least the 8,192-entry group written while the stream went on.
    kept = c.count("entries", A)
    first, second = slow.requests[:2]
    assert first == (0, 10_000)
    assert second[0] >= 8_192 and second[1] == 10_000, slow.requests
    assert kept >= second[0]
