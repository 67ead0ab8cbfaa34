"""Publish, match, retract, opinion and prove through the real CLI on a real home."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from node.core import Node
from node.log.bundle import Bundle
from node.log.keys import VerifierKey
from tests.support.cli import hashfed, hashfed_json
from tests.unit.scripts.fixtures import run_script


def test_init_creates_identity_and_refuses_to_overwrite(tmp_path: Path) -> None:
    home = tmp_path / "h"
    result = hashfed(home, "init", "--origin", "acme.example")
    assert result.exit_code == 0, result.output
    for name in ("signing.key", "tls.key"):
        mode = stat.S_IMODE(os.stat(home / "keys" / name).st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    key_before = (home / "keys" / "signing.key").read_bytes()
    again = hashfed(home, "init", "--origin", "other.example")
    assert again.exit_code == 7
    assert "refusing to overwrite" in again.stderr
    assert (home / "keys" / "signing.key").read_bytes() == key_before


def test_identity_card_is_consistent(home: Path) -> None:
    card = hashfed_json(home, "identity")
    assert card["origin"] == "acme.example"
    key = VerifierKey.parse(card["verifier_key"])
    assert key.name == "acme.example"
    assert len(card["tls_fingerprint_sha256"]) == 64
    assert card["tls_certificate"].startswith("-----BEGIN CERTIFICATE-----")


def test_commands_without_a_node_say_how_to_create_one(tmp_path: Path) -> None:
    result = hashfed(tmp_path / "nothing", "log")
    assert result.exit_code == 7
    assert "hashfed init" in result.stderr


def test_hash_reports_every_signal(sample_files: dict[str, Path], tmp_path: Path) -> None:
    out = hashfed_json(tmp_path, "hash", str(sample_files["original-0"]))
    types = {s["type"]: s for s in out[0]["signals"]}
    assert set(types) == {"pdq", "phash", "dhash", "md5", "sha256"}
    assert 0 <= types["pdq"]["quality"] <= 100
    assert len(types["pdq"]["value"]) == 64


def test_publish_then_match_edited_copies(home: Path, sample_files: dict[str, Path]) -> None:
    originals = [str(sample_files[f"original-{i}"]) for i in range(3)]
    report = hashfed_json(
        home,
        "add",
        *originals,
        "--entity",
        "Example Front",
        "--behaviour",
        "recruitment",
        "--tag",
        "t1",
        "--content-type",
        "image",
    )
    assert [e["entry_index"] for e in report["entries"]] == [0, 1, 2]
    assert report["checkpoint"]["size"] == 3

    copies = sorted(k for k in sample_files if k.startswith("copy-"))
    results = hashfed_json(home, "match", *(str(sample_files[k]) for k in copies))
    for key, result in zip(copies, results, strict=True):
        seed = int(key.split("-")[1])
        found = {m["entry_index"]: m for m in result["matches"]}
        assert seed in found, f"{key} did not match entry {seed}: {result}"
        labels = found[seed]["labels"]
        assert labels == {
            "entity": "Example Front",
            "content_type": "image",
            "behaviours": ["recruitment"],
            "tags": ["t1"],
        }
        assert found[seed]["origin"] == "acme.example"
    unrelated = hashfed_json(home, "match", str(sample_files["unrelated"]))
    assert unrelated[0]["matches"] == []
    no_match = hashfed(home, "match", str(sample_files["unrelated"]), "--exit-code")
    assert no_match.exit_code == 1


def test_exact_signals_and_thresholds(home: Path) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    hashfed_json(home, "add", "--signal", f"pdq:{pdq}", "--signal", "md5:" + "ab" * 16)
    near = format(int(pdq, 16) ^ 0b111, "064x")  # 3 bits away
    assert hashfed_json(home, "match", "--signal", f"pdq:{near}")[0]["matches"]
    none = hashfed_json(home, "match", "--signal", f"pdq:{near}", "--threshold", "2")
    assert none[0]["matches"] == []
    exact = hashfed_json(home, "match", "--signal", "md5:" + "AB" * 16)
    assert exact[0]["matches"][0]["signals"] == [{"type": "md5", "distance": 0}]


def test_retract_stops_matching_and_is_logged(home: Path, sample_files: dict[str, Path]) -> None:
    hashfed_json(home, "add", str(sample_files["original-0"]), str(sample_files["original-1"]))
    copy = str(sample_files["copy-0-jpeg"])
    assert hashfed_json(home, "match", copy)[0]["matches"]
    hashfed_json(home, "retract", "0", "--reason", "mistake")
    assert [
        m for m in hashfed_json(home, "match", copy)[0]["matches"] if m["entry_index"] == 0
    ] == []
    assert hashfed_json(home, "match", str(sample_files["copy-1-jpeg"]))[0]["matches"]
    log = hashfed_json(home, "log")
    assert [(e["kind"], e["retracted"]) for e in log] == [
        ("ADD", True),
        ("ADD", False),
        ("RETRACT", False),
    ]
    twice = hashfed(home, "retract", "0")
    assert twice.exit_code == 4 and "already retracted" in twice.stderr
    not_add = hashfed(home, "retract", "2")
    assert not_add.exit_code == 4
    missing = hashfed(home, "retract", "99")
    assert missing.exit_code == 6


def test_opinion_summary_travels_with_matches(home: Path) -> None:
    hashfed_json(home, "add", "--signal", "sha256:" + "11" * 32, "--entity", "X")
    hashfed_json(home, "opinion", "acme.example", "0", "--false-positive", "--disagree-labels")
    match = hashfed_json(home, "match", "--signal", "sha256:" + "11" * 32)[0]["matches"][0]
    assert match["opinions"]["false_positive"] == 1
    assert match["opinions"]["disagree_labels"] == 1
    # An author's newer opinion replaces its older one.
    hashfed_json(home, "opinion", "acme.example", "0", "--true-positive")
    match = hashfed_json(home, "match", "--signal", "sha256:" + "11" * 32)[0]["matches"][0]
    assert match["opinions"] == {
        "true_positive": 1,
        "false_positive": 0,
        "disputed": 0,
        "agree_labels": 1,
        "disagree_labels": 0,
    }
    both = hashfed(home, "opinion", "acme.example", "0", "--true-positive", "--disputed")
    assert both.exit_code == 2  # a usage error


def test_bulk_import_formats_publish_under_one_checkpoint(home: Path, tmp_path: Path) -> None:
    pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
    simple = tmp_path / "simple.txt"
    simple.write_text(f"# comment\npdq {pdq}\nmd5 {'cd' * 16}\n\nvideo_md5 {'ef' * 16}\n")
    report = hashfed_json(home, "add", "--from", str(simple))
    assert len(report["entries"]) == 3 and report["checkpoint"]["size"] == 3
    dataset = "signal_type,signal_str,fetched_at\nsha256," + "aa" * 32 + ",2024\n"
    report = hashfed_json(home, "add", "--from", "-", input=dataset)
    assert report["checkpoint"]["size"] == 4
    tool = tmp_path / "pdq.csv"
    tool.write_text(f"{pdq},100,a.jpg\n{'0f' * 32},88,b.jpg\n")
    report = hashfed_json(home, "add", "--from", str(tool))
    # The first line's PDQ is published live already (entry 0): not appended again.
    assert [s["entry_index"] for s in report["skipped"]] == [0]
    assert report["skipped"][0]["source"] == "line 1"
    assert report["checkpoint"]["size"] == 5
    checkpoints = Node.open(home).store.log.checkpoints("acme.example")
    assert [c.size for c in checkpoints] == [3, 4, 5]


def test_bundle_verifies_with_the_node_and_the_offline_script(home: Path, tmp_path: Path) -> None:
    for i in range(5):
        hashfed_json(home, "add", "--signal", f"md5:{i:032x}")
    bundle_path = tmp_path / "bundle.json"
    assert hashfed(home, "proof", "acme.example", "3", "-o", str(bundle_path)).exit_code == 0
    key = hashfed_json(home, "identity")["verifier_key"]
    Bundle.from_json(bundle_path.read_text()).verify(VerifierKey.parse(key))
    script = run_script("verify_bundle.py", bundle_path, "--key", key)
    assert script.returncode == 0, script.stdout + script.stderr
    assert script.stdout.startswith("OK")
    data = bytearray(bundle_path.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle_path.write_bytes(bytes(data))
    tampered = run_script("verify_bundle.py", bundle_path, "--key", key)
    assert tampered.returncode == 1 and tampered.stderr.startswith("FAIL")


def test_checkpoint_command_prints_a_signed_note(home: Path) -> None:
    hashfed_json(home, "add", "--signal", "md5:" + "00" * 16)
    note = hashfed(home, "checkpoint").stdout
    lines = note.splitlines()
    assert lines[0] == "acme.example" and lines[1] == "1"
    assert lines[3] == "" and lines[4].startswith("— acme.example ")
    as_json = hashfed_json(home, "checkpoint")
    assert as_json["size"] == 1 and as_json["note"] == note


def test_proof_output_refuses_to_overwrite_without_force(home: Path, tmp_path: Path) -> None:
    hashfed_json(home, "add", "--signal", "md5:" + "01" * 16)
    hashfed_json(home, "add", "--signal", "md5:" + "02" * 16)
    path = tmp_path / "bundle.json"
    path.write_text("someone else's file", encoding="utf-8")
    refused = hashfed(home, "proof", "acme.example", "0", "-o", str(path))
    assert refused.exit_code == 4 and "--force" in refused.stderr
    assert path.read_text(encoding="utf-8") == "someone else's file"
    forced = hashfed_json(home, "proof", "acme.example", "1", "-o", str(path), "--force")
    assert forced == {"origin": "acme.example", "index": 1, "file": str(path)}
    assert Bundle.from_json(path.read_text()).entry_index == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle.json", "home"]


def test_every_command_has_help_and_json() -> None:
    from typer.main import get_command
    from typer.testing import CliRunner

    from node.cli.main import app

    def leaves(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
        found = []
        for name, command in group.commands.items():
            if hasattr(command, "commands"):  # a group (typer vendors its own click)
                found.extend(leaves(command, (*path, name)))
            else:
                found.append((*path, name))
        return found

    commands = leaves(get_command(app))
    assert {
        ("init",),
        ("identity",),
        ("hash",),
        ("add",),
        ("retract",),
        ("opinion",),
        ("match",),
        ("log",),
        ("checkpoint",),
        ("proof",),
        ("member", "add"),
        ("peer", "add"),
        ("status",),
    } <= set(commands)
    for command in commands:
        result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        assert "--json" in result.stdout, f"{' '.join(command)} --help does not offer --json"
    usage = CliRunner().invoke(app, ["match", "--no-such-option"])
    assert usage.exit_code == 2
