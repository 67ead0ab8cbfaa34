"""What this node has signed for its own origin, kept where the database cannot silently lose it.

A node that lost committed transactions (``hashfed.db-wal`` deleted after a crash, an older
copy of ``hashfed.db`` restored) would otherwise start at the older state and sign a second
history under the same key; its peers would then hold two validly signed checkpoints that
cannot both be true, and record equivocation evidence against an honest member.

**The signed-state file** ``HOME/signed-head`` holds the newest checkpoint this node signed
for its own origin: the C2SP signed note exactly as signed (size and root, verifiable with
the node's own key; nothing else is trusted in it). It is replaced atomically (temporary file,
fsync, rename, fsync of the folder) right *after* each publish commits. The crash windows:

- killed before the commit: database and file both hold the previous state;
- killed after the commit, before the rename: the file lags the database by that one append.
  The check (node.service.own_log_check) passes (the database's tree at the file's size has
  the file's root) and the next open or publish catches the file up;
- killed while writing the temporary file: the rename did not happen, the old file is whole.

So the file can only lag the database by the last append, never lead it: when it is ahead of
the database (or names another root at its size), the database lost what this node signed.
Power loss too: publishes commit with ``synchronous = FULL`` (:meth:`Store.durable`), so the
commit is on disk before the file is written. Only a disk that lies about fsync can leave the
file ahead of the database; that is refused as well (peers may hold what it lost).
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from node.errors import SignedStateError, StoreError, VerificationError
from node.home import HomePaths
from node.log.checkpoint import SignedCheckpoint
from node.log.keys import VerifierKey

# The own log's logger, as before the move: operators and `hashfed recover` filter on it.
log = logging.getLogger("hashfed.own_log")

RECOVER_ADVICE = "run `hashfed recover --peer NAME` to rebuild it from a peer that holds it"

UNCONFIRMED_ADVICE = (
    "signed-head is missing; run `hashfed sync` once so a peer confirms this node's newest "
    "checkpoint (or `hashfed recover --peer NAME`)"
)


def file_error(paths: HomePaths, exc: OSError, doing: str) -> StoreError:
    """One line for a signed-state file that cannot be written (full or read-only disk)."""
    return StoreError(
        f"cannot {doing} the signed-state file {paths.signed_head}: "
        f"{exc.strerror or exc}; nothing was signed. Free space on that disk or make "
        f"{paths.signed_head.parent} writable by this user, then retry"
    )


def read_head(paths: HomePaths, key: VerifierKey) -> tuple[str | None, SignedCheckpoint | None]:
    """(exact text, verified checkpoint) of the signed-state file, or (None, None) if absent.

    A file that does not verify with our own key is :class:`SignedStateError`: it is not
    something this node wrote, and guessing would risk exactly the fork it exists to prevent.
    """
    try:
        text = paths.signed_head.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        raise SignedStateError(
            f"cannot read the signed-state file {paths.signed_head}: {exc}"
        ) from None
    try:
        signed = SignedCheckpoint.open(text, key)
    except VerificationError as exc:
        raise SignedStateError(
            f"the signed-state file {paths.signed_head} does not hold a checkpoint signed by "
            f"this node's key {key} ({exc}); expected the newest checkpoint this node signed. "
            f"Restore it from a backup, or {RECOVER_ADVICE}"
        ) from None
    return text, signed


@contextmanager
def _file_lock(paths: HomePaths) -> Iterator[None]:
    """Serialise writers of the file across processes (a publish and a sync hook, say)."""
    fd = os.open(paths.signed_head_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself must survive a power loss
    finally:
        os.close(folder)


def current_text(paths: HomePaths) -> str | None:
    """The file's text unverified, or None when absent: for telling "missing" from "damaged"."""
    try:
        return paths.signed_head.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def advance(paths: HomePaths, before: str | None, note: str) -> bool:
    """Replace the file with ``note`` if it still holds ``before`` (None: still absent).

    Compare-and-swap, so that a slower writer never overwrites what another wrote meanwhile:
    a newer publish from another process, or a peer's note that blocks publishing.
    """
    with _file_lock(paths):
        if current_text(paths) != before:
            return False
        _write_atomic(paths.signed_head, note)
        return True


def after_publish(paths: HomePaths, before: str | None, note: str) -> None:
    """:func:`advance` once a publish committed. A file that cannot be written (disk full, a
    read-only folder) does not undo the publish: the file lags, which is safe, and the log
    says so, since it then protects only up to the size it still holds."""
    try:
        advance(paths, before, note)
    except OSError as exc:
        log.error(
            "published, but cannot update the signed-state file %s (%s); it protects this "
            "node's log only up to the size it holds until it can be written",
            paths.signed_head,
            exc,
        )


def overwrite(paths: HomePaths, note: str) -> None:
    """Replace the file whatever it holds: only for a peer's note, signed by our key, that
    proves this node signed more than the database holds (it must win over a lagging file)."""
    with _file_lock(paths):
        _write_atomic(paths.signed_head, note)
