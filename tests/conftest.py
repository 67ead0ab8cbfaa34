"""Shared fixtures: where the reference vectors live, and how their absence is reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.paths import VECTORS


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    """``../shared/vectors`` beside the project root.

    Developers without the shared folder get a skip that says where it was looked for; CI
    (``CI`` set) must have it, so there its absence fails the run instead of hiding tests.
    """
    if not VECTORS.is_dir():
        message = f"reference vectors not found at {VECTORS} (expected ../shared/vectors)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide them")
        pytest.skip(message)
    return VECTORS


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A freshly initialised node home for origin ``acme.example`` (real keys, real SQLite)."""
    from node.core import Node

    where = tmp_path / "home"
    Node.init(where, "acme.example").close()
    return where


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real generated pictures on disk: originals, edited copies and an unrelated one."""
    from node.testing import sample_media

    folder = tmp_path_factory.mktemp("media")
    files: dict[str, Path] = {}
    for seed in range(3):
        image = sample_media.generate(seed)
        files[f"original-{seed}"] = folder / f"original-{seed}.png"
        files[f"original-{seed}"].write_bytes(sample_media.png_bytes(image))
        for name, transform in sample_media.TRANSFORMS.items():
            key = f"copy-{seed}-{name.split()[0].lower()}"
            files[key] = folder / f"{key}.jpg"
            files[key].write_bytes(sample_media.jpeg_bytes(transform(image)))
    files["unrelated"] = folder / "unrelated.jpg"
    files["unrelated"].write_bytes(sample_media.jpeg_bytes(sample_media.generate(99_999)))
    return files
