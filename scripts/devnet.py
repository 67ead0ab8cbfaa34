#!/usr/bin/env python3
"""A local network of hashfed nodes for development, demos and tests.

Usage::

    devnet.py up [-n N] [--topology mesh|line] [--dir DIR] [--sync-interval S] [--reset] [--json]
    devnet.py status [--dir DIR] [--json]
    devnet.py down [--dir DIR] [--json]
    devnet.py link [--topology mesh|line] HOME...      # exchange cards between existing homes

``up`` starts N nodes (default 3) as local processes on 127.0.0.1, each with its own home
``DIR/node-a``, ``DIR/node-b``, … (default ``DIR`` is ``.devnet``) and origin ``node-a.example``,
``node-b.example``, …. On a fresh ``DIR`` it first picks free ports, runs ``hashfed init``, and
exchanges member cards by the topology:

- every node **trusts** every other origin (``hashfed member add``), in both topologies;
- ``mesh``: every node also **peers** with every other (``hashfed peer add``);
- ``line``: node i peers only with nodes i-1 and i+1, so with three nodes C trusts A but learns
  A's log only through B.

Then it starts ``hashfed serve --json`` for each node, detached (own session, output in
``DIR/<name>/serve.log``, pid in ``DIR/<name>/serve.pid``), waits until each has printed its
listening line, and prints each node's origin, home, addresses and pid. On a ``DIR`` that holds a
stopped devnet, ``up`` restarts those nodes on the ports they already had (``--sync-interval``
then changes their interval, else they keep it); ``--reset`` deletes ``DIR`` first (refused
while nodes run). ``down`` sends SIGTERM to each recorded pid, waits,
SIGKILLs stragglers, and leaves the homes in place.

``link`` is the card exchange alone, for homes that already exist (the compose ``setup`` service
uses it); it skips origins a home already trusts or peers with, so running it again is harmless.

Exit codes: 0 success (``status``: every node running); 1 ``status``: some node not running;
2 usage error; 3 any other error (the message says what and what to do).

In-process use: :func:`up` returns a list of :class:`NodeInfo`, :func:`down` a list of
:class:`Stopped`, :func:`status` a list of :class:`NodeStatus`; errors raise :class:`DevnetError`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(".devnet")
MANIFEST = "devnet.json"
MANIFEST_FORMAT = "hashfed-devnet/v1"
TOPOLOGIES = ("mesh", "line")
MAX_NODES = len(string.ascii_lowercase)
HOST = "127.0.0.1"
DEFAULT_SYNC_INTERVAL_S = 1.0

# Called with (node name or None, argv as shown) before every hashfed command devnet runs.
Echo = Callable[[str | None, Sequence[str]], None]


class DevnetError(Exception):
    """Something the operator has to fix; the message says what."""


@dataclass(frozen=True)
class NodeInfo:
    name: str
    origin: str
    home: Path
    peer_address: str
    local_address: str
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "home": str(self.home)}


@dataclass(frozen=True)
class NodeStatus:
    name: str
    origin: str
    home: Path
    peer_address: str
    local_address: str
    pid: int | None
    running: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "home": str(self.home)}


@dataclass(frozen=True)
class Stopped:
    name: str
    pid: int | None
    how: str  # "stopped" (exited on SIGTERM), "killed" (needed SIGKILL), "not running"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the hashfed command ---------------------------------------------------------------------------


def hashfed_command() -> list[str]:
    """The ``hashfed`` executable beside this Python, else on PATH, else ``python -m``."""
    beside = Path(sys.executable).parent / "hashfed"
    if beside.exists():
        return [str(beside)]
    if found := shutil.which("hashfed"):
        return [found]
    return [sys.executable, "-m", "node.cli.main"]


def _env(home: Path, columns: str | None = None) -> dict[str, str]:
    """hashfed's environment for ``home``; ``columns``: the terminal width it is told (default
    the caller's ``COLUMNS``, else 120)."""
    return {
        **os.environ,
        "HASHFED_HOME": str(home),
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": columns or os.environ.get("COLUMNS", "120"),
    }


def hashfed_process(
    home: Path, *args: str, cwd: Path | str | None = None, columns: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one hashfed command on ``home`` (in ``cwd``, no stdin) and return it, output captured,
    whatever its exit code."""
    return subprocess.run(
        [*hashfed_command(), *args],
        env=_env(home, columns),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def run_hashfed(
    home: Path, *args: str, echo: Echo | None = None, name: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run one hashfed command on ``home``; failing, raise :class:`DevnetError` with its output."""
    if echo is not None:
        echo(name, ["hashfed", *args])
    proc = hashfed_process(home, *args)
    if proc.returncode != 0:
        shown = shlex.join(["hashfed", *args])
        output = (proc.stderr.strip() or proc.stdout.strip())[-2000:]
        raise DevnetError(
            f"`{shown}` (HASHFED_HOME={home}) exited {proc.returncode}: {output or 'no output'}"
        )
    return proc


# -- layout ----------------------------------------------------------------------------------------


def node_names(n: int) -> list[str]:
    if not 1 <= n <= MAX_NODES:
        raise DevnetError(f"-n must be between 1 and {MAX_NODES}, not {n}")
    return [f"node-{letter}" for letter in string.ascii_lowercase[:n]]


def origin_of(name: str) -> str:
    return f"{name}.example"


def peers_of(index: int, n: int, topology: str) -> list[int]:
    """Indices node ``index`` opens connections to (``peer add``); it trusts all the others."""
    if topology == "mesh":
        return [j for j in range(n) if j != index]
    if topology == "line":
        return [j for j in (index - 1, index + 1) if 0 <= j < n]
    raise DevnetError(f"unknown topology {topology!r}; choose one of {', '.join(TOPOLOGIES)}")


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (all held open until all are known)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _port_free(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host or HOST, int(port)))
        except OSError:
            return False
    return True


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DevnetError(
            f"{path} is unreadable ({exc}); remove {directory} to start again"
        ) from exc
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise DevnetError(f"{path} is not a {MANIFEST_FORMAT} manifest")
    return doc


def _write_manifest(directory: Path, doc: dict[str, Any]) -> None:
    path = directory / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _pid_file(home: Path) -> Path:
    return home / "serve.pid"


def _log_file(home: Path) -> Path:
    return home / "serve.log"


# -- processes -------------------------------------------------------------------------------------

# Popen objects of the nodes this process started, kept so they are reaped (no zombies, no
# "subprocess still running" warnings) when an in-process caller (demo, tests) stops them.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _recorded_pid(home: Path) -> int | None:
    try:
        return int(_pid_file(home).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _is_our_server(pid: int, home: Path) -> bool:
    """Whether ``pid`` is alive and is the ``hashfed serve`` of ``home``, not a reused pid.

    Where /proc exists, the process must be live (not a zombie) and have ``serve`` among its
    arguments and ``HASHFED_HOME=<home>`` in its environment, as devnet started it.
    """
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: a reused pid, not ours
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no /proc (macOS): trust the pid file
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        environ = (proc / "environ").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    serving = any(part == b"serve" or part.endswith(b".serve") for part in cmdline)
    return serving and f"HASHFED_HOME={home}".encode() in environ


def _wait_gone(targets: Sequence[tuple[int, Path]], timeout_s: float) -> set[int]:
    """Wait until none of ``targets`` (pid, home) runs; return the pids still running."""
    deadline = time.monotonic() + timeout_s
    alive = dict(targets)
    while alive:
        for pid, home in list(alive.items()):
            child = _children.get(pid)
            if child is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(timeout=0.05)
            if not _is_our_server(pid, home):
                del alive[pid]
                _children.pop(pid, None)
        if not alive or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return set(alive)


def _tail(path: Path, offset: int = 0, lines: int = 20) -> str:
    """The last ``lines`` lines written to ``path`` after byte ``offset`` (this run's output)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(nothing written)"


def _start_server(home: Path, echo: Echo | None, name: str) -> subprocess.Popen[bytes]:
    if echo is not None:
        echo(name, ["hashfed", "serve", "--json", f"> {_log_file(home)} 2>&1 &"])
    with _log_file(home).open("ab") as log:
        proc = subprocess.Popen(
            [*hashfed_command(), "serve", "--json"],
            env=_env(home),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the caller's terminal does not reach the node
            cwd=home,
        )
    _children[proc.pid] = proc
    _pid_file(home).write_text(f"{proc.pid}\n", encoding="ascii")
    return proc


def _listening_line(log: Path, offset: int) -> dict[str, Any] | None:
    try:
        with log.open("rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(doc, dict) and "peer_address" in doc and "local_address" in doc:
            return doc
    return None


def _wait_listening(
    started: Sequence[tuple[str, Path, subprocess.Popen[bytes], int]], timeout_s: float
) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    ready: dict[str, dict[str, Any]] = {}
    while len(ready) < len(started):
        for name, home, proc, offset in started:
            if name in ready:
                continue
            if (line := _listening_line(_log_file(home), offset)) is not None:
                ready[name] = line
            elif proc.poll() is not None:
                raise DevnetError(
                    f"{name}: `hashfed serve` exited {proc.returncode} before listening; "
                    f"it wrote to {_log_file(home)}:\n{_tail(_log_file(home), offset)}"
                )
        if len(ready) == len(started):
            break
        if time.monotonic() >= deadline:
            late = [(n, h, o) for n, h, _, o in started if n not in ready]
            tails = "\n".join(f"--- {_log_file(h)}:\n{_tail(_log_file(h), o)}" for _, h, o in late)
            raise DevnetError(
                f"{', '.join(n for n, _, _ in late)} did not print a listening line within "
                f"{timeout_s:g} s:\n{tails}"
            )
        time.sleep(0.05)
    return ready


# -- card exchange ---------------------------------------------------------------------------------


def _set_config(home: Path, **values: object) -> None:
    path = home / "config.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc.update(values)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")


def _origins_in(listing: str) -> set[str]:
    """Origins in the output of ``hashfed member|peer list --json`` (removed members excluded)."""
    doc = json.loads(listing or "[]")
    if isinstance(doc, dict):  # tolerate {"members": [...]} / {"peers": [...]}
        doc = next((v for v in doc.values() if isinstance(v, list)), [])
    names = set()
    for item in doc:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, dict) and item.get("trusted", True):
            names.update(str(item[k]) for k in ("origin", "name") if k in item)
    return names


def _each_node(
    work: Sequence[tuple[str, Path, Sequence[Sequence[str]]]], echo: Echo | None
) -> list[list[subprocess.CompletedProcess[str]]]:
    """Run each node's hashfed commands in order, different nodes in parallel.

    ``work`` is (name, home, commands). Every command is echoed first, in the order given, so
    what is shown reads as if it ran sequentially. The first failure is raised once all finish.
    """
    if echo is not None:
        for name, _, commands in work:
            for argv in commands:
                echo(name, ["hashfed", *argv])

    def run(
        home: Path, commands: Sequence[Sequence[str]]
    ) -> list[subprocess.CompletedProcess[str]]:
        return [run_hashfed(home, *argv) for argv in commands]

    workers = max(1, min(len(work), os.cpu_count() or 1, 8))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, home, commands) for _, home, commands in work]
    return [f.result() for f in futures]


def link(
    homes: Sequence[Path],
    topology: str,
    *,
    cards_dir: Path | None = None,
    echo: Echo | None = None,
    names: Sequence[str] | None = None,
    skip_existing: bool = True,
) -> None:
    """Exchange member cards between initialised ``homes`` as ``topology`` says.

    Every home trusts every other origin; it peers with those :func:`peers_of` names. Cards are
    written to ``cards_dir`` (default: a ``cards`` folder beside the first home). With
    ``skip_existing``, origins a home already trusts (or peers with) are left alone.
    """
    homes = [Path(h).resolve() for h in homes]
    n = len(homes)
    labels = list(names or [h.name for h in homes])
    peers_of(0, n, topology)  # validates the topology
    cards_dir = cards_dir or homes[0].parent / "cards"
    cards_dir.mkdir(parents=True, exist_ok=True)
    identities = _each_node(
        [(lb, h, [["identity"]]) for lb, h in zip(labels, homes, strict=True)], echo
    )
    cards: list[Path] = []
    origins: list[str] = []
    for label, [proc] in zip(labels, identities, strict=True):
        card = json.loads(proc.stdout)
        path = cards_dir / f"{label}.json"
        path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        cards.append(path)
        origins.append(card["origin"])
    have: list[tuple[set[str], set[str]]] = [(set(), set())] * n
    if skip_existing:
        listed = _each_node(
            [
                (lb, h, [["peer", "list", "--json"], ["member", "list", "--json"]])
                for lb, h in zip(labels, homes, strict=True)
            ],
            None,
        )
        have = [(_origins_in(p.stdout), _origins_in(m.stdout)) for p, m in listed]
    work = []
    for i, home in enumerate(homes):
        peers = set(peers_of(i, n, topology))
        have_peers, have_members = have[i]
        commands = []
        for j in range(n):
            if j == i:
                continue
            if j in peers:
                if origins[j] not in have_peers:
                    commands.append(["peer", "add", str(cards[j])])
            elif origins[j] not in have_members:
                commands.append(["member", "add", str(cards[j])])
        work.append((labels[i], home, commands))
    _each_node(work, echo)


# -- up / down / status ----------------------------------------------------------------------------


def _running(directory: Path, doc: dict[str, Any]) -> list[tuple[str, int]]:
    found = []
    for node in doc.get("nodes", []):
        pid = _recorded_pid(directory / node["name"])
        if pid is not None and _is_our_server(pid, directory / node["name"]):
            found.append((node["name"], pid))
    return found


def _create(
    directory: Path,
    n: int,
    topology: str,
    sync_interval_s: float,
    echo: Echo | None,
) -> dict[str, Any]:
    names = node_names(n)
    peers_of(0, n, topology)  # validates the topology before anything is written
    if directory.exists() and any(directory.iterdir()):
        raise DevnetError(
            f"{directory} exists and is not a devnet folder (no {MANIFEST}); "
            "choose another --dir or empty it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    ports = free_ports(2 * n)
    doc: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "state": "creating",
        "topology": topology,
        "nodes": [
            {
                "name": name,
                "origin": origin_of(name),
                "peer_address": f"{HOST}:{ports[2 * i]}",
                "local_address": f"{HOST}:{ports[2 * i + 1]}",
            }
            for i, name in enumerate(names)
        ],
    }
    _write_manifest(directory, doc)
    homes = [directory / name for name in names]
    _each_node(
        [
            (
                node["name"],
                home,
                [["init", "--origin", node["origin"], "--peer-address", node["peer_address"]]],
            )
            for node, home in zip(doc["nodes"], homes, strict=True)
        ],
        echo,
    )
    for node, home in zip(doc["nodes"], homes, strict=True):
        _set_config(home, local_address=node["local_address"], sync_interval_s=sync_interval_s)
    link(
        homes,
        topology,
        cards_dir=directory / "cards",
        echo=echo,
        names=names,
        skip_existing=False,
    )
    return doc


def up(
    n: int | None = None,
    topology: str | None = None,
    directory: Path = DEFAULT_DIR,
    *,
    sync_interval_s: float | None = None,
    reset: bool = False,
    echo: Echo | None = None,
    timeout_s: float = 60.0,
) -> list[NodeInfo]:
    """Create (or restart) and start a devnet in ``directory``; see the module docstring."""
    directory = Path(directory).resolve()  # nodes run with their home as working folder
    doc = _read_manifest(directory)
    if doc is not None and (running := _running(directory, doc)):
        shown = ", ".join(f"{name} (pid {pid})" for name, pid in running)
        raise DevnetError(
            f"a devnet is already running in {directory}: {shown}; "
            f"stop it with `devnet.py down --dir {directory}`"
        )
    if reset and directory.exists():
        if doc is None and any(directory.iterdir()):
            raise DevnetError(f"--reset refuses to delete {directory}: it is not a devnet folder")
        shutil.rmtree(directory)
        doc = None
    if doc is not None and doc.get("state") != "ready":
        raise DevnetError(
            f"{directory} holds a devnet whose creation did not finish; "
            "start again with `devnet.py up --reset`"
        )
    if doc is None:
        interval = DEFAULT_SYNC_INTERVAL_S if sync_interval_s is None else sync_interval_s
        doc = _create(directory, n or 3, topology or "mesh", interval, echo)
        doc["state"] = "ready"  # homes made and linked: from now on `up` restarts them
        _write_manifest(directory, doc)
    else:
        if n is not None and n != len(doc["nodes"]):
            raise DevnetError(
                f"{directory} holds a devnet of {len(doc['nodes'])} nodes, not {n}; "
                "omit -n to restart it, or use --reset or another --dir"
            )
        if topology is not None and topology != doc["topology"]:
            raise DevnetError(
                f"{directory} holds a {doc['topology']} devnet, not {topology}; "
                "omit --topology to restart it, or use --reset or another --dir"
            )
        for node in doc["nodes"]:
            if sync_interval_s is not None:
                _set_config(directory / node["name"], sync_interval_s=sync_interval_s)
            for key in ("peer_address", "local_address"):
                if not _port_free(node[key]):
                    raise DevnetError(
                        f"{node['name']}'s {key.replace('_', ' ')} {node[key]} is in use by "
                        "another process; stop it, or use --reset to start a new devnet"
                    )

    started = []
    try:
        for node in doc["nodes"]:
            home = directory / node["name"]
            offset = _log_file(home).stat().st_size if _log_file(home).exists() else 0
            started.append((node["name"], home, _start_server(home, echo, node["name"]), offset))
        ready = _wait_listening(started, timeout_s)
    except BaseException:
        _stop([(name, proc.pid, home) for name, home, proc, _ in started], timeout_s=5.0)
        for _, home, _, _ in started:
            _pid_file(home).unlink(missing_ok=True)
        raise
    infos = []
    for node, (name, home, proc, _) in zip(doc["nodes"], started, strict=True):
        line = ready[name]
        infos.append(
            NodeInfo(
                name,
                str(line.get("origin", node["origin"])),
                home,
                str(line["peer_address"]),
                str(line["local_address"]),
                proc.pid,
            )
        )
    return infos


def _stop(targets: Sequence[tuple[str, int, Path]], timeout_s: float) -> list[Stopped]:
    """SIGTERM each (name, pid, home) that is still our server; SIGKILL it after ``timeout_s``."""
    signalled = []
    result: dict[str, Stopped] = {}
    for name, pid, home in targets:
        if not _is_our_server(pid, home):
            result[name] = Stopped(name, pid, "not running")
            continue
        try:
            os.kill(pid, signal.SIGTERM)
            signalled.append((name, pid, home))
        except ProcessLookupError:
            result[name] = Stopped(name, pid, "not running")
    stragglers = _wait_gone([(pid, home) for _, pid, home in signalled], timeout_s)
    for name, pid, _ in signalled:
        if pid in stragglers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            result[name] = Stopped(name, pid, "killed")
        else:
            result[name] = Stopped(name, pid, "stopped")
    _wait_gone([(pid, home) for _, pid, home in signalled if pid in stragglers], 5.0)
    return [result[name] for name, _, _ in targets]


def down(directory: Path = DEFAULT_DIR, *, timeout_s: float = 10.0) -> list[Stopped]:
    """SIGTERM every node of the devnet in ``directory``, SIGKILL those still running after
    ``timeout_s``; the homes stay."""
    directory = Path(directory).resolve()  # nodes run with their home as working folder
    doc = _read_manifest(directory)
    if doc is None:
        raise DevnetError(f"no devnet in {directory} (no {MANIFEST})")
    targets = []
    result = []
    for node in doc["nodes"]:
        home = directory / node["name"]
        pid = _recorded_pid(home)
        if pid is None:
            result.append(Stopped(node["name"], None, "not running"))
        else:
            targets.append((node["name"], pid, home))
    result.extend(_stop(targets, timeout_s))
    for node in doc["nodes"]:
        _pid_file(directory / node["name"]).unlink(missing_ok=True)
    order = {node["name"]: i for i, node in enumerate(doc["nodes"])}
    return sorted(result, key=lambda s: order[s.name])


def status(directory: Path = DEFAULT_DIR) -> list[NodeStatus]:
    directory = Path(directory).resolve()  # nodes run with their home as working folder
    doc = _read_manifest(directory)
    if doc is None:
        raise DevnetError(f"no devnet in {directory} (no {MANIFEST})")
    result = []
    for node in doc["nodes"]:
        home = directory / node["name"]
        pid = _recorded_pid(home)
        running = pid is not None and _is_our_server(pid, home)
        result.append(
            NodeStatus(
                node["name"],
                node["origin"],
                home,
                node["peer_address"],
                node["local_address"],
                pid if running else None,
                running,
            )
        )
    return result


def topology_of(directory: Path = DEFAULT_DIR) -> str:
    doc = _read_manifest(Path(directory))
    if doc is None:
        raise DevnetError(f"no devnet in {directory} (no {MANIFEST})")
    return str(doc["topology"])


# -- command line ----------------------------------------------------------------------------------


def _print_table(rows: Sequence[NodeInfo | NodeStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "origin", "home", "peer address", "local address", "pid")
    for row in rows:
        pid = str(row.pid) if row.pid is not None else "[dim]stopped[/]"
        home = os.path.relpath(row.home) if row.home.is_relative_to(Path.cwd()) else str(row.home)
        table.add_row(row.name, row.origin, home, row.peer_address, row.local_address, pid)
    # Rich assumes 80 columns when the output is not a terminal; the addresses need more.
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else 120).print(table)


def _echo_stderr(name: str | None, argv: Sequence[str]) -> None:
    print(f"{name or ''}$ {' '.join(argv)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="devnet.py", description="A local network of hashfed nodes on 127.0.0.1."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="create (or restart) and start the nodes")
    p_up.add_argument("-n", type=int, default=None, help="number of nodes (default 3)")
    p_up.add_argument("--topology", choices=TOPOLOGIES, default=None, help="default mesh")
    p_up.add_argument(
        "--sync-interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between background syncs (default: 1 for new nodes; restarted nodes "
        "keep theirs unless this is given)",
    )
    p_up.add_argument("--reset", action="store_true", help="delete DIR first (if stopped)")
    p_up.add_argument("-v", "--verbose", action="store_true", help="show each hashfed command")
    p_link = sub.add_parser("link", help="exchange member cards between existing homes")
    p_link.add_argument("--topology", choices=TOPOLOGIES, default="mesh")
    p_link.add_argument("--cards", type=Path, default=None, help="where to write the cards")
    p_link.add_argument("homes", nargs="+", type=Path, metavar="HOME")
    p_down = sub.add_parser("down", help="stop the nodes (homes stay)")
    p_status = sub.add_parser("status", help="show the nodes and whether they run")
    for p in (p_up, p_down, p_status):
        p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="default .devnet")
    for p in (p_up, p_down, p_status, p_link):
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            nodes = up(
                args.n,
                args.topology,
                args.dir,
                sync_interval_s=args.sync_interval,
                reset=args.reset,
                echo=_echo_stderr if args.verbose else None,
            )
            if args.json:
                print(json.dumps([node.to_dict() for node in nodes]))
            else:
                _print_table(nodes)
                print(
                    f"{len(nodes)} nodes running ({topology_of(args.dir)} topology). "
                    f"Use one: HASHFED_HOME={nodes[0].home} hashfed status; "
                    f"stop them: {Path(sys.argv[0]).name} down --dir {args.dir}"
                )
            return 0
        if args.command == "link":
            link(args.homes, args.topology, cards_dir=args.cards, echo=_echo_stderr)
            if args.json:
                print(json.dumps({"linked": [str(h) for h in args.homes]}))
            return 0
        if args.command == "down":
            stopped = down(args.dir)
            if args.json:
                print(json.dumps([s.to_dict() for s in stopped]))
            else:
                for s in stopped:
                    pid = f" (pid {s.pid})" if s.pid is not None else ""
                    print(f"{s.name}{pid}: {s.how}")
                print(
                    f"The homes stay in {args.dir}/ for inspection; "
                    f"`{Path(sys.argv[0]).name} up --dir {args.dir}` restarts the same nodes, "
                    f"`rm -rf {args.dir}` removes them."
                )
            return 0
        rows = status(args.dir)
        if args.json:
            print(json.dumps([r.to_dict() for r in rows]))
        else:
            _print_table(rows)
        return 0 if all(r.running for r in rows) else 1
    except DevnetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
