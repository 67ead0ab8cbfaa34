"""Publishing is idempotent: a bulk import re-run after SIGKILL adds nothing (issue 9, finding 6).

A 20,000-line import (with duplicate lines) runs as a real `hashfed add --from` process and is
killed with SIGKILL: at random moments, and once right after its transaction committed, before
it could print anything (the operator then cannot know it worked). Re-running it to completion
leaves every signal in the log exactly once, and a further run adds nothing, exits 0 and
reports each line as already published with its entry index.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from node.core import Node
from node.log.entry import Add, Labels
from tests.support.cli import hashfed, hashfed_json
from tests.support.fednet import cli_subprocess

LINES = 20_000
DISTINCT = 18_000


def _hash_list(path: Path) -> list[str]:
    rng = random.Random(9)
    values = [f"md5 {rng.randbytes(16).hex()}" for _ in range(DISTINCT // 2)]
    values += [f"pdq {rng.randbytes(32).hex()}" for _ in range(DISTINCT - len(values))]
    lines = values + rng.sample(values, LINES - DISTINCT)  # duplicates inside one input
    rng.shuffle(lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines


def _checkpoints(home: Path) -> int:
    db = sqlite3.connect(f"file:{home / 'hashfed.db'}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("SELECT COUNT(*) FROM checkpoints").fetchone()[0])
    finally:
        db.close()


def _check(home: Path) -> int:
    """The log is whole and holds no signal twice; returns its size."""
    with Node.open(home) as node:
        latest = node.store.log.latest_checkpoint(node.origin)
        size = 0 if latest is None else latest.size
        assert node.store.integrity.row_counts()["entries"] == size
        for signal_type in node.store.signals.signal_types():
            values = node.store.signals.signal_rows(signal_type)[0]
            assert len(set(values)) == len(values), signal_type
        assert node.own_log_state().ok  # the signed-state file never leads the database
        return size


def _import(home: Path, source: Path) -> subprocess.Popen[str]:
    return cli_subprocess(home, "add", "--from", str(source), "--json", stdout=subprocess.PIPE)


@pytest.mark.timeout(600)  # its children may each take their own 300 s limit
def test_bulk_import_rerun_after_sigkill_adds_nothing(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    lines = _hash_list(source)
    rng = random.Random(4)
    outcomes = []

    # Killed at random moments, most of them before the commit.
    for _ in range(3):
        child = _import(home, source)
        time.sleep(rng.uniform(0.2, 1.5))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        outcomes.append(child.returncode)
        assert _check(home) in (0, DISTINCT)

    # Killed the moment its transaction committed: stored, but nothing printed.
    before = _checkpoints(home)
    child = _import(home, source)
    deadline = time.monotonic() + 120
    while _checkpoints(home) == before and child.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    child.send_signal(signal.SIGKILL)
    said, _ = child.communicate()
    outcomes.append(child.returncode)
    assert _check(home) == DISTINCT
    if child.returncode == -signal.SIGKILL:
        assert '"checkpoint"' not in said  # the operator was told nothing

    # Killed at random moments while re-running: nothing is appended again.
    for _ in range(2):
        child = _import(home, source)
        time.sleep(rng.uniform(0.1, 1.0))
        child.send_signal(signal.SIGKILL)
        child.communicate()
        assert _check(home) == DISTINCT
    assert -signal.SIGKILL in outcomes

    # Run to completion, then once more: nothing new, every line reported with its index.
    for _ in range(2):
        child = _import(home, source)
        said, _ = child.communicate(timeout=300)
        assert child.returncode == 0
        report = json.loads(said)
        assert report["entries"] == []
        assert len(report["skipped"]) == LINES
        assert report["checkpoint"]["size"] == DISTINCT
    assert _check(home) == DISTINCT

    # Each line's reported index is the entry holding exactly that signal.
    with Node.open(home) as node:
        log = node.reader.log()
        for item in report["skipped"]:
            line = lines[int(item["source"].removeprefix("line ")) - 1]
            statement = log[item["entry_index"]].entry.statement
            assert isinstance(statement, Add)
            assert [f"{c.signal.type} {c.signal.hex}" for c in statement.signals] == [line]

    # The human output says the same.
    text = hashfed(home, "add", "--from", str(source)).stdout
    assert f"Skipped {LINES} already published" in text
    assert "Nothing new published" in text


def test_an_item_is_a_duplicate_only_when_all_its_signals_are_live(home: Path) -> None:
    md5, sha = "md5:" + "ab" * 16, "sha256:" + "cd" * 32
    first = hashfed_json(home, "add", "--signal", md5, "--signal", sha)
    assert [e["entry_index"] for e in first["entries"]] == [0]
    again = hashfed_json(home, "add", "--signal", sha, "--signal", md5)
    assert again["entries"] == []
    assert again["skipped"][0]["entry_index"] == 0
    assert again["checkpoint"]["size"] == 1  # no new checkpoint signed
    # Any one signal new: the item adds something that can match, so it is published.
    extended = hashfed_json(home, "add", "--signal", md5, "--signal", "sha256:" + "ef" * 32)
    assert [e["entry_index"] for e in extended["entries"]] == [1]
    # A retracted ADD publishes nothing live: the same hash can be published again.
    hashfed_json(home, "retract", "0")
    alone = hashfed_json(home, "add", "--signal", sha)
    assert [e["entry_index"] for e in alone["entries"]] == [3]
    assert hashfed_json(home, "add", "--signal", sha)["skipped"][0]["entry_index"] == 3
    text = hashfed(home, "add", "--signal", sha).stdout
    assert "Skipped 1 already published" in text and "3" in text
    with Node.open(home) as node:
        report = node.publisher.import_hash_list([f"md5 {'ab' * 16}", f"md5 {'12' * 16}"], Labels())
    # md5 ab.. is still live in entry 1 (entry 0 was retracted).
    assert [(s.source, s.entry_indexes) for s in report.skipped] == [("line 1", (1,))]
    assert [e.entry_index for e in report.entries] == [4]


@pytest.mark.timeout(600)  # its children may each take their own 300 s limit
def test_two_imports_of_one_list_at_once_append_it_once(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "list.txt"
    rng = random.Random(3)
    lines = [f"md5 {rng.randbytes(16).hex()}" for _ in range(3000)]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    children = [_import(home, source) for _ in range(3)]
    reports = []
    for child in children:
        said, _ = child.communicate(timeout=300)
        assert child.returncode == 0
        reports.append(json.loads(said))
    # Exactly one of them appended the list; the others found it published under the lock.
    assert sorted(len(r["entries"]) for r in reports) == [0, 0, 3000]
    assert sorted(len(r["skipped"]) for r in reports) == [0, 3000, 3000]
    assert _check(home) == 3000


def test_a_file_published_again_is_reported_with_its_entry(
    home: Path, sample_files: dict[str, Path]
) -> None:
    files = sorted(sample_files.values())[:3]
    first = hashfed_json(home, "add", *map(str, files))
    assert [e["entry_index"] for e in first["entries"]] == [0, 1, 2]
    # The same files again, with one new one: only the new one is appended.
    extra = sample_files["unrelated"]
    again = hashfed_json(home, "add", str(files[1]), str(extra), str(files[0]))
    assert [(s["source"], s["entry_index"]) for s in again["skipped"]] == [
        (str(files[1]), 1),
        (str(files[0]), 0),
    ]
    assert [(e["source"], e["entry_index"]) for e in again["entries"]] == [(str(extra), 3)]
