"""SQLite failures become :class:`~node.errors.StoreError` at the store boundary, in one place.

A full disk, a read-only file system or a damaged page surfaces as ``sqlite3.OperationalError``
or ``sqlite3.DatabaseError`` from whichever statement meets it first: any read, any write, a
``COMMIT``. Catching them at each call site would miss the next new query, so
:func:`guard_store_errors` wraps every method of the store and of each repository class once,
when its module is imported. The CLI then exits with StoreError's code (8) and the gRPC servers
answer ``UNAVAILABLE``, each with one line that says what failed, where, and what to do.

Two sqlite3 errors pass through unchanged because they are not faults of the storage:
``IntegrityError`` (a constraint the caller's data broke: a bug or a race to be fixed where it
happens) and ``ProgrammingError`` (misuse, such as a closed connection).
"""

from __future__ import annotations

import functools
import inspect
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from node.errors import StoreError

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep them in the low byte.
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

# Less free space than this where SQLite failed to create or grow a file: call it full.
FULL_BELOW_BYTES = 64 * 1024

# Words in the message, for errors raised without a result code.
_BY_TEXT = (
    ("database or disk is full", SQLITE_FULL),
    ("readonly database", SQLITE_READONLY),
    ("malformed", SQLITE_CORRUPT),
    ("file is not a database", SQLITE_NOTADB),
    ("database is locked", SQLITE_BUSY),
    ("disk i/o error", SQLITE_IOERR),
    ("unable to open database", SQLITE_CANTOPEN),
)


def is_fault(exc: BaseException) -> bool:
    """Whether ``exc`` is a storage fault that must become a StoreError."""
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError
    )


def fault_code(exc: sqlite3.Error) -> int | None:
    """The primary SQLite result code of ``exc``, from the exception or from its message."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF
    text = str(exc).lower()
    for words, found in _BY_TEXT:
        if words in text:
            return found
    return None


def store_error(path: Path, exc: sqlite3.Error, doing: str = "") -> StoreError:
    """One line: what failed (SQLite's own words), where (the database), what to do."""
    code = fault_code(exc)
    what = (f"{doing}: " if doing else "") + (str(exc) or type(exc).__name__)
    folder = path.parent
    if code in (SQLITE_IOERR, SQLITE_CANTOPEN, None):
        # SQLite reports a full or read-only disk met while creating its -wal/-shm files as a
        # plain I/O or open error; the file system says which it was.
        code = _cause_on_disk(folder) or code
    if code == SQLITE_FULL:
        advice = (
            f"the disk holding {folder} is full, nothing was written; free space there and retry"
        )
    elif code == SQLITE_READONLY:
        advice = (
            "the database is read-only (file, folder or file system), nothing was written; "
            f"make {path} and its -wal/-shm files writable by this user, or remount {folder} "
            "read-write"
        )
    elif code in (SQLITE_CORRUPT, SQLITE_NOTADB):
        advice = (
            "the file is damaged; run `hashfed check` to see what, then restore a backup or "
            "rebuild this node's log from a peer (`hashfed recover --peer NAME`)"
        )
    elif code in (SQLITE_BUSY, SQLITE_LOCKED):
        advice = "another process holds it for too long; retry when it is done"
    elif code == SQLITE_IOERR:
        advice = f"the operating system failed a read or write; check the disk holding {folder}"
    elif code == SQLITE_CANTOPEN:
        advice = f"check that {folder} exists and this user may read and write it"
    elif code == SQLITE_NOMEM:
        advice = "SQLite ran out of memory; free memory and retry"
    else:
        advice = "the database cannot be used as it is; run `hashfed check`"
    return StoreError(f"database {path}: {what}: {advice}")


def _cause_on_disk(folder: Path) -> int | None:
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    if stat.f_flag & os.ST_RDONLY:
        return SQLITE_READONLY
    if stat.f_bavail * stat.f_frsize < FULL_BELOW_BYTES:
        return SQLITE_FULL
    return None


class _HasPath(Protocol):
    path: Path


def _plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def method(self: _HasPath, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not is_fault(exc):
                raise
            raise store_error(self.path, exc) from exc

    return method


def _generator(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    @functools.wraps(fn)
    def method(self: _HasPath, *args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from fn(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if not is_fault(exc):
                raise
            raise store_error(self.path, exc) from exc

    return method


class _GuardedContext(AbstractContextManager[Any]):
    """A context manager whose own enter and exit (BEGIN, COMMIT, PRAGMA) map faults."""

    def __init__(self, inner: AbstractContextManager[Any], path: Path) -> None:
        self._inner = inner
        self._path = path

    def __enter__(self) -> Any:
        try:
            return self._inner.__enter__()
        except sqlite3.DatabaseError as exc:
            if not is_fault(exc):
                raise
            raise store_error(self._path, exc) from exc

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        try:
            return self._inner.__exit__(kind, value, tb)
        except sqlite3.DatabaseError as exc:
            if exc is value or not is_fault(exc):
                raise
            raise store_error(self._path, exc) from exc


def _context(fn: Callable[..., AbstractContextManager[Any]]) -> Callable[..., Any]:
    plain = _plain(fn)

    @functools.wraps(fn)
    def method(self: _HasPath, *args: Any, **kwargs: Any) -> _GuardedContext:
        return _GuardedContext(plain(self, *args, **kwargs), self.path)

    return method


def guard_store_errors(cls: type) -> None:
    """Wrap every method ``cls`` has (its own and its mixins') so that storage faults leave
    it as StoreError. Applied once to the store and to each repository class; methods added
    later are covered too."""
    seen: set[str] = set()
    for klass in cls.__mro__:
        if klass is object:
            continue
        for name, fn in vars(klass).items():
            if name in seen or (name.startswith("__") and name.endswith("__")):
                continue
            seen.add(name)
            if not inspect.isfunction(fn):
                continue  # properties, static and class methods: none touch the database
            inner = getattr(fn, "__wrapped__", None)
            if inspect.isgeneratorfunction(fn):
                wrapped = _generator(fn)
            elif inner is not None and inspect.isgeneratorfunction(inner):
                wrapped = _context(fn)  # a @contextmanager method
            else:
                wrapped = _plain(fn)
            setattr(cls, name, wrapped)
