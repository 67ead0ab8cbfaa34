"""Hash many files on every core: a process pool running exactly ``hash_media`` per file.

Each worker reads the file itself (paths cross the process boundary, not megabytes of bytes)
and runs the same ``hash_path`` the in-process path runs, so the signals are identical by
construction, byte for byte. Results come back in input order. Failure is also the sequential
one: the first file in input order that cannot be hashed raises its ``MediaError`` (same type,
same message naming the file), and the remaining work is cancelled.

Pool start-up: workers must not re-import the hashing stack (Pillow, numpy, pdqhash, imagehash
and the SciPy FFT that pHash imports on first use, ~0.3 s of CPU). A single-threaded caller
(the CLI) forks: workers inherit everything already imported and start in milliseconds. A
threaded caller (a gRPC server, anything with threads whose locks a fork could copy held)
gets workers forked from a forkserver that imports the stack once per process. Each worker
then hashes file after file. Inputs below ``min_parallel`` files are hashed in-process: a pool
costs more than it saves on one or two images.

Memory: a worker decodes one image at a time, and PDQ on the full resolution peaks near
33 bytes per pixel (about 2.1 GB at the 64 Mpx default limit), so the worker count is capped
at what the machine's available memory holds at the configured ``max_pixels`` worst case.
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path

from node.errors import HashfedError, MediaError
from node.hashing.decode import DEFAULT_MAX_PIXELS
from node.hashing.media import DEFAULT_MAX_FILE_BYTES, hash_media_file
from node.signals import ComputedSignal

# Below this many files the pool's start-up costs about what a second core saves. Measured on
# 1024x768 JPEGs (~50 ms of CPU each): a forked pool of 2 costs ~60 ms of CPU in all (mostly the
# workers' first-touch page faults) and ~0.1 s of wall time. A forkserver (threaded callers)
# also pays the hashing imports once per process on its first start, about 1 s.
MIN_PARALLEL_FILES = 4

# Peak memory of hashing one image, per pixel: PDQ computes luma in float64 on the full
# resolution (measured about 2.1 GB at 64 Mpx), plus the decoded RGB image.
PEAK_BYTES_PER_PIXEL = 34
# A worker's baseline (interpreter, numpy, Pillow, pdqhash, imagehash, SciPy).
WORKER_BASE_BYTES = 150 * 1024 * 1024

# Modules the forkserver imports once, so forked workers start with them loaded. "__main__" (the
# caller's script, multiprocessing's default preload) spares each worker re-importing it;
# scipy.fftpack is what imagehash.phash imports lazily on its first call.
_PRELOAD = ["__main__", "node.hashing.parallel", "scipy.fftpack"]


def hash_path(
    path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> list[ComputedSignal]:
    """Read one file once and compute every applicable signal (``hash_media_file``: regular
    files only, at most ``max_bytes``, refused if it changed while being read)."""
    return hash_media_file(path, max_pixels=max_pixels, max_bytes=max_bytes)


def hash_paths(
    paths: Sequence[Path],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    min_parallel: int = MIN_PARALLEL_FILES,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> list[list[ComputedSignal]]:
    """``[hash_path(p, max_bytes=max_bytes) for p in paths]``, on ``workers`` processes.

    ``workers`` defaults to ``default_workers(max_pixels)``: every usable core, capped by
    available memory. With one worker, or fewer than ``min_parallel`` files, everything runs
    in this process. Raises the first failing file's ``MediaError`` in input order, exactly as
    the sequential loop would.
    """
    if max_pixels < 1:
        raise ValueError(f"max_pixels is {max_pixels}; expected a positive pixel count")
    count = min(len(paths), default_workers(max_pixels) if workers is None else workers)
    if count <= 1 or len(paths) < min_parallel:
        return [hash_path(p, max_pixels=max_pixels, max_bytes=max_bytes) for p in paths]
    # chunksize 1: per-file IPC (a path out, five small signals back) is ~0.1 ms against tens of
    # ms of hashing, and single files keep the workers balanced when image sizes differ.
    work = partial(_hash_in_worker, max_pixels=max_pixels, max_bytes=max_bytes)
    results: list[list[ComputedSignal]] = []
    try:
        with ProcessPoolExecutor(
            max_workers=count, mp_context=_context(), initializer=_keep_heap
        ) as pool:
            # Frozen objects are invisible to the garbage collector, so forked workers never
            # traverse (and copy-on-write) the caller's whole heap: ~6% less CPU in one
            # measurement with the CLI's imports loaded. map() submits everything, which forks
            # every worker.
            gc.freeze()
            try:
                outcomes = pool.map(work, paths, chunksize=1)
            finally:
                gc.unfreeze()
            for outcome in outcomes:
                if isinstance(outcome, MediaError):
                    pool.shutdown(wait=True, cancel_futures=True)  # the rest is not needed
                    raise outcome
                results.append(outcome)
        return results
    except BrokenProcessPool as exc:
        raise HashfedError(
            f"a hashing worker process died while hashing {len(paths)} files ({exc}); "
            f"out of memory? Free memory or lower max_pixels in config.toml"
        ) from exc


# glibc mallopt parameters (malloc.h). A worker allocates and frees the same few arrays per image
# (the decoded RGB, PDQ's float64 luma: 2-6 MB each at 1024x768). With glibc's defaults a young
# process returns that memory to the kernel after every image (mmap/munmap, heap trimming) and
# page-faults it back on the next: measured on 500 1024x768 JPEGs, 31 s of worker CPU (7 s of it
# in the kernel) against 23 s with the heap kept, i.e. +35% per image. Keeping up to 256 MB of
# freed heap per worker is well inside WORKER_BASE_BYTES plus one image's peak.
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_KEEP = (
    (_M_MMAP_THRESHOLD, 32 * 1024 * 1024),
    (_M_TRIM_THRESHOLD, 256 * 1024 * 1024),
    (_M_TOP_PAD, 64 * 1024 * 1024),
)


def _keep_heap() -> None:
    """Worker initializer: keep freed memory for the next image (glibc only; else a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        for param, value in _KEEP:
            libc.mallopt(param, value)
    except (OSError, AttributeError):  # musl or another libc: its defaults stay
        return


def default_workers(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    """Usable cores, capped so that every worker can hold a ``max_pixels`` image at once."""
    cores = _usable_cores()
    available = _available_memory()
    if available is None:
        return cores
    per_worker = WORKER_BASE_BYTES + PEAK_BYTES_PER_PIXEL * max_pixels
    return max(1, min(cores, available // per_worker))


def _hash_in_worker(
    path: Path, *, max_pixels: int, max_bytes: int
) -> list[ComputedSignal] | MediaError:
    try:
        return hash_path(path, max_pixels=max_pixels, max_bytes=max_bytes)
    except MediaError as exc:
        # Returned, not raised: the pool would chain a remote traceback to a raised one, and
        # the caller must see the very exception the in-process path raises.
        exc.__cause__ = exc.__context__ = exc.__traceback__ = None
        return exc


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _available_memory() -> int | None:
    """Memory a new worker can use: MemAvailable (free plus reclaimable cache) on Linux, lowered
    to the container's cgroup (v2 or v1) headroom, limit minus usage, when there is a limit;
    None (no cap) where none of them is readable."""
    limits: list[int] = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit != "max" and int(limit) < 1 << 60:  # v1 writes "no limit" as ~2**63
                limits.append(max(0, int(limit) - int(Path(usage_file).read_text())))
        except (OSError, ValueError):
            pass
    return min(limits) if limits else None


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "grpc" not in sys.modules:
        # A single-threaded caller (the CLI): forked workers inherit the loaded hashing stack,
        # start in milliseconds and are this process's children (their CPU time is accounted).
        # Import what they would otherwise each import lazily, once, before forking them.
        for name in _PRELOAD:
            if name != "__main__":
                importlib.import_module(name)
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        # Threads (Python's or gRPC core's) may hold locks at fork time: fork a clean,
        # single-threaded server instead, which imports the hashing stack once.
        context = multiprocessing.get_context("forkserver")
        # Only takes effect before this process's forkserver starts; harmless afterwards.
        context.set_forkserver_preload(_PRELOAD)
        return context
    return multiprocessing.get_context("spawn")
