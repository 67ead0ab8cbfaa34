"""The one way a hashfed command writes a file: whole or not at all, never over a file by
accident."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from node.errors import InvalidInputError


def write_atomically(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path``: a reader sees no file or the whole file (a temporary file in
    the same folder, fsynced, then moved into place), and an existing file is replaced only
    with ``force``."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if force:
            if path.is_dir():
                raise InvalidInputError(f"{path} is a folder; give a file name")
            tmp.replace(path)
        else:
            try:
                os.link(tmp, path)  # fails if path exists: no check-then-write race
            except FileExistsError:
                raise InvalidInputError(
                    f"{path} exists already; refusing to overwrite it (--force replaces it)"
                ) from None
        _sync_folder(folder)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    """Make the new name durable too; some file systems cannot open a folder, which is fine."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
