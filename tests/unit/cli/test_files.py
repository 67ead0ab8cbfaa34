"""The one atomic file writer: whole file or none, no overwrite without force."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from node.cli.files import write_atomically
from node.errors import InvalidInputError


def test_writes_a_new_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    write_atomically(target, "{}\n", force=False)
    assert target.read_text(encoding="utf-8") == "{}\n"
    assert os.listdir(tmp_path) == ["bundle.json"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_refuses_an_existing_file_without_force(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    target.write_text("keep me", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="exists already; refusing to overwrite"):
        write_atomically(target, "new", force=False)
    assert target.read_text(encoding="utf-8") == "keep me"
    assert os.listdir(tmp_path) == ["bundle.json"]


def test_force_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "bundle.json"
    target.write_text("old", encoding="utf-8")
    write_atomically(target, "new", force=True)
    assert target.read_text(encoding="utf-8") == "new"
    assert os.listdir(tmp_path) == ["bundle.json"]


def test_a_folder_or_a_missing_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="is a folder"):
        write_atomically(tmp_path, "x", force=True)
    with pytest.raises(InvalidInputError, match="cannot write"):
        write_atomically(tmp_path / "no" / "such" / "file", "x", force=False)
    assert os.listdir(tmp_path) == []
