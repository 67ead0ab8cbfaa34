"""One flipped byte in a stored entry body of a real node (its database file changed with sqlite3
while the node is stopped): `hashfed check` names the entry and exits 5, `hashfed proof` and the
local API's GetProvenanceBundle refuse it (so scripts/verify_bundle.py never sees a bad bundle),
`hashfed serve`'s start-up check finds it unasked, and `hashfed status` reports the store
unhealthy until a clean check."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import local_pb2, local_pb2_grpc
from node.core import Node
from node.log.bundle import Bundle
from node.log.entry import Labels
from node.log.keys import VerifierKey
from node.testing.background import BackgroundNode
from tests.support.paths import ROOT
from tests.support.storage import hashfed_process, one_line_error

ORIGIN = "acme.example"


def _flip_body_byte(home: Path, idx: int) -> bytes:
    """Flip one bit near the end of entry ``idx``'s body (inside its labels); the original."""
    conn = sqlite3.connect(home / "hashfed.db")
    (body,) = conn.execute("SELECT body FROM entries WHERE idx = ?", [idx]).fetchone()
    changed = bytearray(body)
    changed[-3] ^= 0x01
    with conn:
        conn.execute("UPDATE entries SET body = ? WHERE idx = ?", [bytes(changed), idx])
    conn.close()
    return bytes(body)


def _restore_body(home: Path, idx: int, body: bytes) -> None:
    conn = sqlite3.connect(home / "hashfed.db")
    with conn:
        conn.execute("UPDATE entries SET body = ? WHERE idx = ?", [body, idx])
    conn.close()


def _verify_bundle(path: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/verify_bundle.py"), str(path), "--key", key],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def published(home: Path) -> tuple[Path, str]:
    with Node.open(home) as node:
        node.publisher.import_hash_list([f"md5 {i:032x}" for i in range(5)], Labels(entity="E"))
        node.publisher.import_hash_list([f"md5 {i:032x}" for i in range(5, 8)], Labels(entity="F"))
        return home, str(node.verifier)


def test_a_flipped_byte_is_named_by_check_and_never_served(
    published: tuple[Path, str], tmp_path: Path
) -> None:
    home, key = published
    before = tmp_path / "before.json"
    assert hashfed_process(home, "proof", ORIGIN, "3", "-o", str(before)).returncode == 0
    assert _verify_bundle(before, key).returncode == 0
    assert hashfed_process(home, "check").returncode == 0

    _flip_body_byte(home, 3)

    checked = hashfed_process(home, "check")
    assert checked.returncode == 5, checked.stdout + checked.stderr
    assert "acme.example entry 3 [body]" in checked.stdout
    assert "hashfed recover --peer NAME" in checked.stdout
    one_line_error(checked)
    report = json.loads(hashfed_process(home, "check", "--json").stdout)
    assert [(d["origin"], d["kind"], d["index"]) for d in report["damage"]] == [(ORIGIN, "body", 3)]

    bundle = tmp_path / "after.json"
    refused = hashfed_process(home, "proof", ORIGIN, "3", "-o", str(bundle))
    assert refused.returncode == 5
    assert "acme.example entry 3" in one_line_error(refused)
    assert not bundle.exists()
    assert hashfed_process(home, "proof", ORIGIN, "4", "-o", str(bundle)).returncode == 0
    assert _verify_bundle(bundle, key).returncode == 0

    status = json.loads(hashfed_process(home, "status", "--json").stdout)
    assert status["store"]["ok"] is False
    assert any("entry 3" in reason for reason in status["store"]["reasons"])
    human = hashfed_process(home, "status")
    assert "Store: UNHEALTHY" in human.stdout and "entry 3" in human.stdout


def test_the_local_api_refuses_the_bundle_of_a_damaged_entry(published: tuple[Path, str]) -> None:
    home, key = published
    _flip_body_byte(home, 6)
    with BackgroundNode(home) as served, grpc.insecure_channel(served.local_address) as channel:
        stub = local_pb2_grpc.LocalServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetProvenanceBundle(
                local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=6)
            )
        error = caught.value
        assert error.code() is grpc.StatusCode.DATA_LOSS, error.details()
        assert "acme.example entry 6" in error.details()
        assert ("hashfed-error", "DamageError") in tuple(error.trailing_metadata())
        fine = stub.GetProvenanceBundle(
            local_pb2.GetProvenanceBundleRequest(origin=ORIGIN, entry_index=5)
        )
        checkpoint = Bundle.from_json(fine.json).verify(VerifierKey.parse(key))
        assert checkpoint.checkpoint.size == 8


def test_serve_finds_damage_at_start_up_and_status_reports_it(
    published: tuple[Path, str],
) -> None:
    home, _ = published
    original = _flip_body_byte(home, 7)  # the newest entry: inside the start-up window
    with BackgroundNode(home):
        pass  # the start-up check runs before the servers listen
    status = json.loads(hashfed_process(home, "status", "--json").stdout)
    store = status["store"]
    assert store["ok"] is False
    assert [(d["kind"], d["index"]) for d in store["damage"]] == [("body", 7)]
    assert store["last_check"]["scope"] == "startup"

    _restore_body(home, 7, original)  # e.g. restored from a backup
    assert hashfed_process(home, "check").returncode == 0
    status = json.loads(hashfed_process(home, "status", "--json").stdout)
    assert status["store"]["ok"] is True and status["store"]["damage"] == []
