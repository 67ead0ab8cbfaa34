#!/usr/bin/env python3
"""Regenerate node/_proto from protos/ with the pinned grpcio-tools, or check for drift.

protoc writes absolute imports such as ``from hashfed.v1 import entry_pb2``; they are rewritten to
``node._proto.hashfed.v1`` so the generated package lives privately inside ``node``.

Usage: gen_protos.py [--check]   (--check exits 1 if node/_proto differs from a fresh generation)
"""

from __future__ import annotations

import filecmp
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


def generate(dest: Path) -> None:
    sources = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "protoc",
            f"-I{PROTOS}",
            f"-I{well_known}",
            f"--python_out={dest}",
            f"--pyi_out={dest}",
            f"--grpc_python_out={dest}",
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
