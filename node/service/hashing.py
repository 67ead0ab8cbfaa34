"""Hashing media under this node's limits (file size, pixels).

node.hashing (Pillow, pdqhash, imagehash, PyAV) is imported when media is hashed, not when a
node opens: a lookup by signal never needs it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from node.home import Config, max_file_bytes
from node.results import FileHashes

if TYPE_CHECKING:
    from node.signals import ComputedSignal


class MediaHasher:
    """Every signal of a file or of bytes, as publishing and matching both need them."""

    def __init__(self, config: Config) -> None:
        self._config = config

    def _limits(self) -> dict[str, int]:
        max_pixels = self._config.max_pixels
        return {} if max_pixels is None else {"max_pixels": max_pixels}

    def hash_file(self, path: Path) -> FileHashes:
        """Every signal of one file, read once (``node.hashing.hash_path``: regular files of at
        most ``max_file_bytes``, refused if the file changed while it was read)."""
        from node.hashing import hash_path

        limit = max_file_bytes(self._config)
        return FileHashes(str(path), tuple(hash_path(path, max_bytes=limit, **self._limits())))

    def hash_files(self, paths: Sequence[Path]) -> list[FileHashes]:
        """``[self.hash_file(p) for p in paths]`` on every core (``node.hashing.hash_paths``):
        same signals, same order, and the first bad file's MediaError, as the loop would."""
        from node.hashing import hash_paths

        hashed = hash_paths(paths, max_bytes=max_file_bytes(self._config), **self._limits())
        return [FileHashes(str(p), tuple(s)) for p, s in zip(paths, hashed, strict=True)]

    def hash_bytes(self, content: bytes, name: str) -> list[ComputedSignal]:
        from node.hashing import hash_media

        return hash_media(content, name=name, **self._limits())
