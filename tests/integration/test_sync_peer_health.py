"""A peer's health counts only what the peer did: not its origins' doing, not our own trouble,
and the rate rule never cuts the work that decides whose fault a batch was.

Real nodes over real mutual TLS (docs/protocol.md §9.7). C syncs from B, an honest relay, or
from M, a real gRPC server (:class:`~tests.support.fakes.FlippingPeer`) that lies about one
byte and answers slowly where the client decides whose fault that was.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import federation_pb2
from node.errors import StoreError
from node.log.entry import Labels
from node.service.importing import Importer
from node.service.verified_import import StoredGroup, VerifiedGroup
from node.sync.fault import PEER_FAULT_REASON
from tests.support.cli import hashfed_json
from tests.support.fakes import FlippingPeer
from tests.support.fednet import Member, peer, trust
from tests.support.slow_peer import configure, wait_for
from tests.support.storage import fill, tmpfs

A, B, C, L, M = (
    "node-a.example",
    "node-b.example",
    "node-c.example",
    "node-l.example",
    "mallory.example",
)
INTERVAL_S = 0.25


def _hashes(tag: int, count: int) -> list[str]:
    return [f"md5 {tag:016x}{i:016x}" for i in range(count)]


def _peer_status(c: Member, name: str) -> dict[str, object]:
    (row,) = [p for p in hashfed_json(c.home, "status")["peers"] if p["name"] == name]
    return dict(row)


def _health(c: Member, name: str) -> tuple[str, int] | None:
    rows = c.query("SELECT state, consecutive_failures FROM peer_health WHERE peer = ?", name)
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


@pytest.fixture
def members(tmp_path: Path) -> Iterator[dict[str, Member]]:
    made = {name: Member.create(tmp_path, name) for name in (A, B, C, L, M)}
    yield made
    for name in (C, B, L, A):
        made[name].stop()


def test_an_honest_relay_of_a_refused_origin_stays_healthy(members: dict[str, Member]) -> None:
    """B relays A, whose signed tree is larger than C accepts (max_origin_entries): refused,
    and reported, but B did nothing wrong, so it is neither backed off nor delayed: B's own
    new entry arrives at C within two intervals."""
    a, b, c = members[A], members[B], members[C]
    peer(b, a)
    peer(c, b)
    trust(c, a)  # C trusts A and gets it only through B
    a.publisher.import_hash_list(_hashes(0xA, 20), Labels(entity="a"))
    b.publisher.import_hash_list(_hashes(0xB, 1), Labels(entity="b"))
    configure(
        c,
        sync_interval_s=INTERVAL_S,
        sync_backoff_max_s=30.0,
        sync_min_entries_per_s=0,
        max_origin_entries=10,
    )
    a.start()
    b.start()
    b.sync(A)
    assert b.count("entries", A) == 20
    c.start(run_sync=True)
    assert wait_for(lambda: c.count("entries", B) == 1, 10)
    time.sleep(6 * INTERVAL_S)  # several rounds, each refusing A's checkpoint
    status = _peer_status(c, B)
    assert status["state"] == "healthy", status
    assert status["consecutive_failures"] == 0
    assert "checkpoint larger than this node accepts" in str(status["reason"])
    assert "checkpoint larger than this node accepts" in str(status["last_error"])
    assert c.count("entries", A) == 0

    b.publisher.import_hash_list(_hashes(0xB1, 1), Labels(entity="b"))
    published = time.monotonic()
    assert wait_for(lambda: c.count("entries", B) == 2, 2 * INTERVAL_S + 1.0)
    assert time.monotonic() - published <= 2 * INTERVAL_S + 1.0


def test_our_own_store_trouble_never_backs_a_peer_off(
    members: dict[str, Member], monkeypatch: pytest.MonkeyPatch
) -> None:
    """C's store fails while B's entries arrive (the StoreError a full disk gives): B is not
    counted against, rounds go on every interval, and once the store works again B's entries
    arrive within an interval or two instead of after a grown back-off."""
    b, c = members[B], members[C]
    peer(c, b)
    b.publisher.import_hash_list(_hashes(0xB, 3), Labels(entity="b"))
    configure(c, sync_interval_s=INTERVAL_S, sync_backoff_max_s=30.0, sync_min_entries_per_s=0)
    broken = {"on": True, "calls": 0}
    real = Importer.store_verified

    def store_verified(importer: Importer, group: VerifiedGroup, target: object) -> StoredGroup:
        if importer._origin == C and broken["on"]:
            broken["calls"] += 1
            raise StoreError(
                f"storing entries of {group.origin}: database or disk is full "
                f"({importer._store.path}); free space on that disk"
            )
        return real(importer, group, target)  # type: ignore[arg-type]

    monkeypatch.setattr(Importer, "store_verified", store_verified)
    b.start()
    c.start(run_sync=True)
    # Without the fix: rounds at 0, 0.5, 1.5, 3.5 s, then the next one 4 s later (and later).
    time.sleep(4.0)
    assert broken["calls"] >= 8, broken  # retried every interval, not backed off
    health = _health(c, B)
    assert health is None or health[1] == 0, health
    assert c.count("entries", B) == 0

    broken["on"] = False
    freed = time.monotonic()
    assert wait_for(lambda: c.count("entries", B) == 3, 1.5), "sync did not resume at once"
    assert time.monotonic() - freed <= 1.5
    assert wait_for(lambda: _health(c, B) == ("healthy", 0), 5)


class StallingFlipper(FlippingPeer):
    """Flips one byte of one origin's first batch every time, lists the origins in the order it
    is given, and answers GetConsistencyProof (relayed, genuine) only after ``stall_s``: the
    call C makes to decide whose fault the batch was, while no entry streams."""

    stall_s = 3.0
    first: str = A

    async def ListOrigins(  # noqa: N802
        self, request: federation_pb2.ListOriginsRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.ListOriginsResponse:
        response: federation_pb2.ListOriginsResponse = await self._stub.ListOrigins(request)
        origins = sorted(response.origins, key=lambda o: o.origin != self.first)
        return federation_pb2.ListOriginsResponse(origins=origins)

    async def GetConsistencyProof(  # noqa: N802
        self,
        request: federation_pb2.GetConsistencyProofRequest,
        context: grpc.aio.ServicerContext,
    ) -> federation_pb2.ConsistencyProof:
        await asyncio.sleep(self.stall_s)
        proof: federation_pb2.ConsistencyProof = await self._stub.GetConsistencyProof(request)
        return proof


def test_deciding_whose_fault_is_never_cut_as_a_slow_stream(members: dict[str, Member]) -> None:
    """M relays A (3,000 entries; C fetches 1,000 per round: max_fetch_per_round), then L with
    the first batch after C's entries flipped. A's stream stops early at the fetch bound;
    deciding whose fault L's batch was takes 3 s (M's slow consistency proof), longer than the
    1 s rate window. That is not a stream: M is found lying, not slow."""
    a, c, l_, m = members[A], members[C], members[L], members[M]
    peer(a, l_)  # A holds L's log and serves it to M
    trust(a, m)
    peer(c, l_)  # C gets L's first entries straight from L
    trust(c, a)
    c.members.add_peer(m.card())
    a.publisher.import_hash_list(_hashes(0xA, 3_000), Labels(entity="a"))
    l_.publisher.import_hash_list(_hashes(0x1, 5), Labels(entity="l"))
    configure(
        c,
        sync_min_entries_per_s=10.0,
        sync_rate_window_s=1.0,
        sync_round_deadline_s=60.0,
        max_fetch_per_round=1_000,
    )
    a.start()
    l_.start()
    c.start()
    c.sync(L)
    assert c.count("entries", L) == 5
    l_.publisher.import_hash_list(_hashes(0x2, 5), Labels(entity="l"))
    a.sync(L)
    assert a.count("entries", L) == 10
    fake = StallingFlipper.between(m, a, c, flip_origin=L, flip_index=5)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        report = c.sync_one(M)
        assert report.error is None, report.error
        by_origin = {o.origin: o for o in report.origins}
        assert by_origin[A].status == "imported" and by_origin[A].imported == 1_000
        assert by_origin[L].status == "rejected"
        assert PEER_FAULT_REASON in str(by_origin[L].reason)
        status = _peer_status(c, M)
        assert status["state"] == "lying", status
        assert "too slow" not in str(status["reason"])
        assert fake.flipped >= 1
        assert c.count("entries", L) == 5
    finally:
        c.stop()
        a.served.run(fake.stop())


def test_a_full_disk_shows_in_the_store_section_and_sync_resumes_once_space_is_freed(
    tmp_path: Path, members: dict[str, Member]
) -> None:
    """C's home on a small tmpfs, filled while B has 5,000 new entries for it: every round
    fails on our side (disk full); B is not backed off, `status` says the store is unhealthy,
    and once the filler is deleted the entries arrive within a couple of intervals."""
    b = members[B]
    with tmpfs(tmp_path / "small", "16m") as disk:
        c = Member.create(disk, C)
        try:
            peer(c, b)
            b.publisher.import_hash_list(_hashes(0xB, 5_000), Labels(entity="b"))
            configure(
                c, sync_interval_s=INTERVAL_S, sync_backoff_max_s=30.0, sync_min_entries_per_s=0
            )
            b.start()
            c.start(run_sync=True)
            assert wait_for(lambda: _health(c, B) is not None, 10)  # C's database is in use
            filler = fill(disk, leave=200 * 1024)
            b.publisher.import_hash_list(_hashes(0xB1, 5_000), Labels(entity="b"))
            time.sleep(4.0)  # without the fix: back-off of 0.5, 1, 2, 4 s ...
            health = _health(c, B)
            assert health is not None and health[1] == 0, health
            assert c.count("entries", B) < 10_000
            report = hashfed_json(c.home, "status")
            store = report["store"]
            assert not store["ok"], store
            assert any("free" in str(r) for r in store["reasons"]), store

            filler.unlink()
            freed = time.monotonic()
            assert wait_for(lambda: c.count("entries", B) == 10_000, 5.0)
            assert time.monotonic() - freed <= 5.0
            assert wait_for(lambda: _health(c, B) == ("healthy", 0), 5)
        finally:
            c.stop()
