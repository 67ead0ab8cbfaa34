"""scripts/devnet.py: three real `hashfed serve` processes in a line, on 127.0.0.1.

One devnet is started for the module (starting nodes is the slow part): cards are exchanged as
the line topology says, A's hash reaches C through B over real gRPC with mutual TLS, `down`
stops every process with SIGTERM, and `up` on the same folder restarts the same nodes.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "devnet.py"
DIGEST = "sha256:" + "5e" * 32

pytestmark = pytest.mark.slow


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("devnet", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["devnet"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


devnet = _load()


def _alive(pid: int) -> bool:
    child = devnet._children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _json(home: Path, *args: str) -> Any:
    return json.loads(devnet.run_hashfed(home, *args, "--json").stdout)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[Any]]]:
    where = tmp_path_factory.mktemp("devnet") / "net"
    nodes = devnet.up(3, "line", where, sync_interval_s=60.0)
    try:
        yield where, nodes
    finally:
        if (where / devnet.MANIFEST).exists():
            devnet.down(where)


def test_up_starts_three_named_nodes_on_distinct_free_ports(net: tuple[Path, list[Any]]) -> None:
    where, nodes = net
    assert [n.name for n in nodes] == ["node-a", "node-b", "node-c"]
    assert [n.origin for n in nodes] == ["node-a.example", "node-b.example", "node-c.example"]
    addresses = [a for n in nodes for a in (n.peer_address, n.local_address)]
    assert len(set(addresses)) == 6
    assert all(a.startswith("127.0.0.1:") and not a.endswith(":0") for a in addresses)
    for n in nodes:
        assert n.home == where / n.name
        assert _alive(n.pid)
        assert (n.home / "serve.pid").read_text().strip() == str(n.pid)
        card = json.loads((where / "cards" / f"{n.name}.json").read_text())
        assert card["address"] == n.peer_address, "the card must carry the address served"
    assert all(s.running for s in devnet.status(where))


def test_up_refuses_a_folder_that_is_already_running(net: tuple[Path, list[Any]]) -> None:
    where, nodes = net
    with pytest.raises(devnet.DevnetError, match="already running"):
        devnet.up(3, "line", where)
    proc = _cli("up", "--dir", str(where))
    assert proc.returncode == 3
    assert "already running" in proc.stderr and str(nodes[0].pid) in proc.stderr


def test_cards_are_exchanged_as_the_line_topology_says(net: tuple[Path, list[Any]]) -> None:
    _, nodes = net
    origins = [n.origin for n in nodes]
    expected_peers = [[origins[1]], [origins[0], origins[2]], [origins[1]]]
    lists = [["peer", "list", "--json"], ["member", "list", "--json"]]
    listed = devnet._each_node([(n.name, n.home, lists) for n in nodes], None)  # in parallel
    for node, peers, (peer_list, member_list) in zip(nodes, expected_peers, listed, strict=True):
        assert sorted(p["name"] for p in json.loads(peer_list.stdout)) == sorted(peers), node.name
        trusted = {m["origin"] for m in json.loads(member_list.stdout) if m["trusted"]}
        assert trusted == {o for o in origins if o != node.origin}, node.name


def test_a_hash_published_at_a_is_matched_at_c_after_syncing_b_then_c(
    net: tuple[Path, list[Any]],
) -> None:
    _, (a, b, c) = net
    devnet.run_hashfed(a.home, "add", "--signal", DIGEST, "--entity", "Example Front")
    assert _json(c.home, "match", "--signal", DIGEST) == [{"query": DIGEST, "matches": []}]
    devnet.run_hashfed(b.home, "sync")
    devnet.run_hashfed(c.home, "sync")
    [result] = _json(c.home, "match", "--signal", DIGEST)
    [match] = result["matches"]
    assert (match["origin"], match["entry_index"]) == (a.origin, 0)
    assert match["labels"]["entity"] == "Example Front"


def test_health_check_script_reports_serving(net: tuple[Path, list[Any]]) -> None:
    _, nodes = net
    config = (nodes[0].home / "config.toml").read_text()
    assert nodes[0].local_address in config
    proc = subprocess.run(
        [sys.executable, str(ROOT / "compose" / "healthcheck.py")],
        env={**os.environ, "HASHFED_HOME": str(nodes[0].home)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "SERVING"


def test_down_stops_every_node_and_up_restarts_the_same_ones(
    net: tuple[Path, list[Any]],
) -> None:
    where, nodes = net
    # `down` from another process, as an operator would run it.
    proc = _cli("down", "--dir", str(where), "--json")
    assert proc.returncode == 0, proc.stderr
    stopped = json.loads(proc.stdout)
    assert [(s["name"], s["pid"], s["how"]) for s in stopped] == [
        (n.name, n.pid, "stopped") for n in nodes
    ]
    for n in nodes:
        child = devnet._children.pop(n.pid)
        assert child.wait(timeout=10) == 0, f"{n.name} did not exit 0 on SIGTERM"
        assert not (n.home / "serve.pid").exists()
        assert (n.home / "config.toml").exists(), "down must leave the homes in place"
    assert not any(s.running for s in devnet.status(where))
    assert _cli("status", "--dir", str(where)).returncode == 1
    assert [s.how for s in devnet.down(where)] == ["not running"] * 3

    with pytest.raises(devnet.DevnetError, match="not 4"):
        devnet.up(4, None, where)
    again = devnet.up(None, None, where)
    assert [(n.name, n.peer_address, n.local_address) for n in again] == [
        (n.name, n.peer_address, n.local_address) for n in nodes
    ]
    assert all(_alive(n.pid) for n in again)
    [result] = _json(again[2].home, "match", "--signal", DIGEST)
    assert [m["origin"] for m in result["matches"]] == [nodes[0].origin]
    assert [s.how for s in devnet.down(where)] == ["stopped"] * 3
    assert not any(_alive(n.pid) for n in again)
