"""Test cases read from ../shared/vectors/pdq at collection time, and cached hashing of them.

When the vectors are missing, each list holds one placeholder case; the tests also request the
``vectors_dir`` fixture, which then skips them (or fails them in CI) with the reason.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from node.hashing import ComputedSignal, hash_media
from tests.support.paths import VECTORS

PDQ_VECTORS = VECTORS / "pdq"
_MISSING = pytest.param(None, id="vectors-missing")


@dataclass(frozen=True)
class VectorRow:
    """One row of expected.csv."""

    path: str
    reference_pdq: str
    pillow_rgb_pdq: str
    quality: int


def read_rows(pdq_vectors: Path = PDQ_VECTORS) -> list[VectorRow]:
    """Every row of expected.csv."""
    with (pdq_vectors / "expected.csv").open(newline="") as handle:
        return [
            VectorRow(
                path=line["path"],
                reference_pdq=line["reference_pdq"],
                pillow_rgb_pdq=line["pdqhash_0.2.8_pillow_rgb_pdq"],
                quality=int(line["pdqhash_quality"]),
            )
            for line in csv.DictReader(handle)
        ]


def vector_rows(*, with_reference: bool = False) -> list[object]:
    """Rows of expected.csv as parameters (only those with a published reference if asked)."""
    if not (PDQ_VECTORS / "expected.csv").is_file():
        return [_MISSING]
    return [
        pytest.param(row, id=row.path)
        for row in read_rows()
        if row.reference_pdq or not with_reference
    ]


def mode_files() -> list[object]:
    """misc-images/modes/*: one picture saved in every Pillow mode."""
    folder = PDQ_VECTORS / "misc-images" / "modes"
    if not folder.is_dir():
        return [_MISSING]
    return [pytest.param(path.name, id=path.name) for path in sorted(folder.iterdir())]


@cache
def hashed(vectors_dir: Path, relative: str) -> dict[str, ComputedSignal]:
    """Every signal of one vector file by type name, computed once per test session."""
    path = vectors_dir / "pdq" / relative
    return {c.signal.type: c for c in hash_media(path.read_bytes(), name=path.name)}
