"""A peer that flips one byte of one entry is blamed; the origin is not; an honest peer heals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.hashing import parse_signal
from node.log.entry import Labels
from node.results import to_json
from node.sync.fault import PEER_FAULT_REASON
from tests.support.fakes import FlippingPeer, PaddingPeer
from tests.support.fednet import Member, members, peer, trust

A, C, M = "node-a.example", "node-c.example", "mallory.example"
TOTAL = 40


def _md5(i: int) -> str:
    return f"{0xC0FFEE00 + i:032x}"


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[Member, Member, Member]]:
    with members(tmp_path, A, C, M) as (a, c, m):
        yield a, c, m


def _matches(member: Member, value: str) -> list[tuple[str, int]]:
    (result,) = member.matcher.match_signals([parse_signal(f"md5:{value}")])
    return [(x.origin, x.entry_index) for x in result.matches]


def _flipping_peer(
    a: Member, c: Member, m: Member, flip: int, max_flips: int | None = None
) -> tuple[FlippingPeer, bytes]:
    """Mallory's node, relaying A to C with one byte of entry ``flip``'s md5 value flipped."""
    body, _ = a.do(lambda node: node.store.log.entry(A, flip))
    value = bytes.fromhex(_md5(flip))
    offset = body.index(value) + 5  # a byte of the hash value itself
    flipped_value = bytearray(value)
    flipped_value[5] ^= 0x01
    fake = _relay(FlippingPeer, a, c, m, flip, flip_offset=offset, max_flips=max_flips)
    return fake, bytes(flipped_value)


def _relay(
    kind: type[FlippingPeer], a: Member, c: Member, m: Member, index: int, **options: Any
) -> FlippingPeer:
    """Mallory's node relaying A's log to C over real mTLS, tampering with entry ``index``."""
    return kind.between(m, a, c, flip_origin=A, flip_index=index, **options)


@pytest.mark.parametrize("prefix", [0, 20], ids=["from-empty", "after-verified-prefix"])
def test_flipped_byte_is_the_peers_fault(net: tuple[Member, Member, Member], prefix: int) -> None:
    a, c, m = net
    peer(c, a)  # the honest path
    trust(a, m)  # Mallory is a member: A serves it, as it would any member
    c.members.add_peer(m.card())  # and C peers with Mallory's node, which pins C's certificate
    labels = Labels(entity="test")
    if prefix:
        a.publisher.import_hash_list([f"md5 {_md5(i)}" for i in range(prefix)], labels)
    a.start()
    c.start()
    if prefix:
        assert c.sync_one(A).received == prefix
    a.publisher.import_hash_list([f"md5 {_md5(i)}" for i in range(prefix, TOTAL)], labels)

    flip = prefix + 7
    fake, flipped_value = _flipping_peer(a, c, m, flip)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        report = c.sync_one(M)
    finally:
        a.served.run(fake.stop())

    # The batch is discarded and counted against Mallory, with the reason. From the empty
    # tree only the bytes can be wrong, so it is asked once more (and lies again); after a
    # verified prefix the full-log check blames Mallory and ends the round.
    lies = 2 if prefix == 0 else 1
    assert fake.flipped >= lies
    (origin,) = [o for o in report.origins if o.origin == A]
    assert origin.status == "rejected"
    assert origin.rejected == lies * (TOTAL - prefix)
    assert origin.reason is not None and origin.reason.startswith(PEER_FAULT_REASON)
    assert not report.ok
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == M]
    assert stats["rejected"] == lies * (TOTAL - prefix)
    assert stats["rejected_reasons"] == {PEER_FAULT_REASON: lies * (TOTAL - prefix)}

    # Nothing of it became visible: entries, checkpoints, index, staging.
    assert c.count("entries", A) == prefix
    assert c.count("signals", A) == prefix
    assert c.count("verified_heads", A) == 0
    assert c.count("checkpoints", A) == (1 if prefix else 0)
    assert _matches(c, _md5(flip)) == []
    assert _matches(c, flipped_value.hex()) == []

    # The origin is not blamed.
    assert c.audit.evidence() == []
    assert c.importer.halted_origins() == set()

    # The honest peer supplies the same range intact.
    healed = c.sync_one(A)
    assert healed.ok, healed.problems()
    assert healed.received == TOTAL - prefix
    assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
    assert _matches(c, _md5(flip)) == [(A, flip)]
    assert _matches(c, flipped_value.hex()) == []
    assert c.audit.evidence() == []


def test_a_peer_that_lies_once_is_counted_and_its_intact_resend_imported(
    net: tuple[Member, Member, Member],
) -> None:
    """The full-log check re-fetches from the same peer; if that copy verifies, it is used."""
    a, c, m = net
    trust(a, m)
    c.members.add_peer(m.card())
    trust(c, a)  # C trusts A but does not peer with it: Mallory is its only source
    a.publisher.import_hash_list([f"md5 {_md5(i)}" for i in range(TOTAL)], Labels(entity="test"))
    a.start()
    c.start()
    fake, flipped_value = _flipping_peer(a, c, m, 11, max_flips=1)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        report = c.sync_one(M)
    finally:
        a.served.run(fake.stop())
    assert fake.flipped == 1
    (origin,) = [o for o in report.origins if o.origin == A]
    assert (origin.status, origin.imported, origin.rejected) == ("imported", TOTAL, TOTAL)
    assert c.reader.checkpoint(A).note == a.reader.checkpoint().note
    assert _matches(c, _md5(11)) == [(A, 11)]
    assert _matches(c, flipped_value.hex()) == []
    assert c.audit.evidence() == []
    (stats,) = [p for p in to_json(c.status())["peers"] if p["name"] == M]
    assert stats["rejected_reasons"] == {PEER_FAULT_REASON: TOTAL}


def test_oversized_entries_are_refused_before_staging(net: tuple[Member, Member, Member]) -> None:
    a, c, m = net
    trust(c, a)  # C trusts A's entries but peers only with Mallory
    trust(a, m)
    c.members.add_peer(m.card())
    a.publisher.import_hash_list([f"md5 {_md5(i)}" for i in range(TOTAL)], Labels(entity="test"))
    a.start()
    c.start()
    fake = _relay(PaddingPeer, a, c, m, 3)
    assert a.served is not None
    a.served.run(fake.start(m.address))
    try:
        report = c.sync_one(M)
    finally:
        a.served.run(fake.stop())
    (origin,) = [o for o in report.origins if o.origin == A]
    assert origin.status == "rejected"
    assert origin.reason is not None and "larger than the protocol allows" in origin.reason
    assert c.count("verified_heads", A) == 0
    assert c.count("entries", A) == 0
    assert c.audit.evidence() == []
