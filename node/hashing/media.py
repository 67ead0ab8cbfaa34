"""Every signal of one media file: the entry point for publishing and for lookup by media."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
from pathlib import Path, PurePath

from PIL import Image

from node.errors import MediaError
from node.hashing.decode import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    _available_formats,
    decode_if_image,
)
from node.hashing.registry import signal_types
from node.hashing.signal_type import Digest, FileHasher, ImageHasher
from node.signals import ComputedSignal

# Files above this size are refused before a byte is read (config.toml `max_file_bytes`). An
# image is decoded from memory, so what may be an image is read whole; 256 MiB is far above any
# still image a platform serves, and bounds what one `add` can make the node hold.
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024
# Chunk for files hashed as a stream (no image involved): memory stays at one chunk per file.
READ_CHUNK_BYTES = 1024 * 1024
# A file whose timestamps are this recent when the read begins may have been written within the
# same timestamp tick as a write during the read (ticks are a few ms on ext4, 1-2 s on older or
# FAT file systems), which the before/after comparison cannot see: it is read a second time and
# both reads must agree.
RECENT_WRITE_NS = 3_000_000_000
# Pillow identifies a format by the first 16 bytes alone (``Image.open`` reads exactly these
# and asks each format's ``accept``); nothing is decoded on a format none of them accepts.
_PILLOW_PREFIX_BYTES = 16

_KINDS = (
    (stat.S_ISFIFO, "named pipe (FIFO)"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISSOCK, "socket"),
)


def hash_media(
    data: bytes, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[ComputedSignal]:
    """Compute every applicable signal of one file.

    File hashes (md5, sha256) always, then image hashes (pdq, phash, dhash) if the data is an
    image. ``name`` (a file name, may be empty) decides whether undecodable data is an error:
    ``x.jpg`` must decode, ``x.mp4`` just gets its file hashes. Empty data is always refused.
    """
    if not data:
        raise MediaError(f"{name or 'input'}: file is empty (0 bytes); expected media to hash")
    # Decode before hashing the bytes so a broken image fails fast and yields nothing partial.
    image = decode_if_image(data, name=name, max_pixels=max_pixels)
    computed = [t.hash_bytes(data) for t in signal_types() if isinstance(t, FileHasher)]
    if image is not None:
        computed += [t.hash_image(image) for t in signal_types() if isinstance(t, ImageHasher)]
    return computed


def hash_media_file(
    path: Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> list[ComputedSignal]:
    """``hash_media`` of a file's bytes, read once, from a regular file that did not change.

    Refused before anything is read: what is not a regular file (a FIFO would block for ever,
    a device never ends) and a file above ``max_bytes``. Every signal comes from the same
    single read. A file that no image format accepts (by its first bytes, as Pillow decides)
    and whose name promises no image is hashed as a stream, so its size never costs memory;
    the result is exactly ``hash_media`` of its bytes. If the file's size, modification time
    or identity differ before and after the read, or it was read short or long, it changed
    while being read: its bytes may belong to neither version, so nothing is returned.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes is {max_bytes}; expected a positive byte count")
    before = _stat(path)
    if not stat.S_ISREG(before.st_mode):
        kind = next((k for test, k in _KINDS if test(before.st_mode)), "special file")
        raise MediaError(
            f"{path} is a {kind}, not a regular file; only regular files are hashed "
            "(nothing was read from it)"
        )
    if before.st_size > max_bytes:
        raise MediaError(
            f"{path} is {before.st_size:,} bytes, above the limit of {max_bytes:,} bytes "
            "(max_file_bytes in config.toml); nothing was read"
        )
    if before.st_size == 0:
        raise MediaError(f"{path.name}: file is empty (0 bytes); expected media to hash")
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open must not wait
        # for a writer (the fstat below then refuses it). Regular files ignore the flag.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc
    recent = time.time_ns() - max(before.st_mtime_ns, before.st_ctime_ns) < RECENT_WRITE_NS
    first = hashlib.sha256()
    with os.fdopen(fd, "rb", buffering=0) as f:
        if _identity(os.fstat(fd)) != _identity(before):
            raise _changed(path, "it was replaced before it could be opened")
        try:
            prefix = os.pread(fd, _PILLOW_PREFIX_BYTES, 0)
            digests = None if _may_be_image(prefix, path.name) else _digests()
            if digests is None:
                data = _read_whole(f, before.st_size)
                read = len(data)
                first.update(data)
            else:
                read = _read_streaming(f, before.st_size, [*digests, (None, first)])
            again = _sha256_of(fd, before.st_size) if recent and read == before.st_size else None
        except OSError as exc:
            raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc
        after = os.fstat(fd)
    if again is not None and again != first.digest():
        raise _changed(path, "it was written to just before the read, and two reads differ")
    if read != before.st_size:
        more = "+" if read > before.st_size else ""
        raise _changed(path, f"{before.st_size:,} bytes when the read began, {read:,}{more} read")
    if _version(after) != _version(before):
        raise _changed(path, "its size, modification or change time differ after the read")
    try:
        now = os.stat(path)
    except OSError:
        now = None
    if now is None or _identity(now) != _identity(before):
        raise _changed(path, "the path names another file after the read")
    if digests is None:
        return hash_media(data, name=path.name, max_pixels=max_pixels)
    return [t.from_digest(d) for t, d in digests]


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except OSError as exc:
        raise MediaError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _version(st: os.stat_result) -> tuple[int, int, int, int, int]:
    # ctime as well: it also moves when a writer restores the old mtime (touch -r, rsync -t).
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _changed(path: Path, why: str) -> MediaError:
    return MediaError(
        f"{path}: file changed while being read ({why}); nothing was hashed. Hash it again "
        "once nothing is writing to it"
    )


def _may_be_image(prefix: bytes, name: str) -> bool:
    """Whether ``hash_media`` could treat these bytes as an image (decode it or refuse it)."""
    if PurePath(name).suffix.lower() in IMAGE_EXTENSIONS:
        return True
    for fmt in _available_formats():
        _, accept = Image.OPEN[fmt]
        if accept is None:
            return True
        try:
            accepted = accept(prefix)
        except Exception:  # a plugin that cannot judge this prefix: let the decoder decide
            return True
        if accepted and not isinstance(accepted, str):  # a str is Pillow's "no, but warn"
            return True
    return False


def _digests() -> list[tuple[FileHasher, Digest]] | None:
    """One incremental digest per file hasher, in registry order; None if one has none."""
    pairs = []
    for t in signal_types():
        if isinstance(t, FileHasher):
            digest = t.incremental()
            if digest is None:
                return None
            pairs.append((t, digest))
    return pairs


def _read_whole(f: io.FileIO, expected: int) -> bytes:
    """Up to ``expected + 1`` bytes (one more reveals a file that grew), in one read(2) when
    the kernel allows, so the common case holds the file once and copies nothing."""
    parts: list[bytes] = []
    total = 0
    while total <= expected:
        part = f.read(expected + 1 - total)
        if not part:
            break
        parts.append(part)
        total += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _sha256_of(fd: int, size: int) -> bytes:
    """SHA-256 of the file's first ``size`` bytes, read again from offset 0."""
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(READ_CHUNK_BYTES, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return digest.digest()


def _read_streaming(
    f: io.FileIO, expected: int, digests: list[tuple[FileHasher | None, Digest]]
) -> int:
    """Feed every digest the same chunks; the count read, stopping once past ``expected``."""
    total = 0
    while total <= expected:
        chunk = f.read(READ_CHUNK_BYTES)
        if not chunk:
            break
        total += len(chunk)
        for _, digest in digests:
            digest.update(chunk)
    return total
