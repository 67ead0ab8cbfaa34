#!/usr/bin/env python3
"""Regenerate node/_proto from protos/ with the pinned grpcio-tools, or check for drift.

protoc writes absolute imports such as ``from hashfed.v1 import entry_pb2``; they are rewritten to
``node._proto.hashfed.v1`` so the generated package lives privately inside ``node``. The type
stubs of both the messages (``*_pb2.pyi``) and the services (``*_pb2_grpc.pyi``) come from
mypy-protobuf, so mypy checks every message and servicer; the two generators are pinned below and
in pyproject.toml's dev extra, since any other version writes different files.

Usage: gen_protos.py [--check]   (--check exits 1 if node/_proto differs from a fresh generation)
"""

from __future__ import annotations

import filecmp
import importlib.metadata
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "node" / "_proto"
IMPORT = re.compile(r"^from hashfed\.v1 import ", re.MULTILINE)
# The exact versions node/_proto is generated with (pyproject.toml pins the same).
PINNED = {"grpcio-tools": "1.85.1", "mypy-protobuf": "5.1.0"}
BIN = Path(sys.executable).parent


def check_pins() -> None:
    for package, version in PINNED.items():
        try:
            installed = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version:
            raise SystemExit(
                f"{package} {installed}: node/_proto is generated with {package}=={version} "
                "(pip install -e '.[dev]')"
            )


def generate(dest: Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{PROTOS}",
            f"-I{well_known}",
            f"--plugin=protoc-gen-mypy={BIN / 'protoc-gen-mypy'}",
            f"--plugin=protoc-gen-mypy_grpc={BIN / 'protoc-gen-mypy_grpc'}",
            f"--python_out={dest}",
            f"--mypy_out={dest}",
            f"--grpc_python_out={dest}",
            f"--mypy_grpc_out={dest}",
            *sources,
        ]
    )
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    for path in dest.rglob("*.py*"):
        text = path.read_text()
        path.write_text(IMPORT.sub("from node._proto.hashfed.v1 import ", text))
    for package in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        (package / "__init__.py").touch()


def tree(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def main(argv: list[str]) -> int:
    check_pins()
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if "--check" in argv:
            ours, theirs = tree(OUT), tree(fresh)
            drift = sorted(ours ^ theirs)
            drift += [
                f
                for f in sorted(ours & theirs)
                if not filecmp.cmp(OUT / f, fresh / f, shallow=False)
            ]
            if drift:
                print("node/_proto drifted from protos/ (run `make protos`):", *drift, sep="\n  ")
                return 1
            print("node/_proto matches protos/")
            return 0
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(fresh, OUT)
        print(f"generated {len(tree(OUT))} files in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
