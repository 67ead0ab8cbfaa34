"""The import contract between node's layers, and the checker that walks every import statement.

docs/architecture.md shows the same table. A module belongs to the layer with the longest
matching prefix; every other module of ``node`` (``node.core`` and the loose modules the
services absorb) belongs to the service layer, so a module moved into ``node/service/`` keeps its
rules. Every import statement counts, wherever it is (inside functions, under
``TYPE_CHECKING``): a lazy import is still an arrow between layers.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

GRPC = frozenset({"grpc", "grpc_health", "grpc_reflection", "grpc_tools"})
DATABASES = frozenset({"sqlite3", "sqlite_utils", "psycopg", "psycopg2"})
IMAGES = frozenset({"PIL", "pdqhash", "imagehash", "cv2", "av"})


@dataclass(frozen=True)
class Layer:
    """A set of modules (by prefix), the layers below it that it may import, and the
    third-party libraries it must never import."""

    name: str
    prefixes: tuple[str, ...]
    may_import: frozenset[str]
    forbidden: frozenset[str] = frozenset()
    # Outside the layer only the package itself (its __init__, the documented entry point) may
    # be imported, never one of its modules.
    entry_only: bool = False
    # May import any module of the layers it may import, entry points or not.
    sees_inside: bool = False


@dataclass(frozen=True)
class Allowance:
    """An arrow the layers forbid but the code still needs, with the reason (debt to remove)."""

    layer: str
    target: str  # a module, or a package and everything in it
    reason: str


@dataclass(frozen=True)
class Contract:
    layers: tuple[Layer, ...]
    default_layer: str  # the layer of every module no prefix claims
    allowances: tuple[Allowance, ...] = ()
    # Modules held to a stricter rule than their layer: they import exactly these, nothing else.
    only: tuple[tuple[str, frozenset[str]], ...] = ()
    generated_package: str = "node._proto"


BELOW_SERVICE = frozenset({"proto", "pure", "hashing", "store"})
EDGE = BELOW_SERVICE | {"service"}

CONTRACT = Contract(
    layers=(
        # Generated from protos/ (scripts/gen_protos.py); imports only itself.
        Layer("proto", ("node._proto",), frozenset()),
        # Pure logic: values, the log, the match index, errors, the wire's shared limits.
        Layer(
            "pure",
            ("node", "node.errors", "node.signals", "node.log", "node.index", "node.wire"),
            frozenset({"proto"}),
            GRPC | DATABASES | IMAGES,
        ),
        Layer("hashing", ("node.hashing",), frozenset({"pure"}), GRPC | DATABASES),
        Layer("store", ("node.store",), frozenset({"proto", "pure"}), GRPC | IMAGES),
        # Use cases, the Node facade (node.core), and the modules not yet in a package.
        Layer("service", ("node.service", "node.core"), BELOW_SERVICE, GRPC | DATABASES),
        # The three edges. The server starts the sync loop beside its servers; the CLI starts
        # either through its package's entry point. Nothing else crosses between them.
        Layer("sync", ("node.sync",), EDGE, entry_only=True),
        Layer("server", ("node.server",), EDGE | {"sync"}, entry_only=True),
        Layer("cli", ("node.cli",), EDGE | {"sync", "server"}, entry_only=True),
        # Harnesses for tests, the demo and benchmarks: may use anything, used by nothing.
        Layer("testing", ("node.testing",), EDGE | {"sync", "server", "cli"}, sees_inside=True),
    ),
    default_layer="service",
    allowances=(
        Allowance(
            "service",
            "node.sync.client",
            "recovering the node's own log (`recover`, `check --repair`) asks a peer through "
            "the peer client; it belongs below sync and service both (a peer-client package)",
        ),
        Allowance(
            "service",
            "node.sync.engine",
            "that recovery checks each batch exactly as the sync does (verify_batch); the "
            "batch check belongs with the peer client, below both",
        ),
    ),
    # The Merkle tree is the part an auditor re-implements; it stays readable on its own.
    only=(
        (
            "node.log.merkle",
            frozenset({"__future__", "hashlib", "collections.abc", "dataclasses", "node.errors"}),
        ),
        *(
            (
                module,
                frozenset(
                    {"__future__", "hashlib", "collections.abc", "dataclasses", "node.errors"}
                    | {"node.log.merkle", "node.log.proofs"}
                ),
            )
            for module in ("node.log.proofs", "node.log.proof_verification", "node.log.tree_levels")
        ),
    ),
)


@dataclass(frozen=True, order=True)
class Arrow:
    """``importer`` imports ``target`` (a node module, or a library's top-level name)."""

    importer: str
    target: str
    why: str


def modules(root: Path, package: str = "node") -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """What each import statement of ``module`` names: ``from p import m`` names ``p.m`` when
    that is a module, else ``p``; relative imports are resolved, and
    ``importlib.import_module("literal")`` counts too (it hides an arrow, it does not remove it)."""
    is_package = path.name == "__init__.py"
    for statement in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(statement, ast.Call)
            and ast.unparse(statement.func) in ("importlib.import_module", "import_module")
            and statement.args
            and isinstance(statement.args[0], ast.Constant)
            and isinstance(statement.args[0].value, str)
        ):
            yield statement.args[0].value
        elif isinstance(statement, ast.Import):
            yield from (alias.name for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            base = statement.module or ""
            if statement.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - statement.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in statement.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in known else base


def layer_of(module: str, contract: Contract) -> Layer:
    best: tuple[int, Layer] | None = None
    for layer in contract.layers:
        for prefix in layer.prefixes:
            # "node" itself is a prefix only of "node": the package __init__, not its modules.
            matches = module == prefix or (prefix != "node" and module.startswith(prefix + "."))
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), layer)
    if best is not None:
        return best[1]
    return next(layer for layer in contract.layers if layer.name == contract.default_layer)


def _excepted(layer: Layer, target: str, contract: Contract) -> bool:
    return any(
        e.layer == layer.name and (target == e.target or target.startswith(e.target + "."))
        for e in contract.allowances
    )


def check(root: Path, contract: Contract = CONTRACT, package: str = "node") -> list[Arrow]:
    """Every import in ``root/package`` against the contract, and generated code outside its
    package: the arrows that break it, sorted (empty when the tree keeps the contract)."""
    found = modules(root, package)
    known = set(found)
    broken: set[Arrow] = set()
    strict = dict(contract.only)
    generated = contract.generated_package
    for module, path in found.items():
        layer = layer_of(module, contract)
        in_generated = module == generated or module.startswith(generated + ".")
        if not in_generated and (path.name.endswith(("_pb2.py", "_pb2_grpc.py"))):
            broken.add(Arrow(module, module, f"generated code outside {generated}"))
        for target in imported(module, path, known):
            top = target.split(".")[0]
            if module in strict and target not in strict[module]:
                broken.add(Arrow(module, target, "imports only what its allow-list names"))
            if top != package:
                if top in layer.forbidden:
                    broken.add(Arrow(module, top, f"{layer.name} never imports {top}"))
                continue
            other = layer_of(target, contract)
            if other is layer or _excepted(layer, target, contract):
                continue
            if other.name not in layer.may_import:
                broken.add(Arrow(module, target, f"{layer.name} never imports {other.name}"))
            elif other.entry_only and not layer.sees_inside and target not in other.prefixes:
                broken.add(
                    Arrow(module, target, f"only the {other.name} package itself is its entry")
                )
    return sorted(broken)


def unused_allowances(
    root: Path, contract: Contract = CONTRACT, package: str = "node"
) -> list[Allowance]:
    """Allowances no import needs any more: paid-off debt whose entry should go too."""
    found = modules(root, package)
    known = set(found)
    used = {
        allowance
        for module, path in found.items()
        for target in imported(module, path, known)
        for allowance in contract.allowances
        if allowance.layer == layer_of(module, contract).name
        and (target == allowance.target or target.startswith(allowance.target + "."))
    }
    return [a for a in contract.allowances if a not in used]
