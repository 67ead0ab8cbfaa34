"""A node never signs a smaller or different history than it signed (issue 9, finding 1).

Real nodes A and B over real mutual TLS. A publishes 15 entries and B syncs them. Then A's
database loses committed transactions, as an operator would do it after a crash: (i) the WAL
deleted, (ii) an older copy of hashfed.db restored, (iii) an older copy restored and the
signed-state file deleted too. Each time A refuses to publish and says why (in (iii) because
B offers A's larger checkpoint during A's sync); `hashfed recover --peer b.example` brings the
log back from B; A publishes on, B syncs it, and B records no evidence against A.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import federation_pb2, local_pb2, local_pb2_grpc
from node.core import Node
from node.errors import SignedStateError
from node.log.entry import Labels
from node.sync.engine import OWN
from node.testing.background import BackgroundNode
from tests.support.cli import hashfed, hashfed_json
from tests.support.damage import rewrite_entry_body
from tests.support.fakes import FlippingPeer
from tests.support.fednet import Member, peer, trust
from tests.support.malicious import make_entries
from tests.support.storage import (
    fill,
    hashfed_process,
    one_line_error,
    read_only_view,
    tmpfs,
)


def _peers_and_empty_copy(tmp_path: Path) -> tuple[Member, Member, Path]:
    """A and B peering with each other, and a copy of A's database before anything was published
    (taken closed: everything is in the main file), to restore as an old backup."""
    a = Member.create(tmp_path, "a.example")
    b = Member.create(tmp_path, "b.example")
    peer(a, b)
    peer(b, a)
    empty = tmp_path / "a-empty.db"
    shutil.copyfile(a.home / "hashfed.db", empty)
    return a, b, empty


def _publish(member: Member, first: int, count: int) -> None:
    for i in range(first, first + count):
        member.publisher.import_hash_list([f"md5 {i:032x}"], Labels(entity="own-log-test"))


def _put_database(member: Member, copy: Path) -> None:
    """Replace the (stopped) member's database by ``copy`` and drop any WAL beside it."""
    db = member.home / "hashfed.db"
    shutil.copyfile(copy, db)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _size(member: Member) -> int:
    latest = member.store.log.latest_checkpoint(member.origin)
    return 0 if latest is None else int(latest.size)


def _refuses(member: Member, store_size: int, signed_size: int) -> None:
    """Publishing is refused, by the facade and by the CLI (exit 8), with the reason."""
    with pytest.raises(SignedStateError) as refused:
        _publish(member, 999, 1)
    assert f"up to size {store_size}" in str(refused.value)
    assert f"size {signed_size}" in str(refused.value)
    assert "hashfed recover --peer" in str(refused.value)
    result = hashfed(member.home, "add", "--signal", "md5:" + "e" * 32)
    assert result.exit_code == 8, result.output
    assert "would fork the log" in result.stderr
    # Read-only commands still work, and status says what is wrong.
    status = hashfed_json(member.home, "status")
    assert status["own_log"]["ok"] is False
    assert status["own_log"]["store_size"] == store_size
    assert status["own_log"]["signed_size"] == signed_size
    assert "PUBLISHING REFUSED" in hashfed(member.home, "status").stdout
    assert hashfed(member.home, "log").exit_code == 0
    assert _size(member) == store_size


def _recover(member: Member, peer_name: str, before: int, after: int) -> None:
    report = hashfed_json(member.home, "recover", "--peer", peer_name)
    assert report["size_before"] == before
    assert report["size_after"] == after
    assert report["fetched"] == after - before
    assert report["signed_size"] == after
    status = hashfed_json(member.home, "status")
    assert status["own_log"] == {
        "ok": True,
        "store_size": after,
        "signed_size": after,
        "problem": None,
    }


def _continue(a: Member, b: Member, index: int) -> None:
    """A publishes entry ``index`` (continuing the same history); B syncs it, no evidence."""
    _publish(a, index, 1)
    assert _size(a) == index + 1
    a.start()
    try:
        report = b.sync_one(a.origin)
        assert report.ok, report.problems()
    finally:
        a.stop()
    assert b.do(lambda n: n.store.log.latest_checkpoint(a.origin).size) == index + 1
    assert b.do(lambda n: n.audit.evidence()) == []
    assert b.do(lambda n: n.importer.halted_origins()) == set()
    # B holds exactly A's log: entry ``index`` is the one A just published.
    body, _ = b.do(lambda n: n.store.log.entry(a.origin, index))
    assert body == a.do(lambda n: n.store.log.entry(a.origin, index))[0]


def test_lost_wal_and_old_database_are_refused_then_recovered_from_a_peer(
    tmp_path: Path,
) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)

    _publish(a, 0, 5)
    a.start()
    b.start()
    try:
        _publish(a, 5, 10)
        # While A serves, its last commits live only in hashfed.db-wal (far below the
        # autocheckpoint): the main file alone is what a deleted WAL leaves.
        walless = tmp_path / "a-without-wal.db"
        shutil.copyfile(a.home / "hashfed.db", walless)
        assert b.sync_one(a.origin).ok
        assert b.do(lambda n: n.store.log.latest_checkpoint(a.origin).size) == 15
    finally:
        a.stop()

    try:
        # (i) the WAL deleted: the database is back at 5, the signed state says 15.
        _put_database(a, walless)
        _refuses(a, 5, 15)
        # recover refuses while another connection has the database open.
        with Node.open(a.home) as other:
            other.status()
            busy = hashfed(a.home, "recover", "--peer", b.origin)
            assert busy.exit_code == 8
            assert "recover needs the database to itself" in busy.stderr
        _recover(a, b.origin, 5, 15)
        _continue(a, b, 15)

        # (ii) an older copy restored: the empty database of before the first publish.
        _put_database(a, empty)
        _refuses(a, 0, 16)
        _recover(a, b.origin, 0, 16)
        _continue(a, b, 16)

        # (iii) the old copy and no signed-state file: only B can tell. A's sync sees B's
        # offer of its own origin at 17 before A signs anything.
        _put_database(a, empty)
        (a.home / "signed-head").unlink()
        assert hashfed_json(a.home, "status")["own_log"]["ok"] is True  # nothing to know yet
        a.start()
        try:
            (report,) = a.sync(b.origin)
            own = next(o for o in report.origins if o.origin == a.origin)
            assert own.status == OWN
            assert own.reason is not None and "size 17" in own.reason
            with pytest.raises(SignedStateError):
                _publish(a, 999, 1)
        finally:
            a.stop()
        _refuses(a, 0, 17)
        _recover(a, b.origin, 0, 17)
        _continue(a, b, 17)
    finally:
        b.stop()
    # A's log is one history, 18 entries long, entry i carrying md5 i.
    lines = hashfed_json(a.home, "log")
    assert [line["entry_index"] for line in lines] == list(range(18))
    for i, line in enumerate(lines):
        assert line["statement"]["signals"][0]["value"] == f"{i:032x}"
    assert not os.path.exists(a.home / "signed-head.tmp")


def test_the_local_api_refuses_to_publish_behind_the_signed_state(
    home: Path, tmp_path: Path
) -> None:
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"md5 {0:032x}"], Labels())
    old = tmp_path / "old.db"
    shutil.copyfile(home / "hashfed.db", old)
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"md5 {1:032x}"], Labels())
    shutil.copyfile(old, home / "hashfed.db")
    with (
        BackgroundNode(home, peer_address="127.0.0.1:0") as served,
        grpc.insecure_channel(served.local_address) as channel,
    ):
        stub = local_pb2_grpc.LocalServiceStub(channel)
        query = local_pb2.SignalQuery(type="md5", value="ab" * 16)
        with pytest.raises(grpc.RpcError) as refused:
            stub.PublishSignals(local_pb2.PublishSignalsRequest(signals=[query]))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "would fork the log" in (refused.value.details() or "")
        metadata = dict(refused.value.trailing_metadata() or ())
        assert metadata["hashfed-error"] == "SignedStateError"
        # Lookups go on.
        found = stub.MatchSignal(
            local_pb2.MatchSignalRequest(query=local_pb2.SignalQuery(type="md5", value="0" * 32))
        )
        assert [m.entry_index for m in found.matches] == [0]
    with Node.open(home) as node:
        assert node.reader.checkpoint().size == 1


def test_recover_refuses_a_peer_behind_what_this_node_signed(tmp_path: Path) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)
    _publish(a, 0, 3)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok  # B holds 3
        a.stop()
        _publish(a, 3, 2)  # signed 5; B never saw 3 and 4
        _put_database(a, empty)
        result = hashfed(a.home, "recover", "--peer", b.origin)
        assert result.exit_code == 8
        assert "only up to size 3" in result.stderr and "signed size 5" in result.stderr
        assert _size(a) == 0  # nothing stored
        _refuses(a, 0, 5)
    finally:
        a.stop()
        b.stop()


def test_recover_stores_nothing_from_a_peer_whose_copy_was_altered(tmp_path: Path) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)
    _publish(a, 0, 4)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok
    finally:
        a.stop()
        b.stop()
    # B's stored copy of A's entry 2 changes by one byte (B serves what it stores).
    # Still a well-formed entry of A's (another MD5), so only the signed root can tell.
    rewrite_entry_body(
        b.home / "hashfed.db",
        a.origin,
        2,
        lambda body: body.replace(bytes.fromhex(f"{2:032x}"), bytes.fromhex("11" * 16)),
    )
    _put_database(a, empty)
    b.start()
    try:
        result = hashfed(a.home, "recover", "--peer", b.origin)
        # B checks what it serves: a body that no longer hashes to its leaf is refused by name
        # (DATA_LOSS), so the damage never reaches A. A forged batch that does arrive is refused
        # by recover itself (see test_recover_refuses_the_first_forged_batch_and_stores_nothing).
        assert result.exit_code == 9, result.output
        assert f"refusing to serve {a.origin} entry 2" in result.stderr
        assert _size(a) == 0 and a.count("entries", a.origin) == 0
        _refuses(a, 0, 4)
    finally:
        b.stop()


def test_recover_replaces_a_damaged_signed_state_file(tmp_path: Path) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)
    _publish(a, 0, 3)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok
        a.stop()
        _put_database(a, empty)
        (a.home / "signed-head").write_text("not a note\n", encoding="utf-8")
        status = hashfed_json(a.home, "status")["own_log"]
        assert status["ok"] is False and "does not hold a checkpoint" in status["problem"]
        assert hashfed(a.home, "add", "--signal", "md5:" + "e" * 32).exit_code == 8
        _recover(a, b.origin, 0, 3)
        _continue(a, b, 3)
    finally:
        a.stop()
        b.stop()


class _ForgingPeer(FlippingPeer):
    """Relays the honest upstream's genuine ListOrigins (so the victim's own checkpoint is
    real), but streams fabricated, well-formed entries of the victim's origin in their place,
    with the upstream's proofs: decodable, so only a proof check can refuse them."""

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        async for batch in self._stub.StreamEntries(request):
            forged = make_entries(
                request.origin, len(batch.entries), tag="forged", start=batch.start_index
            )
            yield federation_pb2.EntryBatch(
                start_index=batch.start_index,
                entries=forged,
                consistency_proof=batch.consistency_proof,
            )


def test_recover_refuses_the_first_forged_batch_and_stores_nothing(tmp_path: Path) -> None:
    a = Member.create(tmp_path, "a.example")
    b = Member.create(tmp_path, "b.example")
    m = Member.create(tmp_path, "mallory.example")
    peer(a, b)
    peer(b, a)
    trust(b, m)  # B serves Mallory, as it would any member
    a.members.add_peer(m.card())
    empty = tmp_path / "a-empty.db"
    shutil.copyfile(a.home / "hashfed.db", empty)
    a.publisher.import_hash_list([f"md5 {i:032x}" for i in range(5_000)], Labels(entity="bulk"))
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok
    finally:
        a.stop()
    _put_database(a, empty)
    fake = _ForgingPeer.between(m, b, a, flip_origin=a.origin, flip_index=0)
    assert b.served is not None
    b.served.run(fake.start(m.address))
    try:
        result = hashfed(a.home, "recover", "--peer", m.origin)
    finally:
        b.served.run(fake.stop())
    try:
        assert result.exit_code == 5, result.output
        # The first batch's proof fails: the recovery ends there, not at the signed size.
        assert "does not verify" in result.stderr and "entries 0..999" in result.stderr
        assert "nothing stored" in result.stderr
        assert _size(a) == 0 and a.count("entries", a.origin) == 0
        _refuses(a, 0, 5_000)
        _recover(a, b.origin, 0, 5_000)
    finally:
        b.stop()


def test_a_missing_signed_state_file_waits_for_a_peer_before_signing(tmp_path: Path) -> None:
    a = Member.create(tmp_path, "a.example")
    b = Member.create(tmp_path, "b.example")
    peer(a, b)
    peer(b, a)
    _publish(a, 0, 2)
    old = tmp_path / "a-old.db"
    shutil.copyfile(a.home / "hashfed.db", old)  # closed: everything is in the main file
    _publish(a, 2, 3)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok  # B holds 5
    finally:
        a.stop()
    try:
        # An old copy (size 2) restored and the signed-state file lost: only B can tell.
        _put_database(a, old)
        (a.home / "signed-head").unlink()
        status = hashfed_json(a.home, "status")["own_log"]
        assert status["ok"] is False and status["signed_size"] is None
        added = hashfed(a.home, "add", "--signal", "md5:" + "e" * 32)
        assert added.exit_code == 8, added.output
        assert "signed-head is missing; run `hashfed sync` once" in added.stderr
        assert not (a.home / "signed-head").exists()  # not written from the old database
        assert _size(a) == 2
        # The sync compares B's offer (5) with the database (2): that refusal takes over.
        a.start()
        try:
            own = next(o for o in a.sync_one(b.origin).origins if o.origin == a.origin)
            assert own.reason is not None and "size 5" in own.reason
        finally:
            a.stop()
        _refuses(a, 2, 5)
        _recover(a, b.origin, 2, 5)
        _continue(a, b, 5)

        # The current database and a lost file: one sync confirms it, then publishing goes on.
        (a.home / "signed-head").unlink()
        assert hashfed(a.home, "add", "--signal", "md5:" + "e" * 32).exit_code == 8
        a.start()
        try:
            own = next(o for o in a.sync_one(b.origin).origins if o.origin == a.origin)
            assert own.status == OWN and own.reason is None
        finally:
            a.stop()
        assert hashfed_json(a.home, "status")["own_log"]["signed_size"] == 6
        _continue(a, b, 6)

        # Or `recover` confirms it, from a peer that holds the same log (B holds 7, A 7)...
        (a.home / "signed-head").unlink()
        _recover(a, b.origin, 7, 7)
        _continue(a, b, 7)
        # ... or a prefix of it (B holds 8, A 9): nothing to fetch, the file is written.
        _publish(a, 8, 1)
        (a.home / "signed-head").unlink()
        _recover(a, b.origin, 9, 9)
        _continue(a, b, 9)
    finally:
        b.stop()


def test_recover_on_a_full_disk_is_exit_8_with_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "16m") as disk:
        a = Member.create(disk, "a.example")
        b = Member.create(tmp_path, "b.example")
        peer(a, b)
        peer(b, a)
        empty = tmp_path / "a-empty.db"
        shutil.copyfile(a.home / "hashfed.db", empty)
        a.publisher.import_hash_list([f"md5 {i:032x}" for i in range(3_000)], Labels(entity="bulk"))
        a.start()
        b.start()
        try:
            assert b.sync_one(a.origin).ok
            a.stop()
            _put_database(a, empty)
            # Room to open the database and fill the page cache; the WAL written at COMMIT
            # does not fit.
            filler = fill(disk, leave=96 * 1024)
            result = hashfed_process(a.home, "recover", "--peer", b.origin)
            assert result.returncode == 8, result.stderr
            line = one_line_error(result)
            assert "full" in line and "free space" in line, line
            filler.unlink()
            assert _size(a) == 0
            _recover(a, b.origin, 0, 3_000)
        finally:
            a.stop()
            b.stop()


def test_recover_on_a_read_only_database_is_exit_8_with_one_line(tmp_path: Path) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)
    _publish(a, 0, 3)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok
        a.stop()
        _put_database(a, empty)
        # Opened once beside, so that its -wal and -shm files exist and a process seeing the
        # folder read-only opens the database and meets the fault at recover's BEGIN.
        with Node.open(a.home) as held:
            held.status()
            with read_only_view(a.home, tmp_path / "ro") as ro:
                result = hashfed_process(ro, "recover", "--peer", b.origin)
        assert result.returncode == 8, result.stderr
        line = one_line_error(result)
        assert "read-only" in line and "another process" not in line, line
        _recover(a, b.origin, 0, 3)
    finally:
        a.stop()
        b.stop()


def test_a_full_disk_under_the_signed_state_file_is_a_store_error(tmp_path: Path) -> None:
    from node.errors import StoreError
    from node.log.checkpoint import Checkpoint, SignedCheckpoint
    from node.service.own_log_check import check_offer

    with tmpfs(tmp_path / "small", "8m") as disk:
        home = disk / "home"
        with Node.init(home, "acme.example") as node:
            node.publisher.import_hash_list([f"md5 {0:032x}"], Labels())
        (home / "signed-head").unlink()  # a home made before the file existed, no peers
        # Held open, as `serve` would be: its -wal and -shm files exist on the full disk.
        with Node.open(home) as held:
            (home / "signed-head").unlink()
            filler = fill(disk)
            with Node.open(home) as node:
                # guard() writes the file for the upgraded home before signing: it cannot.
                with pytest.raises(StoreError) as refused:
                    node.publisher.import_hash_list([f"md5 {1:032x}"], Labels())
                assert "signed-state file" in str(refused.value)
                assert "No space left" in str(refused.value) and "Free space" in str(refused.value)
                assert node.reader.checkpoint().size == 1
                # A peer's larger checkpoint of ours cannot be recorded: the sync hook says so
                # and does not raise.
                ahead = SignedCheckpoint.sign(
                    Checkpoint(node.origin, 9, bytes(32)), node.signer
                ).text()
                reason = check_offer(node, ahead, "b.example")
                assert reason is not None and "cannot record a peer's checkpoint" in reason
            filler.unlink()
            held.publisher.import_hash_list([f"md5 {1:032x}"], Labels())
            assert held.reader.checkpoint().size == 2


def test_recover_clears_stale_findings_about_the_own_log(tmp_path: Path) -> None:
    a, b, empty = _peers_and_empty_copy(tmp_path)
    _publish(a, 0, 3)
    a.start()
    b.start()
    try:
        assert b.sync_one(a.origin).ok
        a.stop()
        # One flipped byte in A's entry 1, found by `hashfed check` and recorded.
        rewrite_entry_body(a.home / "hashfed.db", a.origin, 1, lambda body: body[:-1] + b"\x00")
        assert hashfed(a.home, "check").exit_code != 0
        store = hashfed_json(a.home, "status")["store"]
        assert store["ok"] is False and store["damage"]
        # The damaged database is replaced by an old copy and the log recovered from B:
        # status is right at once, without a full `hashfed check`.
        _put_database(a, empty)
        _recover(a, b.origin, 0, 3)
        store = hashfed_json(a.home, "status")["store"]
        assert store["damage"] == [], store
        assert store["last_check"]["scope"] == "origin"
        _continue(a, b, 3)
    finally:
        a.stop()
        b.stop()
