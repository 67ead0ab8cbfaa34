"""Index snapshots: a loaded snapshot answers exactly like a fresh build, or is not used at all."""

from __future__ import annotations

import ast
import inspect
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import node.service.index_snapshot as snapshot_module
from node.core import Node
from node.hashing import Signal
from node.log.entry import Labels
from node.service.index_snapshot import FOLDER_NAME, MANIFEST, read_snapshot
from node.service.match_index import MatchIndex

LABELS = Labels(entity="test")


def _hex(rng: random.Random, nbytes: int) -> str:
    return rng.randbytes(nbytes).hex()


def _flip(value: str, bits: int, rng: random.Random) -> str:
    number = int(value, 16)
    for bit in rng.sample(range(256), bits):
        number ^= 1 << bit
    return f"{number:064x}"


def _publish(node: Node, rng: random.Random, pdq: int, md5: int = 0) -> list[str]:
    values = [_hex(rng, 32) for _ in range(pdq)]
    lines = [f"pdq {v}" for v in values] + [f"md5 {_hex(rng, 16)}" for _ in range(md5)]
    node.publisher.import_hash_list(lines, LABELS)
    return values


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    with Node.init(tmp_path / "a", "a.example") as opened:
        yield opened


def _folder(node: Node) -> Path:
    return node.paths.root / FOLDER_NAME


def _answers(index: MatchIndex, queries: list[Signal], threshold: int | None) -> list[object]:
    return [[(h.row, h.distance) for h in index.search(q, threshold)] for q in queries]


def _queries(values: list[str], rng: random.Random) -> list[Signal]:
    near = [_flip(v, rng.randrange(0, 40), rng) for v in rng.sample(values, 60)]
    far = [_hex(rng, 32) for _ in range(20)]
    return [Signal("pdq", bytes.fromhex(v)) for v in near + far]


def _brute(node: Node, queries: list[Signal], threshold: int) -> list[object]:
    """Every live pdq row within ``threshold``, straight from the store (numpy popcount)."""
    values, dead = node.store.signals.signal_rows("pdq")
    stored = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, 32)
    live = np.ones(len(values), dtype=bool)
    live[dead] = False
    out: list[object] = []
    for q in queries:
        query = np.frombuffer(q.value, dtype=np.uint8)
        distances = np.unpackbits(stored ^ query, axis=1).sum(axis=1)
        rows = np.flatnonzero((distances <= threshold) & live)
        found = sorted((int(distances[r]), int(r)) for r in rows)
        out.append([(row, distance) for distance, row in found])
    return out


def _check_same_as_fresh(
    node: Node, index: MatchIndex, values: list[str], seed: int, *, brute: bool = True
) -> None:
    queries = _queries(values, random.Random(seed))
    fresh = MatchIndex(node.store)
    assert fresh.start.source == "store"
    assert index.sizes() == fresh.sizes()
    for threshold in (None, 0, 31, 60):
        assert _answers(index, queries, threshold) == _answers(fresh, queries, threshold)
    if brute:  # (the brute force knows nothing of trust)
        assert _answers(index, queries, 31) == _brute(node, queries, 31)


def test_round_trip_answers_like_a_fresh_build(node: Node) -> None:
    rng = random.Random(1)
    values = _publish(node, rng, 9000, md5=50)
    node.publisher.retract(3)
    built = MatchIndex(node.store, _folder(node))
    assert built.start.source == "store" and built.start.reason == "no snapshot"
    report = built.save_snapshot()
    assert report.bytes > 9000 * 32 and (report.folder / MANIFEST).exists()

    loaded = MatchIndex(node.store, _folder(node))
    assert loaded.start.source == "snapshot", loaded.start.reason
    assert loaded.start.caught_up_rows == 0
    _check_same_as_fresh(node, loaded, values, seed=2)
    md5 = node.store.signals.signal_sample("md5", [7])[0][3]
    assert [h.row for h in loaded.search(Signal("md5", md5), None)] == [7]


def test_stale_snapshot_is_caught_up(node: Node) -> None:
    rng = random.Random(3)
    values = _publish(node, rng, 6000)
    MatchIndex(node.store, _folder(node)).save_snapshot()
    # The store moves on: new rows, a retraction of an old row, a retraction of a new row.
    values += _publish(node, rng, 5000)
    node.publisher.retract(10)
    node.publisher.retract(7000)

    loaded = MatchIndex(node.store, _folder(node))
    assert loaded.start.source == "snapshot", loaded.start.reason
    assert loaded.start.caught_up_rows == 5000
    _check_same_as_fresh(node, loaded, values, seed=4)
    assert loaded.search(Signal("pdq", bytes.fromhex(values[10])), 0) == []


def test_trust_change_after_snapshot_is_followed(node: Node) -> None:
    rng = random.Random(5)
    values = _publish(node, rng, 3000)
    MatchIndex(node.store, _folder(node)).save_snapshot()
    # The node's own origin "removed" through the store (as a member removal would record).
    with node.store.transaction():
        node.store.db.execute(
            "INSERT INTO trust_events (origin, trusted, at_ms) VALUES ('a.example', 0, 0)"
        )
    loaded = MatchIndex(node.store, _folder(node))
    assert loaded.start.source == "snapshot", loaded.start.reason
    assert loaded.search(Signal("pdq", bytes.fromhex(values[0])), 0) == []
    _check_same_as_fresh(node, loaded, values, seed=6, brute=False)


def _rejected(node: Node, why: str) -> MatchIndex:
    index = MatchIndex(node.store, _folder(node))
    assert index.start.source == "store"
    assert why in index.start.reason, index.start.reason
    return index


def test_snapshot_of_another_store_is_rejected(node: Node, tmp_path: Path) -> None:
    rng = random.Random(7)
    with Node.init(tmp_path / "b", "a.example") as other:  # same origin name, other log
        _publish(other, rng, 4000)
        MatchIndex(other.store, _folder(other)).save_snapshot()
        values = _publish(node, rng, 4000)
        shutil.copytree(_folder(other), _folder(node))
    index = _rejected(node, "has another root")
    _check_same_as_fresh(node, index, values, seed=8)


def _manifest(node: Node) -> dict[str, object]:
    data: dict[str, object] = json.loads((_folder(node) / MANIFEST).read_text())
    return data


def _edit_manifest(node: Node, edit: object) -> None:
    data = _manifest(node)
    edit(data)  # type: ignore[operator]
    (_folder(node) / MANIFEST).write_text(json.dumps(data))


def _saved(node: Node, rows: int = 3000) -> list[str]:
    values = _publish(node, random.Random(9), rows)
    MatchIndex(node.store, _folder(node)).save_snapshot()
    return values


def test_corrupted_array_is_rejected(node: Node) -> None:
    values = _saved(node)
    data = _manifest(node)
    generation = _folder(node) / str(data["generation"])
    words = next(generation.glob("*-pdq.words.npy"))
    raw = bytearray(words.read_bytes())
    raw[-100] ^= 0x10
    words.write_bytes(bytes(raw))
    index = _rejected(node, "fails its SHA-256 check")
    _check_same_as_fresh(node, index, values, seed=10)


def test_truncated_or_missing_files_are_rejected(node: Node) -> None:
    _saved(node)
    generation = _folder(node) / str(_manifest(node)["generation"])
    words = next(generation.glob("*-pdq.words.npy"))
    words.write_bytes(words.read_bytes()[:-64])
    _rejected(node, "snapshot")
    words.unlink()
    _rejected(node, "missing")
    (_folder(node) / MANIFEST).write_text("{not json")
    _rejected(node, "unreadable")


def test_wrong_checkpoint_is_rejected(node: Node) -> None:
    _saved(node)

    def edit(data: dict[str, dict[str, dict[str, dict[str, str]]]]) -> None:
        data["store"]["checkpoints"]["a.example"]["root"] = "00" * 32

    _edit_manifest(node, edit)
    _rejected(node, "has another root")


def test_snapshot_ahead_of_the_store_is_rejected(node: Node) -> None:
    _saved(node)

    def edit(data: dict[str, dict[str, dict[str, int]]]) -> None:
        data["store"]["rows"]["pdq"] += 1

    _edit_manifest(node, edit)
    _rejected(node, "the store only")


def test_rows_in_another_order_are_rejected(node: Node) -> None:
    _saved(node)

    def edit(data: dict[str, dict[str, dict[str, str]]]) -> None:
        data["store"]["samples"]["pdq"] = "0" * 64

    _edit_manifest(node, edit)
    _rejected(node, "sampled pdq rows differ")


def test_other_format_version_is_rejected(node: Node) -> None:
    _saved(node)
    _edit_manifest(node, lambda data: data.update(version=99))
    _rejected(node, "format version")


def test_pickled_array_is_refused(node: Node) -> None:
    _saved(node)
    generation = _folder(node) / str(_manifest(node)["generation"])
    live = next(generation.glob("*-pdq.live.npy"))
    np.save(live, np.array([object()], dtype=object), allow_pickle=True)
    _rejected(node, "snapshot unreadable")


def test_no_pickle_anywhere() -> None:
    source = inspect.getsource(snapshot_module)
    assert "import pickle" not in source and "allow_pickle=True" not in source
    tree = ast.parse(source)
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        name = ast.unparse(call.func)
        if name in ("np.load", "np.save"):
            flags = {k.arg: ast.unparse(k.value) for k in call.keywords}
            assert flags.get("allow_pickle") == "False", name


def test_read_snapshot_returns_the_states(node: Node) -> None:
    _saved(node, rows=500)
    mark, states = read_snapshot(_folder(node))
    assert mark.rows["pdq"] == 500 and mark.checkpoints["a.example"][0] == 500
    assert int(states["pdq"]["count"]) == 500
    assert states["pdq"]["words"].shape == (500, 4)


def test_due_and_capture(node: Node) -> None:
    index = MatchIndex(node.store, _folder(node))
    assert index.snapshot_due(every_rows=1, every_s=0.0)  # a build from the store saved nothing
    capture = index.capture_snapshot()
    assert not index.snapshot_due(every_rows=1, every_s=0.0)
    _publish(node, random.Random(11), 10)
    index.refresh()
    assert index.snapshot_due(every_rows=10, every_s=1e9)
    assert not index.snapshot_due(every_rows=11, every_s=1e9)
    capture.write()  # an older capture written later is still a valid (stale) snapshot
    loaded = MatchIndex(node.store, _folder(node))
    assert loaded.start.source == "snapshot" and loaded.start.caught_up_rows == 10
    assert not MatchIndex(node.store).snapshot_due(every_rows=0, every_s=0.0)  # no folder


def test_cli_index_snapshot(node: Node) -> None:
    import typer
    from typer.testing import CliRunner

    from node.cli import index_cmd

    _publish(node, random.Random(12), 200)
    app = typer.Typer()
    index_cmd.register(app)

    @app.command()
    def other() -> None:  # a second command, so that "index" stays a group
        pass

    result = CliRunner().invoke(
        app, ["index", "snapshot", "--home", str(node.paths.root), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"]["pdq"] == 200 and summary["files"] > 0
    assert MatchIndex(node.store, _folder(node)).start.source == "snapshot"
