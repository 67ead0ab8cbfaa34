"""node/_proto must be exactly what `make protos` generates from protos/ (no drift)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_generated_code_matches_protos() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_generators_are_pinned_alike_in_pyproject_and_gen_protos() -> None:
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    gen_protos = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_protos)
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]

    pins = {line.split("==")[0]: line.split("==")[1] for line in dev["dev"] if "==" in line}
    assert {name: pins.get(name) for name in gen_protos.PINNED} == gen_protos.PINNED


def test_every_generated_module_has_its_typed_stub() -> None:
    generated = ROOT / "node" / "_proto" / "hashfed" / "v1"
    modules = sorted(p.stem for p in generated.glob("*_pb2*.py"))

    assert modules
    assert sorted(p.stem for p in generated.glob("*_pb2*.pyi")) == modules
