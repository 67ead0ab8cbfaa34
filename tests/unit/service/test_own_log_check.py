"""The signed-state file: written after each publish, checked on open and before signing."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from node.core import Node
from node.errors import SignedStateError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import Labels


def _add(node: Node, i: int) -> None:
    node.publisher.import_hash_list([f"md5 {i:032x}"], Labels())


def _head(home: Path, node: Node) -> int:
    text = (home / "signed-head").read_text(encoding="utf-8")
    return SignedCheckpoint.open(text, node.verifier).checkpoint.size


def test_each_publish_writes_the_note_it_signed(home: Path) -> None:
    with Node.open(home) as node:
        assert not (home / "signed-head").exists()  # never signed: nothing to remember
        for i in range(3):
            _add(node, i)
            assert (home / "signed-head").read_text(
                encoding="utf-8"
            ) == node.reader.checkpoint().note
        assert node.own_log_state().to_dict() == {
            "ok": True,
            "store_size": 3,
            "signed_size": 3,
            "problem": None,
        }


def test_a_file_one_append_behind_is_the_crash_window_and_is_caught_up(home: Path) -> None:
    with Node.open(home) as node:
        _add(node, 0)
        lagging = (home / "signed-head").read_text(encoding="utf-8")
        _add(node, 1)
    # Killed after the commit, before the rename: the file still holds size 1.
    (home / "signed-head").write_text(lagging, encoding="utf-8")
    with Node.open(home) as node:
        assert node.own_log_state().ok
        assert _head(home, node) == 2  # caught up on open
        _add(node, 2)
        assert _head(home, node) == 3


def test_an_upgraded_home_gets_the_file_from_its_database_once(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Node.open(home) as node:
        _add(node, 0)
        _add(node, 1)
    (home / "signed-head").unlink()  # a home made before the file existed
    with caplog.at_level(logging.WARNING, "hashfed.own_log"), Node.open(home) as node:
        assert _head(home, node) == 2
    assert "predates the signed-state file" in caplog.text


def test_a_database_behind_the_file_refuses_to_sign_and_changes_nothing(
    home: Path, tmp_path: Path
) -> None:
    with Node.open(home) as node:
        _add(node, 0)
    old = tmp_path / "old.db"
    shutil.copyfile(home / "hashfed.db", old)
    with Node.open(home) as node:
        _add(node, 1)
        _add(node, 2)
    shutil.copyfile(old, home / "hashfed.db")
    with Node.open(home) as node:
        state = node.own_log_state()
        assert (state.store_size, state.signed_size, state.ok) == (1, 3, False)
        assert state.problem is not None and "would fork the log" in state.problem
        for publish in (lambda: _add(node, 9), lambda: node.publisher.retract(0)):
            with pytest.raises(SignedStateError, match=r"up to size 1.*size 3"):
                publish()
        assert node.reader.checkpoint().size == 1
        assert _head(home, node) == 3  # the file is never lowered by a refusal


def test_a_database_with_another_root_at_the_signed_size_is_refused(
    home: Path, tmp_path: Path
) -> None:
    with Node.open(home) as node:
        _add(node, 0)
        _add(node, 1)
    signed = (home / "signed-head").read_text(encoding="utf-8")
    # The node's own log holds something else at size 2 (a fork made by an older version).
    other = tmp_path / "other"
    shutil.copytree(home, other)
    for name in ("hashfed.db-wal", "hashfed.db-shm"):
        (other / name).unlink(missing_ok=True)
    with Node.open(other) as node:
        node.store.db.execute("DELETE FROM signals")
        node.store.db.execute("DELETE FROM entries")
        node.store.db.execute("DELETE FROM checkpoints")
        (other / "signed-head").unlink()
        _add(node, 7)
        _add(node, 8)
    (other / "signed-head").write_text(signed, encoding="utf-8")
    with Node.open(other) as node:
        problem = node.own_log_state().problem
        assert problem is not None and "has root" in problem and "at size 2" in problem
        with pytest.raises(SignedStateError, match="different history"):
            _add(node, 9)


def test_a_damaged_file_refuses_to_sign(home: Path) -> None:
    with Node.open(home) as node:
        _add(node, 0)
    path = home / "signed-head"
    path.write_text(path.read_text(encoding="utf-8").replace("\n1\n", "\n7\n"), "utf-8")
    with Node.open(home) as node:
        assert not node.own_log_state().ok
        with pytest.raises(SignedStateError, match="does not hold a checkpoint signed by"):
            _add(node, 1)
        assert node.reader.checkpoint().size == 1


def test_a_peer_offering_another_root_at_our_size_stops_publishing(home: Path) -> None:
    from node.log.checkpoint import Checkpoint
    from node.log.keys import SignerKey
    from node.service.own_log_check import check_offer

    with Node.open(home) as node:
        _add(node, 0)
        _add(node, 1)
        ours = node.reader.checkpoint()
        # What we hold, and less of it: nothing to say.
        assert check_offer(node, ours.note, "b.example") is None
        assert check_offer(node, node.store.log.checkpoint_at(node.origin, 1).note, "b") is None
        # A note for our name that our key did not sign binds nobody.
        stranger = SignerKey.generate(node.origin)
        junk = SignedCheckpoint.sign(Checkpoint(node.origin, 9, bytes(32)), stranger).text()
        assert check_offer(node, junk, "b.example") is None
        _add(node, 2)
        # Signed by our key, size 2, another root: this node's history forked.
        forked = SignedCheckpoint.sign(Checkpoint(node.origin, 2, bytes(32)), node.signer)
        problem = check_offer(node, forked.text(), "b.example")
        assert problem is not None and "another root" in problem
        assert not node.own_log_state().ok
        with pytest.raises(SignedStateError):
            _add(node, 3)
    with Node.open(home) as node:  # remembered across restarts, in the file
        assert not node.own_log_state().ok


def _synchronous(node: Node) -> int:
    return int(node.store.db.execute("PRAGMA synchronous").fetchone()[0])


def test_a_publish_commits_with_synchronous_full_then_restores_normal(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Node.open(home) as node:
        seen: list[int] = []
        append = node.store.log.append

        def spy(*args: object, **kwargs: object) -> object:
            seen.append(_synchronous(node))
            return append(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(node.store.log, "append", spy)
        _add(node, 0)
        node.publisher.retract(0)
        # FULL (2) inside the publish transaction, so its commit is on disk before the
        # fsync'd signed-state file names it; NORMAL (1) for everything else.
        assert seen == [2, 2]
        assert _synchronous(node) == 1
        with node.store.exclusive():
            assert _synchronous(node) == 2
        assert _synchronous(node) == 1


def test_a_missing_file_with_peers_refuses_until_a_peer_confirms(home: Path) -> None:
    from node.service.own_log_check import check_offer

    with Node.open(home) as node:
        _add(node, 0)
        _add(node, 1)
        node.store.members.put_peer("b.example", "127.0.0.1:1")
    (home / "signed-head").unlink()
    with Node.open(home) as node:
        assert not (home / "signed-head").exists()  # not trusted from the database alone
        state = node.own_log_state()
        assert not state.ok and state.problem is not None
        assert "signed-head is missing; run `hashfed sync` once" in state.problem
        with pytest.raises(SignedStateError, match="signed-head is missing"):
            _add(node, 2)
        # A peer's offer of size 1, a prefix of ours, confirms it: the file is written.
        assert check_offer(node, node.store.log.checkpoint_at(node.origin, 1).note, "b") is None
        assert _head(home, node) == 2
        _add(node, 2)
        assert _head(home, node) == 3
