"""Real storage trouble for tests: a small tmpfs that can fill up, read-only bind mounts, and the
`hashfed` command as a real process (so a traceback would show on its stderr)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT


def hashfed_process(
    home: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``hashfed ARGS --home HOME`` in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "node.cli.main", *args, "--home", str(home)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single ``error: ...`` line a failed command printed, with no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], check=False, capture_output=True, text=True)


def _umount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], check=False, capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "8m") mounted at ``where``; the test is skipped, with the
    reason, where this machine does not let us mount one (no root, no CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a {size} tmpfs at {where}: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _umount(where)


@contextlib.contextmanager
def read_only_view(folder: Path, where: Path) -> Iterator[Path]:
    """``folder`` bind-mounted read-only at ``where`` (skipped where mounting is not allowed)."""
    where.mkdir(parents=True, exist_ok=True)
    bound = _mount("--bind", str(folder), str(where))
    if bound.returncode != 0:
        pytest.skip(f"cannot bind-mount {folder}: {bound.stderr.strip()}")
    try:
        remounted = _mount("-o", "remount,bind,ro", str(where))
        if remounted.returncode != 0:
            pytest.skip(f"cannot make the bind mount read-only: {remounted.stderr.strip()}")
        yield where
    finally:
        _umount(where)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system holding ``folder`` until at most ``leave`` bytes are free."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        size = 0
        step = 1 << 20
        while step >= 4096:
            want = shutil.disk_usage(folder).free - leave
            if want < step:
                step //= 2
                continue
            try:
                os.posix_fallocate(f.fileno(), size, step)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                step //= 2
                continue
            size += step
    assert shutil.disk_usage(folder).free <= max(leave, 0) + 8192
    return filler


def damage_a_page(database: Path, table: str = "entries") -> int:
    """Overwrite one b-tree leaf page of ``table`` with junk, as a failing disk might; returns
    the page number. Checkpoints the WAL first so the page is in the main file."""
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = [
        int(p)
        for (p,) in conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            [table],
        )
    ]
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    page = pages[len(pages) // 2]
    with open(database, "r+b") as f:
        f.seek((page - 1) * page_size)
        f.write(b"\x5a" * page_size)
    return page
