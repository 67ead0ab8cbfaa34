"""A small federation for integration tests: real nodes, real gRPC, real mutual TLS, real SQLite.

Each :class:`Member` is a node home on disk with a fixed peer port on 127.0.0.1 (chosen free
before ``init``, because the member card carries the address). While it serves, it runs in a
:class:`~node.testing.background.BackgroundNode` (its own event loop thread) and every facade call
goes through its runner; while it does not, calls open the home directly.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from typer.testing import Result

from node.core import Node
from node.sync.engine import PeerSyncReport
from node.sync.loop import sync_all
from node.testing.background import BackgroundNode
from tests.support.cli import hashfed
from tests.support.paths import ROOT
from tests.unit.scripts.fixtures import run_script

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Member:
    def __init__(self, home: Path, origin: str, port: int) -> None:
        self.home = home
        self.origin = origin
        self.port = port
        self.served: BackgroundNode | None = None

    @classmethod
    def create(cls, folder: Path, origin: str) -> Member:
        port = free_port()
        home = folder / origin
        Node.init(home, origin, peer_address=f"127.0.0.1:{port}").close()
        return cls(home, origin, port)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def tls_certificate(self) -> bytes:
        """The certificate this member's node presents, as a peer pins it."""
        return (self.home / "keys" / "tls.crt").read_bytes()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self, *, run_sync: bool = False) -> Member:
        assert self.served is None
        self.served = BackgroundNode(
            self.home, peer_address=self.address, local_address="127.0.0.1:0", run_sync=run_sync
        )
        self.served.start()
        return self

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop(grace=0.5)
            self.served = None

    # -- facade calls --------------------------------------------------------------------------

    def do(self, fn: Callable[[Node], T]) -> T:
        """Run ``fn(node)`` on the serving node's thread, or on a freshly opened node."""
        if self.served is None:
            with Node.open(self.home) as node:
                return fn(node)
        runner = self.served.running.runner
        return self.served.run(runner.call(fn, runner.node), timeout=120)

    def __getattr__(self, name: str) -> _Call:
        """``member.publisher.publish_files(...)``: any facade or service method, run as
        :meth:`do` does."""
        if name.startswith("_"):
            raise AttributeError(name)
        return _Call(self, (name,))

    def card(self, **override: str) -> str:
        card = self.do(lambda node: node.identity_card())
        card.update(override)
        return json.dumps(card)

    # -- sync ----------------------------------------------------------------------------------

    def sync(self, peer: str | None = None) -> list[PeerSyncReport]:
        """Sync now, through the serving node's runner (``peer`` only, or every peer)."""
        assert self.served is not None, "start the member first"
        runner = self.served.running.runner
        return self.served.run(sync_all(runner, peer), timeout=120)

    def sync_one(self, peer: str) -> PeerSyncReport:
        (report,) = self.sync(peer)
        return report

    # -- looking into the database (read-only, any time) ----------------------------------------

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        db = sqlite3.connect(f"file:{self.home / 'hashfed.db'}?mode=ro", uri=True, timeout=30)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def count(self, table: str, origin: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {table} WHERE origin = ?", origin)[0][0])


class _Call:
    """A path of attributes from the node (``publisher.retract``), called on its thread."""

    def __init__(self, member: Member, path: tuple[str, ...]) -> None:
        self._member = member
        self._path = path

    def __getattr__(self, name: str) -> _Call:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Call(self._member, (*self._path, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        def call(node: Node) -> Any:
            target: Any = node
            for name in self._path:
                target = getattr(target, name)
            return target(*args, **kwargs)

        return self._member.do(call)


@contextlib.contextmanager
def members(folder: Path, *origins: str) -> Iterator[tuple[Member, ...]]:
    """A member for each origin, homes in ``folder``; those still serving are stopped at the end,
    the last created first."""
    created = tuple(Member.create(folder, origin) for origin in origins)
    try:
        yield created
    finally:
        for member in reversed(created):
            member.stop()


def trust(member: Member, other: Member) -> None:
    """``member`` accepts ``other``'s card (its origin, and its certificate for connections)."""
    member.members.add(other.card())


def peer(member: Member, other: Member) -> None:
    """``member`` trusts ``other`` and connects to it; ``other`` accepts ``member``'s card."""
    member.members.add_peer(other.card())
    other.members.add(member.card())


def run_cli(home: Path, *args: str) -> Result:
    return hashfed(home, *args)


CLI_CHILD = """
import sys
sys.path.insert(0, {root!r})
from node.cli.main import app
app(sys.argv[1:])
"""


def cli_subprocess(home: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """The same commands in a child process (to be killed)."""
    code = CLI_CHILD.format(root=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args, "--home", str(home)], text=True, **popen
    )


def verify_bundle(bundle_json: str, key: str, folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / "bundle.json"
    path.write_text(bundle_json, encoding="utf-8")
    return run_script("verify_bundle.py", path, "--key", key, timeout=60)
