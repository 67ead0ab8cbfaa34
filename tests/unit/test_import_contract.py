"""The one import contract between node's layers (tests/unit/import_contract.py).

Statically, every import statement of every module keeps the arrows of docs/architecture.md;
the checker is shown to catch each kind of arrow against the contract on a small synthetic
tree. At run time, in a fresh interpreter (this process has loaded everything), the pure layers
load no network, database or image library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT
from tests.unit.import_contract import (
    CONTRACT,
    Arrow,
    check,
    layer_of,
    modules,
    unused_allowances,
)

GOOD_TREE = {
    "node/__init__.py": '"""A package."""\n',
    "node/errors.py": "class HashfedError(Exception): ...\n",
    "node/_proto/__init__.py": "",
    "node/_proto/entry_pb2.py": "from google.protobuf import descriptor\n",
    "node/log/__init__.py": "",
    "node/log/entry.py": "from node.errors import Error\nfrom node._proto import entry_pb2\n",
    "node/log/merkle.py": "import hashlib\nfrom node.errors import HashfedError\n",
    "node/hashing/__init__.py": "import PIL\nfrom node.log import entry\n",
    "node/store/__init__.py": "import sqlite3\nfrom node.log import x\n",
    "node/core.py": "from node.store import Store\n",
    "node/service/__init__.py": "",
    "node/service/runner.py": "from node.core import Node\n",
    "node/own_checks.py": "def f():\n    from node.sync.client import PeerClient\n",
    "node/sync/__init__.py": "from node.sync.loop import run\n",
    "node/sync/client.py": "import grpc\n",
    "node/sync/loop.py": "from . import client\nfrom node.service.runner import NodeRunner\n",
    "node/server/__init__.py": "from node.server.app import start\n",
    "node/server/app.py": "import grpc\nfrom node.sync import run\n",
    "node/cli/__init__.py": "",
    "node/cli/serve.py": "def serve():\n    from node.server import start\n",
    "node/testing/__init__.py": "from node.server.app import start\n",
}

# One arrow against the contract per case: (file, source added to it, the arrow reported).
BAD_ARROWS = [
    (
        "node/log/keys.py",
        "import grpc\n",
        Arrow("node.log.keys", "grpc", "pure never imports grpc"),
    ),
    (
        "node/log/keys.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from PIL import Image\n",
        Arrow("node.log.keys", "PIL", "pure never imports PIL"),
    ),
    (
        "node/log/keys.py",
        "from node.hashing import x\n",
        Arrow("node.log.keys", "node.hashing", "pure never imports hashing"),
    ),
    (
        "node/log/merkle.py",
        "import json\n",
        Arrow("node.log.merkle", "json", "imports only what its allow-list names"),
    ),
    (
        # The store holds bytes and signal values; hashing (and Pillow behind it) is not its.
        "node/store/rows.py",
        "from node.hashing import x\n",
        Arrow("node.store.rows", "node.hashing", "store never imports hashing"),
    ),
    (
        "node/store/tables.py",
        "def f():\n    from node.core import Node\n",
        Arrow("node.store.tables", "node.core", "store never imports service"),
    ),
    (
        "node/service/publisher.py",
        "from node.server import app\n",
        Arrow("node.service.publisher", "node.server.app", "service never imports server"),
    ),
    (
        "node/service/match_index.py",
        "from node.cli import serve\n",
        Arrow("node.service.match_index", "node.cli.serve", "service never imports cli"),
    ),
    (
        "node/service/publisher.py",
        "import sqlite3\n",
        Arrow("node.service.publisher", "sqlite3", "service never imports sqlite3"),
    ),
    (
        "node/sync/engine.py",
        "from ..server import app\n",
        Arrow("node.sync.engine", "node.server.app", "sync never imports server"),
    ),
    (
        "node/sync/engine.py",
        "import importlib\nimportlib.import_module('node.server')\n",
        Arrow("node.sync.engine", "node.server", "sync never imports server"),
    ),
    (
        "node/server/status.py",
        "from node.cli import serve\n",
        Arrow("node.server.status", "node.cli.serve", "server never imports cli"),
    ),
    (
        "node/cli/sync.py",
        "def sync():\n    from node.sync.loop import run\n",
        Arrow("node.cli.sync", "node.sync.loop", "only the sync package itself is its entry"),
    ),
    (
        "node/core.py",
        "from node.testing import harness\n",
        Arrow("node.core", "node.testing", "service never imports testing"),
    ),
    (
        "node/server/local_pb2.py",
        "",
        Arrow(
            "node.server.local_pb2", "node.server.local_pb2", "generated code outside node._proto"
        ),
    ),
]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_node_keeps_the_import_contract() -> None:
    assert check(ROOT) == []


def test_every_allowance_against_the_layers_is_still_needed() -> None:
    assert unused_allowances(ROOT) == []


def test_every_module_of_node_has_a_layer_that_names_it_or_the_service_default() -> None:
    layers = {layer_of(module, CONTRACT).name for module in modules(ROOT)}
    assert {"proto", "pure", "hashing", "store", "service", "sync", "server", "cli"} <= layers


def test_a_tree_that_keeps_the_contract_passes(tmp_path: Path) -> None:
    write_tree(tmp_path, GOOD_TREE)

    assert check(tmp_path) == []


def test_an_allowance_no_import_needs_is_reported(tmp_path: Path) -> None:
    write_tree(tmp_path, GOOD_TREE)  # uses the peer client, not the sync engine

    assert [a.target for a in unused_allowances(tmp_path)] == ["node.sync.engine"]


@pytest.mark.parametrize(("name", "source", "arrow"), BAD_ARROWS, ids=lambda v: str(v)[:40])
def test_the_checker_reports_exactly_the_arrow_against_the_contract(
    tmp_path: Path, name: str, source: str, arrow: Arrow
) -> None:
    files = dict(GOOD_TREE)
    files[name] = files.get(name, "") + source
    write_tree(tmp_path, files)

    assert check(tmp_path) == [arrow]


# The pure layer, and the value types the services return (results of matching and publishing).
PURE = ("node.errors", "node.signals", "node.log", "node.index", "node.wire", "node.results")
NETWORK_DATABASE = ("grpc", "sqlite3", "sqlite_utils", "psycopg")
IMAGE = ("PIL", "pdqhash", "imagehash")


def loaded_after_importing(names: list[str]) -> list[str]:
    """Top-level modules (and node.hashing.*) loaded by importing ``names`` in a fresh process."""
    probe = (
        "import importlib, json, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if '.' not in m "
        "or m.startswith('node.hashing'))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(run.stdout)
    return loaded


@pytest.mark.parametrize("package", PURE)
def test_pure_layers_load_no_network_database_or_image_library(package: str) -> None:
    everything = [m for m in modules(ROOT) if m == package or m.startswith(package + ".")]
    loaded = loaded_after_importing(everything)

    assert [m for m in loaded if m in NETWORK_DATABASE + IMAGE] == []
    assert [m for m in loaded if m.startswith("node.hashing")] == []


def test_the_issue_s_one_liners_hold() -> None:
    for package in ("node.log", "node.index"):
        loaded = loaded_after_importing([package])
        assert "PIL" not in loaded and "pdqhash" not in loaded, package


def test_hashing_loads_neither_grpc_nor_sqlite3() -> None:
    loaded = loaded_after_importing(["node.hashing"])

    assert [m for m in loaded if m in NETWORK_DATABASE] == []
