"""Storage faults on real file systems: a full tmpfs, a read-only bind mount, a damaged page.
Each is exit 8 with one line (what, where, what to do) and no traceback in the CLI, UNAVAILABLE
on the local API, and leaves the store as it was."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.hashing import ComputedSignal, parse_signal
from node.log.entry import Labels
from node.testing.background import BackgroundNode
from tests.support.storage import (
    damage_a_page,
    fill,
    hashfed_process,
    one_line_error,
    read_only_view,
    tmpfs,
)

ORIGIN = "acme.example"


def _md5(i: int) -> ComputedSignal:
    return ComputedSignal(parse_signal(f"md5:{i:032x}"), None)


def _size(home: Path) -> int:
    return len(json.loads(hashfed_process(home, "log", "--json").stdout))


def test_a_full_disk_is_exit_8_and_changes_nothing(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "8m") as disk:
        home = disk / "home"
        with Node.init(home, ORIGIN) as node:
            node.publisher.publish_signals([_md5(10**6)], Labels(entity="E"))
        hashes = tmp_path / "hashes.txt"  # outside the small disk
        hashes.write_text("".join(f"md5 {i:032x}\n" for i in range(5000)))
        filler = fill(disk, leave=200 * 1024)  # room to open, not for 5,000 entries

        result = hashfed_process(home, "add", "--from", str(hashes))
        assert result.returncode == 8, result.stderr
        line = one_line_error(result)
        assert "database or disk is full" in line and str(home / "hashfed.db") in line
        assert "free space" in line

        filler.unlink()
        assert _size(home) == 1  # the import stored nothing
        assert hashfed_process(home, "check").returncode == 0
        again = hashfed_process(home, "add", "--from", str(hashes))
        assert again.returncode == 0, again.stderr
        assert _size(home) == 5001


def test_a_read_only_database_is_exit_8_and_status_says_so(home: Path, tmp_path: Path) -> None:
    # The node stays open beside, as a running `serve` would: its -wal and -shm files exist,
    # so a process seeing the folder read-only opens the database and fails at the write.
    with Node.open(home) as held:
        held.publisher.publish_signals([_md5(1)], Labels(entity="E"))
        with read_only_view(home, tmp_path / "ro") as ro:
            result = hashfed_process(ro, "add", "--signal", f"md5:{2:032x}")
            assert result.returncode == 8, result.stderr
            line = one_line_error(result)
            assert "readonly database" in line and str(ro / "hashfed.db") in line
            assert "writable" in line
            status = hashfed_process(ro, "status", "--json")
            assert status.returncode == 0, status.stderr
            store = json.loads(status.stdout)["store"]
            assert store["ok"] is False and store["read_only"] is True
            assert any("read-only" in r for r in store["reasons"])
    assert _size(home) == 1


def test_a_read_only_file_system_at_open_is_exit_8(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "8m") as disk:
        home = disk / "home"
        Node.init(home, ORIGIN).close()
        with read_only_view(home, tmp_path / "ro") as ro:
            for args in (("add", "--signal", f"md5:{3:032x}"), ("status",)):
                result = hashfed_process(ro, *args)
                assert result.returncode == 8, result.stderr
                assert "read-only" in one_line_error(result)


def test_a_damaged_page_is_exit_8_or_the_checks_code_never_a_traceback(
    home: Path, tmp_path: Path
) -> None:
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"md5 {i:032x}" for i in range(3000)], Labels(entity="E"))
    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    damage_a_page(copy / "hashfed.db")

    for args in (("log",), ("proof", ORIGIN, "1500")):
        result = hashfed_process(copy, *args)
        assert result.returncode == 8, (args, result.stderr)
        line = one_line_error(result)
        assert "malformed" in line and "hashfed check" in line

    checked = hashfed_process(copy, "check")
    assert checked.returncode == 5, checked.stderr
    assert "[database]" in checked.stdout and "malformed" in checked.stdout
    one_line_error(checked)
    store = json.loads(hashfed_process(copy, "status", "--json").stdout)["store"]
    assert store["ok"] is False and any("malformed" in r for r in store["reasons"])


def _failing_entry(database: Path, count: int) -> int:
    """The first entry whose row cannot be read any more."""
    conn = sqlite3.connect(database)
    try:
        for idx in range(count):
            try:
                conn.execute("SELECT body FROM entries WHERE idx = ?", [idx]).fetchone()
            except sqlite3.DatabaseError:
                return idx
    finally:
        conn.close()
    raise AssertionError("no entry is unreadable")


def test_the_local_api_answers_unavailable_for_store_faults(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "8m") as disk:
        home = disk / "home"
        Node.init(home, ORIGIN).close()
        with (
            BackgroundNode(home) as served,
            grpc.insecure_channel(served.local_address) as channel,
        ):
            stub = local_pb2_grpc.LocalServiceStub(channel)
            filler = fill(disk)
            error = None
            published = 0
            for i in range(5000):  # the WAL may reuse space for a while; then it must grow
                request = local_pb2.PublishSignalsRequest(
                    signals=[local_pb2.SignalQuery(type="md5", value=f"{i:032x}")]
                )
                try:
                    stub.PublishSignals(request)
                except grpc.RpcError as exc:
                    error = exc
                    break
                published += 1
            assert error is not None, "a full disk never failed a publish"
            assert error.code() is grpc.StatusCode.UNAVAILABLE, error.details()
            assert "database or disk is full" in error.details()
            assert ("hashfed-error", "StoreError") in tuple(error.trailing_metadata())
            filler.unlink()
            stub.PublishSignals(  # the same node goes on once there is space again
                local_pb2.PublishSignalsRequest(
                    signals=[local_pb2.SignalQuery(type="md5", value="f" * 32)]
                )
            )
        assert _size(home) == published + 1
        assert hashfed_process(home, "check").returncode == 0


def test_a_damaged_page_under_a_running_server_is_unavailable(home: Path, tmp_path: Path) -> None:
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"md5 {i:032x}" for i in range(3000)], Labels(entity="E"))
    damage_a_page(home / "hashfed.db")
    idx = _failing_entry(home / "hashfed.db", 3000)
    with BackgroundNode(home) as served, grpc.insecure_channel(served.local_address) as channel:
        stub = local_pb2_grpc.LocalServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetProvenanceBundle(
                local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=idx)
            )
        assert caught.value.code() is grpc.StatusCode.UNAVAILABLE, caught.value.details()
        assert "malformed" in caught.value.details()
    # The start-up check met the damaged page too and recorded it.
    store = json.loads(hashfed_process(home, "status", "--json").stdout)["store"]
    assert store["ok"] is False
