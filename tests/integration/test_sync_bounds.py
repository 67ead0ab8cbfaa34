"""Issue 9, finding 2: a sync verifies each batch as it arrives, in bounded memory and disk.

A (honest origin) serves its log; Mallory (a member with its own identity and mutual TLS,
:mod:`tests.support.fakes`) relays A's genuine signed checkpoint to C with junk entries,
or ends the stream early; M (:class:`~tests.support.malicious.MaliciousMember`) signs a
checkpoint of 10^12 entries. C is the victim, as a ``hashfed sync`` child process where its
memory is measured (the child's own VmHWM, written as it exits).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.hashing import parse_signal
from node.log.entry import Labels
from node.results import to_json
from node.sync.engine import PeerSyncReport, sync_peer
from node.sync.fault import PEER_FAULT_REASON
from tests.support.fakes import FlippingPeer, JunkPeer, ShortPeer
from tests.support.fednet import ROOT, Member, cli_subprocess, peer, trust
from tests.support.malicious import MaliciousMember

A, B, C, M = "node-a.example", "node-b.example", "node-c.example", "mallory.example"
MIB = 1024 * 1024


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[Member, Member, Member]]:
    a, c, m = (Member.create(tmp_path, name) for name in (A, C, M))
    trust(a, m)  # A serves Mallory, as it would any member
    trust(c, a)  # C trusts A's entries but peers only with Mallory
    c.members.add_peer(m.card())
    yield a, c, m
    a.stop()
    c.stop()


def _publish(member: Member, count: int, start: int = 0) -> None:
    hashes = [f"md5 {0xBEEF0000 + i:032x}" for i in range(start, start + count)]
    member.publisher.import_hash_list(hashes, Labels(entity="bulk"))


def _relay(kind: type[FlippingPeer], a: Member, c: Member, m: Member, **attrs: Any) -> FlippingPeer:
    fake = kind.between(m, a, c, flip_origin=A, flip_index=0)
    for name, value in attrs.items():
        setattr(fake, name, value)
    return fake


# ``hashfed sync`` as a child process that writes its own peak RSS (VmHWM) when it exits. Not
# the rusage of the child: Linux keeps the high-water mark of the forked copy of this (large)
# test process across exec, so ru_maxrss would measure pytest.
SYNC_CHILD = """
import atexit, sys
sys.path.insert(0, {root!r})

def peak() -> None:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open({out!r}, "w").write(line.split()[1])

atexit.register(peak)
from node.cli.main import app
app(sys.argv[1:])
"""


def _sync_child(home: Path, timeout: float = 120) -> tuple[dict[str, Any], float, float]:
    """``hashfed sync --json`` in a child process: (report, seconds, its peak RSS in MiB)."""
    peak_file = home / "sync.peak_kib"
    code = SYNC_CHILD.format(root=str(ROOT), out=str(peak_file))
    started = time.monotonic()
    with (home / "sync.stderr").open("w") as errors:
        try:
            done = subprocess.run(
                [sys.executable, "-c", code, "sync", "--json", "--home", str(home)],
                check=False,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hashfed sync did not finish in {timeout} s") from None
    seconds = time.monotonic() - started
    assert done.returncode in (0, 9), (done.returncode, (home / "sync.stderr").read_text())
    (report,) = json.loads(done.stdout)["peers"]
    return report, seconds, int(peak_file.read_text()) / 1024


def _origin(report: dict[str, Any] | PeerSyncReport, origin: str = A) -> Any:
    origins = report["origins"] if isinstance(report, dict) else report.origins
    (found,) = [o for o in origins if (o["origin"] if isinstance(o, dict) else o.origin) == origin]
    return found


def _disk(member: Member) -> int:
    return sum(p.stat().st_size for p in member.home.glob("hashfed.db*"))


def test_junk_bodies_for_a_genuine_checkpoint_keep_the_victim_small(
    net: tuple[Member, Member, Member],
) -> None:
    a, c, m = net
    _publish(a, 4_000)  # 4,000 x 64 KiB of junk would be 250 MiB held and staged
    a.start()
    fake = _relay(JunkPeer, a, c, m)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        report, seconds, peak = _sync_child(c.home)
    finally:
        a.served.run(fake.stop())
    print(f"victim: {seconds:.1f} s, peak RSS {peak:.0f} MiB, {fake.flipped} junk entries sent")
    assert peak < 200, f"victim peak RSS {peak:.0f} MiB"
    origin = _origin(report)
    assert origin["status"] == "rejected"
    assert origin["reason"].startswith(PEER_FAULT_REASON)
    # The first junk batch ends the stream; it is asked once more (from the empty tree only
    # the bytes can be wrong) and refused again. Nothing more was read.
    assert origin["rejected"] == 2 * 16
    assert fake.flipped <= 4 * 16 + 4_000 // 4  # what gRPC buffered ahead, not the log
    assert (c.count("entries", A), c.count("checkpoints", A)) == (0, 0)
    assert c.count("verified_heads", A) == 0
    assert _disk(c) < 8 * MIB


def test_a_junk_stream_ended_one_short_repeatedly_stores_nothing(
    net: tuple[Member, Member, Member],
) -> None:
    a, c, m = net
    _publish(a, 2_000)
    a.start()
    c.start()
    fake = _relay(JunkPeer, a, c, m, short_by=1)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    disk = []
    try:
        for _ in range(3):
            report = c.sync_one(M)
            origin = _origin(report)
            assert origin.status == "rejected", origin
            assert origin.reason.startswith(PEER_FAULT_REASON)
            assert (c.count("entries", A), c.count("verified_heads", A)) == (0, 0)
            disk.append(_disk(c))
    finally:
        a.served.run(fake.stop())
    # Rounds do not add up: no junk is kept anywhere (the old staging held 2,000 x 64 KiB).
    assert max(disk) < 8 * MIB, disk
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == M]
    assert stats["rejected_reasons"] == {PEER_FAULT_REASON: 3 * 2 * 16}


def test_a_genuine_stream_ended_one_short_keeps_the_verified_entries(
    net: tuple[Member, Member, Member],
) -> None:
    a, c, m = net
    _publish(a, 2_001)  # batches of 1,000, 1,000 and 1: the last one never comes
    peer(c, a)  # an honest peer too, asked only at the end
    a.start()
    c.start()
    fake = _relay(ShortPeer, a, c, m)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        first = _origin(c.sync_one(M))
        second = _origin(c.sync_one(M))
    finally:
        a.served.run(fake.stop())
    assert first.status == "failed" and "ended the stream" in first.reason
    assert (first.imported, first.our_size_after) == (2_000, 2_000)
    # Kept, verified and visible (matching), but no checkpoint covers them yet.
    assert c.count("entries", A) == 2_000 and c.count("checkpoints", A) == 0
    assert c.query("SELECT size FROM verified_heads WHERE origin = ?", A) == [(2_000,)]
    (shown,) = [o for o in to_json(c.status())["origins"] if o["origin"] == A]
    assert (shown["size"], shown["held"]) == (0, 2_000)
    (found,) = c.matcher.match_signals([parse_signal(f"md5:{0xBEEF0000 + 1_999:032x}")])
    assert [(x.origin, x.entry_index) for x in found.matches] == [(A, 1_999)]
    # The next round asks only for the one missing entry and stores nothing more.
    assert second.status == "failed" and (second.fetched, second.imported) == (0, 0)
    assert second.reused == 2_000
    assert c.count("entries", A) == 2_000
    # An honest peer finishes it: the signed checkpoint is stored, the head is gone.
    healed = _origin(c.sync_one(A))
    assert (healed.status, healed.fetched, healed.imported) == ("imported", 1, 1)
    assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
    assert c.count("verified_heads", A) == 0


def test_a_stream_broken_by_an_error_keeps_what_was_verified(
    net: tuple[Member, Member, Member],
) -> None:
    a, c, m = net
    _publish(a, 2_001)
    a.start()
    c.start()
    fake = _relay(ShortPeer, a, c, m, abort=True)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        origin = _origin(c.sync_one(M))
    finally:
        a.served.run(fake.stop())
    assert origin.status == "failed" and "the relay broke down" in origin.reason
    # 2,000 verified entries arrived (one group, not written yet when the error came): kept.
    assert (origin.imported, origin.our_size_after) == (2_000, 2_000)
    assert c.count("entries", A) == 2_000
    assert c.query("SELECT size FROM verified_heads WHERE origin = ?", A) == [(2_000,)]


def test_a_checkpoint_of_a_trillion_entries_is_refused_before_fetching(tmp_path: Path) -> None:
    c = Member.create(tmp_path, C)
    m = MaliciousMember.create(tmp_path, M)
    c.members.add_peer(m.card_json())
    m.pin_home(C, c.home)
    m.show(C, m.history(3, "h"), claimed_size=10**12)
    with m:
        report, seconds, _ = _sync_child(c.home, timeout=60)
    origin = _origin(report, M)
    assert origin["status"] == "rejected"
    assert "max_origin_entries is 100000000" in origin["reason"]
    assert "1000000000000 entries" in origin["reason"]
    assert origin["fetched"] == 0 and m.streamed == 0
    assert "StreamEntries" not in [call.method for call in m.calls_by(C)]
    assert seconds < 30
    assert (c.count("entries", M), c.count("verified_heads", M)) == (0, 0)


def test_max_fetch_per_round_fetches_the_rest_next_round(tmp_path: Path) -> None:
    a, c = Member.create(tmp_path, A), Member.create(tmp_path, C)
    peer(c, a)
    with (c.home / "config.toml").open("a") as config:
        config.write("max_fetch_per_round = 2500\n")
    _publish(a, 7_000)
    a.start()
    c.start()
    try:
        # A round stops at the first batch boundary (1,000 here) at or past the bound: a batch
        # verifies only whole.
        sizes = []
        for _ in range(3):
            origin = _origin(c.sync_one(A))
            assert origin.status == "imported", origin
            sizes.append((origin.fetched, c.count("entries", A), c.count("checkpoints", A)))
        assert sizes == [(3_000, 3_000, 0), (3_000, 6_000, 0), (1_000, 7_000, 1)]
        assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
    finally:
        a.stop()
        c.stop()


def test_two_peers_relaying_one_origin_at_once(tmp_path: Path) -> None:
    """C pulls A from A and from B concurrently. B holds only A's first 4,500 entries, so the
    two streams prove into different signed trees and their groups end at different places:
    whichever is stored first, the other's overlapping group is skipped or only its tail is
    appended. Each entry is stored once; the newest signed checkpoint is reached."""
    a, b, c = (Member.create(tmp_path, name) for name in (A, B, C))
    peer(b, a)
    peer(c, a)
    peer(c, b)
    trust(a, b)
    trust(b, c)  # B serves C
    trust(a, c)
    _publish(a, 4_500)
    a.start()
    b.start()
    assert _origin(b.sync_one(A)).status == "imported"
    _publish(a, 25_500, start=4_500)
    c.start()
    try:
        assert c.served is not None
        runner = c.served.running.runner

        async def both() -> list[PeerSyncReport]:
            return list(await asyncio.gather(sync_peer(runner, A), sync_peer(runner, B)))

        reports = c.served.run(both(), timeout=120)
        for report in reports:
            assert report.ok, report.problems()
        imported = [_origin(r).imported for r in reports]
        assert sum(imported) == 30_000, imported
        assert c.query(
            "SELECT COUNT(*), COUNT(DISTINCT idx), MIN(idx), MAX(idx) FROM entries "
            "WHERE origin = ?",
            A,
        )[0] == (30_000, 30_000, 0, 29_999)
        assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
        assert c.count("verified_heads", A) == 0
        assert c.count("signals", A) == 30_000
    finally:
        for member in (a, b, c):
            member.stop()


def test_hashfed_sync_beside_serve_pulls_the_same_origin(tmp_path: Path) -> None:
    """Two processes on one database stream the same origin at once: no IntegrityError, no
    traceback, each entry stored once, the signed checkpoint reached."""
    a, c = Member.create(tmp_path, A), Member.create(tmp_path, C)
    peer(c, a)
    _publish(a, 60_000)
    a.start()
    c.start()
    try:
        assert c.served is not None
        runner = c.served.running.runner
        with (c.home / "sync.stderr").open("w") as errors:
            child = cli_subprocess(c.home, "sync", "--json", stdout=subprocess.PIPE, stderr=errors)
            deadline = time.monotonic() + 60
            while c.count("entries", A) == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # the child has stored its first group: now race it
            served = c.served.run(sync_peer(runner, A), timeout=120)
            out, _ = child.communicate(timeout=120)
        assert child.returncode == 0, (c.home / "sync.stderr").read_text()
        assert "Traceback" not in (c.home / "sync.stderr").read_text()
        (cli,) = json.loads(out)["peers"]
        assert served.ok, served.problems()
        assert _origin(served).imported + _origin(cli)["received"] == 60_000
        assert c.query(
            "SELECT COUNT(*), COUNT(DISTINCT idx), MAX(idx) FROM entries WHERE origin = ?", A
        )[0] == (60_000, 60_000, 59_999)
        assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
        assert c.count("verified_heads", A) == 0
    finally:
        a.stop()
        c.stop()
