"""Auditors, witnesses, exports and evidence through the real CLI (issue 5).

Real homes, real keys, real SQLite; the equivocation is real too: one origin's home copied, so
the same signing key signs two different logs of the same size.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.core import Node
from node.log.checkpoint import SignedCheckpoint
from tests.support.cli import card_file as _card
from tests.support.cli import hashfed, hashfed_json
from tests.support.cli import publish_signals as _publish
from tests.unit.scripts.fixtures import run_script

MD5_A = "md5:" + "5a" * 16
MD5_B = "md5:" + "6b" * 16


def _import(source: Path, target: Path) -> None:
    """``target`` verifies and imports ``source``'s log (and cosigns it, as sync would)."""
    with Node.open(source) as src, Node.open(target) as dst:
        latest = src.reader.checkpoint()
        signed = SignedCheckpoint.open(latest.note, src.verifier)
        have = dst.store.log.latest_checkpoint(src.origin)
        start = 0 if have is None else have.size
        dst.importer.import_verified(
            src.origin, signed, src.reader.entry_bodies(src.origin, start, latest.size)
        )


def _text(home: Path, *args: str) -> str:
    """A command's human output, on a terminal wide enough that no table cell wraps."""
    result = CliRunner().invoke(
        app, [*args, "--home", str(home)], env={"COLUMNS": "250"}, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_script(name, *args)


@pytest.fixture
def net(tmp_path: Path) -> dict[str, Path]:
    """Node a (made with the CLI) trusts member b; b has published one entry, which a holds."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert hashfed(a, "init", "--origin", "a.example").exit_code == 0
    Node.init(b, "b.example", peer_address="127.0.0.1:7002").close()
    hashfed_json(a, "member", "add", str(_card(b, tmp_path)))
    return {"a": a, "b": b, "folder": tmp_path}


def test_auditor_identity_only_reads(net: dict[str, Path]) -> None:
    a, folder = net["a"], net["folder"]
    aud = folder / "aud"
    made = hashfed_json(aud, "init", "--auditor", "--name", "audit.example")
    assert made["role"] == "auditor" and made["origin"] == "audit.example"
    assert made["witness_key"].startswith("audit.example+")
    text = hashfed(folder / "aud2", "init", "--auditor", "--name", "audit2.example")
    assert text.exit_code == 0
    assert "hashfed member add audit2.example.card.json" in text.stdout

    card = hashfed_json(aud, "identity")
    assert card["role"] == "auditor" and card["address"] == ""
    assert card["witness_key"] == made["witness_key"]

    refused = hashfed(aud, "add", "--signal", MD5_A)
    assert refused.exit_code == 7, refused.output
    assert "auditor" in refused.stderr
    assert hashfed(aud, "checkpoint").exit_code == 6  # nothing was published

    no_address = hashfed(
        folder / "aud3", "init", "--auditor", "--name", "x.example", "--peer-address", "127.0.0.1:1"
    )
    assert no_address.exit_code == 2
    assert not (folder / "aud3" / "config.toml").exists()

    card_path = _card(aud, folder)
    added = hashfed_json(a, "member", "add", str(card_path))
    assert added["role"] == "auditor" and added["witness_key"] == made["witness_key"]
    listed = {m["origin"]: m for m in hashfed_json(a, "member", "list")}
    assert listed["audit.example"]["role"] == "auditor"
    assert listed["audit.example"]["trusted"] is False
    assert listed["audit.example"]["witness_key"] == made["witness_key"]
    assert listed["b.example"]["role"] == "member" and listed["b.example"]["trusted"] is True
    assert listed["b.example"]["witness_key"].startswith("b.example+")
    table = _text(a, "member", "list")
    assert "auditor" in table and "read-only" in table and "known" in table

    as_peer = hashfed(a, "peer", "add", str(card_path))
    assert as_peer.exit_code == 4 and "auditor" in as_peer.stderr
    assert hashfed_json(a, "peer", "list") == []
    assert hashfed_json(a, "status")["auditors"] == ["audit.example"]
    assert "Auditors with read access: audit.example" in _text(a, "status")

    # Reads are what the federation service records for an auditor's calls.
    with Node.open(a) as node:
        node.audit.record_read("audit.example", "GetCheckpoints", "{}")
        node.audit.record_read("audit.example", "GetEntries", '{"origin": "b.example"}')
        node.audit.record_read("other.example", "GetCheckpoints", "\x1b[31m")
    reads = hashfed_json(a, "audit", "reads", "--auditor", "audit.example")
    assert [r["method"] for r in reads] == ["GetEntries", "GetCheckpoints"]  # newest first
    assert len(hashfed_json(a, "audit", "reads", "--limit", "1")) == 1
    shown_reads = _text(a, "audit", "reads")
    assert "\x1b" not in shown_reads and "\\u001b[31m" in shown_reads
    assert hashfed(a, "audit", "reads", "--limit", "0").exit_code == 2

    removed = hashfed(a, "member", "remove", "audit.example")
    assert removed.exit_code == 0 and "no longer has read access" in removed.stdout
    assert "audit.example" not in {m["origin"] for m in hashfed_json(a, "member", "list")}
    actions = [(e["action"], e["subject"]) for e in hashfed_json(a, "audit", "log")]
    assert actions == [("auditor added", "audit.example"), ("auditor removed", "audit.example")]


def test_export_writes_the_documented_folder(net: dict[str, Path]) -> None:
    a, b, folder = net["a"], net["b"], net["folder"]
    hashfed_json(a, "add", "--signal", MD5_A)
    hashfed_json(a, "add", "--signal", MD5_B)
    _publish(b, MD5_B)
    _import(b, a)

    out = folder / "export"
    done = hashfed_json(a, "export", str(out))
    assert done["folder"] == str(out)
    by_origin = {o["origin"]: o for o in done["origins"]}
    assert by_origin["a.example"]["size"] == 2 and by_origin["a.example"]["checkpoints"] == 2
    assert by_origin["b.example"]["size"] == 1 and by_origin["b.example"]["cosignatures"] == 1

    manifest = json.loads((out / "export.json").read_text())
    assert manifest["format"] == "hashfed-export/v1" and manifest["exported_by"] == "a.example"
    assert {o["origin"]: o["size"] for o in manifest["origins"]} == {
        "a.example": 2,
        "b.example": 1,
    }
    assert set(manifest["witnesses"]) == {"a.example", "b.example"}
    with Node.open(a) as node:
        a_key, a_leaves = str(node.verifier), [line.leaf_hash for line in node.reader.log()]
    entries = [json.loads(x) for x in (out / "a.example" / "entries.jsonl").read_text().split()]
    assert [e["index"] for e in entries] == [0, 1]
    leaves = [hashlib.sha256(b"\x00" + base64.b64decode(e["entry"])).digest() for e in entries]
    assert leaves == a_leaves
    checkpoints = (out / "a.example" / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(c)["size"] for c in checkpoints] == [1, 2]
    (b_cp,) = [
        json.loads(c)
        for c in (out / "b.example" / "checkpoints.jsonl").read_text().split("\n")
        if c
    ]
    assert b_cp["size"] == 1 and "\n— a.example " in b_cp["note"]  # a's cosignature

    text = hashfed(a, "export", "--origin", "a.example", str(folder / "only-a"))
    assert text.exit_code == 0
    assert "a.example" in text.stdout and "scripts/verify_log.py --export" in text.stdout
    assert sorted(p.name for p in (folder / "only-a").iterdir()) == ["a.example", "export.json"]

    # The independent script accepts the export with a's real key, and not with another key.
    assert (
        _script(
            "verify_log.py", "--export", str(out), "--origin", "a.example", "--key", a_key
        ).returncode
        == 0
    )
    with Node.open(b) as node:
        b_key = str(node.verifier).replace("b.example", "a.example", 1)
    assert (
        _script(
            "verify_log.py", "--export", str(out), "--origin", "a.example", "--key", b_key
        ).returncode
        != 0
    )

    again = hashfed(a, "export", str(out))
    assert again.exit_code == 4 and "not empty" in again.stderr
    assert hashfed(a, "export", "--origin", "nobody.example", str(folder / "x")).exit_code == 6


@pytest.fixture
def equivocated(net: dict[str, Path]) -> dict[str, Path]:
    """b signs two different logs of size 1 (its home copied); a holds one, and evidence."""
    a, b, folder = net["a"], net["b"], net["folder"]
    fork = folder / "b-fork"
    shutil.copytree(b, fork)
    _publish(b, MD5_A)
    _publish(fork, MD5_B)
    _import(b, a)
    with Node.open(b) as first, Node.open(fork) as second, Node.open(a) as node:
        one, two = first.reader.checkpoint(), second.reader.checkpoint()
        assert one.size == two.size and one.root != two.root
        detail = {"size": 1, "first_root": one.root.hex(), "second_root": two.root.hex()}
        node.importer.record_evidence(
            "b.example",
            "same-size-different-roots",
            one.note,
            two.note,
            json.dumps(detail),
            "c.example",
        )
    return net


def test_evidence_list_and_export(equivocated: dict[str, Path]) -> None:
    a, b, folder = equivocated["a"], equivocated["b"], equivocated["folder"]
    (row,) = hashfed_json(a, "evidence", "list")
    assert (row["id"], row["origin"], row["kind"]) == (1, "b.example", "same-size-different-roots")
    assert row["relayed_by"] == "c.example" and row["origin_halted"] is True
    assert row["detail"]["size"] == 1  # parsed, not a string
    assert row["first_checkpoint"].startswith("b.example\n1\n")
    table = _text(a, "evidence", "list")
    assert "same-size-different-roots" in table and "c.example" in table and "stopped" in table

    to_stdout = hashfed(a, "evidence", "export", "1")
    assert to_stdout.exit_code == 0
    doc = json.loads(to_stdout.stdout)  # stdout is the evidence alone; the hint is on stderr
    assert doc["format"] == "hashfed-evidence/v1" and doc["origin"] == "b.example"
    assert "scripts/verify_evidence.py" in to_stdout.stderr

    path = folder / "evidence.json"
    written = hashfed(a, "evidence", "export", "1", "-o", str(path))
    assert written.exit_code == 0, written.output
    assert path.read_text() == to_stdout.stdout
    with Node.open(b) as node:
        b_key = str(node.verifier)
    assert f"scripts/verify_evidence.py {path} --key '{b_key}'" in written.stdout
    proven = _script("verify_evidence.py", str(path), "--key", b_key)
    assert proven.returncode == 0 and proven.stdout.startswith("PROVEN: b.example")
    with Node.open(a) as node:
        other_key = str(node.verifier)
    assert _script("verify_evidence.py", str(path), "--key", other_key).returncode == 1

    path.write_text("mine")
    refused = hashfed(a, "evidence", "export", "1", "-o", str(path))
    assert refused.exit_code == 4 and "--force" in refused.stderr
    assert path.read_text() == "mine"
    forced = hashfed_json(a, "evidence", "export", "1", "-o", str(path), "--force")
    assert forced["file"] == str(path) and b_key in forced["verify"]
    assert path.read_text() == to_stdout.stdout
    assert not [p for p in folder.iterdir() if p.name.endswith(".partial")]

    missing = hashfed(a, "evidence", "export", "7")
    assert missing.exit_code == 6 and "known: 1" in missing.stderr


def test_member_reset_resumes_and_is_logged(equivocated: dict[str, Path]) -> None:
    a = equivocated["a"]
    origins = {o["origin"]: o for o in hashfed_json(a, "status")["origins"]}
    assert origins["b.example"]["halted"] is True
    assert "STOPPED" in _text(a, "status")
    listed = {m["origin"]: m for m in hashfed_json(a, "member", "list")}
    assert listed["b.example"]["halted"] is True

    reset = hashfed(a, "member", "reset", "b.example", "--reason", "b rotated its key")
    assert reset.exit_code == 0, reset.output
    assert "resumed" in reset.stdout and "#1" in reset.stdout
    origins = {o["origin"]: o for o in hashfed_json(a, "status")["origins"]}
    assert origins["b.example"]["halted"] is False
    assert "STOPPED" not in _text(a, "status")
    (logged,) = [e for e in hashfed_json(a, "audit", "log") if e["action"] == "member reset"]
    assert logged["subject"] == "b.example"
    assert json.loads(logged["detail"]) == {"reason": "b rotated its key", "evidence": [1]}
    assert "b rotated its key" in _text(a, "audit", "log")
    assert hashfed_json(a, "evidence", "list")[0]["origin_halted"] is False  # evidence stays

    again = hashfed(a, "member", "reset", "b.example")
    assert again.exit_code == 4 and "not halted" in again.stderr
    assert hashfed(a, "member", "reset", "nobody.example").exit_code == 6
    assert len([e for e in hashfed_json(a, "audit", "log") if e["action"] == "member reset"]) == 1


def test_match_and_status_report_witnessing(net: dict[str, Path]) -> None:
    a, b, folder = net["a"], net["b"], net["folder"]
    c = folder / "c"
    Node.init(c, "c.example", peer_address="127.0.0.1:7003").close()
    hashfed_json(c, "member", "add", str(_card(b, folder)))
    hashfed_json(a, "member", "add", str(_card(c, folder)))
    _publish(b, MD5_A)
    _import(b, a)  # a verifies b's checkpoint and cosigns it: one witness of two required

    (result,) = hashfed_json(a, "match", "--signal", MD5_A)
    (match,) = result["matches"]
    assert match["origin"] == "b.example"
    assert match["witnessing"] == {
        "witnessed": False,
        "checkpoint_size": None,
        "witnesses": 1,
        "witness_names": ["a.example"],
        "required": 2,
    }
    assert "unwitnessed: 1 of 2 witnesses" in _text(a, "match", "--signal", MD5_A)
    report = hashfed_json(a, "status")
    assert report["witness_policy"]["min"] == 2
    origins = {o["origin"]: o for o in report["origins"]}
    assert origins["b.example"]["witnessed_size"] is None

    # c verifies and cosigns too; a keeps c's valid cosignature from the relayed notes.
    _import(b, c)
    with Node.open(c) as node:
        notes = [note for _, note in node.reader.checkpoint_notes("b.example")]
    with Node.open(a) as node:
        node.importer.absorb_cosigned("b.example", notes, "c.example")

    (result,) = hashfed_json(a, "match", "--signal", MD5_A)
    witnessing = result["matches"][0]["witnessing"]
    assert witnessing["witnessed"] is True and witnessing["checkpoint_size"] == 1
    assert witnessing["witness_names"] == ["a.example", "c.example"]
    assert "witnessed by 2 (checkpoint 1)" in _text(a, "match", "--signal", MD5_A)
    origins = {o["origin"]: o for o in hashfed_json(a, "status")["origins"]}
    assert origins["b.example"]["witnessed_size"] == 1
    status = _text(a, "status")
    assert (
        "witnessed size" in status and "Witness policy: a checkpoint is witnessed once 2" in status
    )
