"""Saved match-index snapshots: a restarted node answers lookups in seconds, not a rebuild.

Layout, in the node's home::

    index-snapshot/
      manifest.json            the current snapshot (replaced atomically, last)
      g-<ms>-<hex>/            one generation: one .npy file per index array
        00-pdq.words.npy
        00-pdq.segment0.rows.npy
        ...
      .lock                    serialises writers; readers hold it shared while opening files

``manifest.json`` (``format`` "hashfed-index-snapshot", ``version`` 1) names the generation
folder and lists, per signal type, every array of the index's ``state()`` with its file, dtype,
shape, byte size and SHA-256 of the array bytes (``arrays``), its 0-d settings as JSON values
with their dtype (``values``: counts, thresholds, the index kind; no file each); and ``store``,
the store state the arrays reflect:

- ``rows``: per signal type, the rows indexed (signal rows are dense per type);
- ``retraction_cursor`` / ``trust_cursor``: the newest retraction rowid and trust event id the
  live flags include;
- ``checkpoints``: every origin's newest checkpoint, ``{origin: {"size", "root"}}`` (root hex);
- ``samples``: per type, SHA-256 over (row, origin, idx, value) of 66 rows spread over the
  indexed range (first, last and 64 between), so a snapshot from another store with the same
  origins and checkpoints but rows in another order is refused.

Arrays are written with ``numpy.save(allow_pickle=False)`` and read with
``numpy.load(allow_pickle=False)``; large ones are memory-mapped copy-on-write (pages come
from the page cache; the index never writes into them, its live bits are copied). Nothing here
unpickles anything.

**Writing** (:func:`write_snapshot`): the arrays go into a temporary folder, each file fsynced,
the folder renamed to its generation name and the parent fsynced; then ``manifest.json`` is
written to a temporary file, fsynced and renamed over the old one; older generations are then
removed. A crash at any point leaves either the old snapshot or the new one, never a mix.

**Reading** (:func:`read_snapshot`): format, version, names, dtypes, shapes and sizes must
match the manifest, and every array's SHA-256 is recomputed on two threads. Measured on the
2-core benchmark VM: 0.35-1.4 GB/s per core (it varies with the host), 0.2 s for the 93 MB of a
1M-hash index, 0.9-2.2 s for the 902 MB of a 10M one (reading without the hash: 0.03 s). A full
hash rather than size plus a sampled check, because a flipped bit in a bucket table would
otherwise silently lose matches; truncation and torn writes alone would be caught by sizes and
the write protocol. :func:`check_against_store` then compares ``store`` with the
database (:class:`node.service.match_index.MatchIndex` does both and falls back to a rebuild,
logging why, on any failure).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from node.index.state import State
from node.store.store import Store

log = logging.getLogger("hashfed.index")

FORMAT = "hashfed-index-snapshot"
VERSION = 1
FOLDER_NAME = "index-snapshot"
MANIFEST = "manifest.json"
_LOCK = ".lock"
_SAMPLES = 64
# Arrays at least this large are memory-mapped when read, smaller ones read into memory.
_MMAP_BYTES = 1 << 20
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class SnapshotError(Exception):
    """A snapshot that must not be used: missing, corrupt, or not this store's."""


@dataclass(frozen=True)
class StoreMark:
    """The store state a snapshot reflects."""

    rows: dict[str, int]
    retraction_cursor: int
    trust_cursor: int
    checkpoints: dict[str, tuple[int, bytes]]  # origin -> (size, root)
    samples: dict[str, str] = field(default_factory=dict)  # type -> SHA-256 hex

    def to_json(self) -> dict[str, object]:
        return {
            "rows": dict(sorted(self.rows.items())),
            "retraction_cursor": self.retraction_cursor,
            "trust_cursor": self.trust_cursor,
            "checkpoints": {
                origin: {"size": size, "root": root.hex()}
                for origin, (size, root) in sorted(self.checkpoints.items())
            },
            "samples": dict(sorted(self.samples.items())),
        }

    @classmethod
    def from_json(cls, data: object) -> StoreMark:
        try:
            assert isinstance(data, dict)
            rows = {str(k): _nat(v) for k, v in data["rows"].items()}
            checkpoints = {
                str(origin): (_nat(cp["size"]), bytes.fromhex(cp["root"]))
                for origin, cp in data["checkpoints"].items()
            }
            samples = {str(k): str(v) for k, v in data["samples"].items()}
            return cls(
                rows,
                _nat(data["retraction_cursor"]),
                _nat(data["trust_cursor"]),
                checkpoints,
                samples,
            )
        except (AssertionError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"manifest store section is malformed: {exc!r}") from exc


def _nat(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def sample_rows(count: int) -> list[int]:
    """The rows whose (row, origin, idx, value) a snapshot fingerprints: first, last, 64 between."""
    if count <= 0:
        return []
    return sorted({0, count - 1, *((count * i) // _SAMPLES for i in range(_SAMPLES))})


def sample_digest(store: Store, signal_type: str, count: int) -> str:
    wanted = sample_rows(count)
    found = store.signals.signal_sample(signal_type, wanted)
    if [r for r, _, _, _ in found] != wanted:
        return "missing-rows"
    h = hashlib.sha256()
    for row, origin, idx, value in found:
        h.update(f"{row}\0{origin}\0{idx}\0".encode())
        h.update(value)
    return h.hexdigest()


def mark_of(store: Store, rows: Mapping[str, int], retraction: int, trust: int) -> StoreMark:
    """The mark for an index holding ``rows`` with the given cursors, read from ``store``."""
    return StoreMark(
        rows=dict(rows),
        retraction_cursor=retraction,
        trust_cursor=trust,
        checkpoints=store.log.newest_checkpoints(),
        samples={t: sample_digest(store, t, n) for t, n in rows.items() if n},
    )


def check_against_store(store: Store, mark: StoreMark) -> str | None:
    """Why ``mark`` does not describe a past state of ``store``, or None if it does."""
    with store.transaction_read():
        for signal_type, count in mark.rows.items():
            have = store.signals.signal_count(signal_type)
            if count > have:
                return f"snapshot has {count} {signal_type} rows, the store only {have}"
        if mark.retraction_cursor > store.signals.retraction_cursor():
            return "snapshot's retraction cursor is ahead of the store"
        if mark.trust_cursor > store.members.trust_cursor():
            return "snapshot's trust cursor is ahead of the store"
        for origin, (size, root) in mark.checkpoints.items():
            held = store.log.checkpoint_at(origin, size)
            if held is None:
                return f"the store holds no checkpoint of {origin} at size {size}"
            if held.root != root:
                return f"the store's checkpoint of {origin} at size {size} has another root"
        for signal_type, count in mark.rows.items():
            if count and mark.samples.get(signal_type) != sample_digest(store, signal_type, count):
                return f"sampled {signal_type} rows differ from the store's"
    return None


@dataclass(frozen=True)
class WriteReport:
    folder: Path
    bytes: int
    files: int
    seconds: float


@contextlib.contextmanager
def _locked(folder: Path, exclusive: bool) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _contiguous(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    return array if array.flags.c_contiguous else array.copy(order="C")


def _setting_to_json(array: npt.NDArray[np.generic]) -> dict[str, object]:
    if array.dtype.kind not in "iufU":
        raise ValueError(f"cannot record a {array.dtype} setting")
    return {"dtype": array.dtype.str, "value": array.item()}


def _setting_from_json(name: str, spec: object) -> npt.NDArray[np.generic]:
    if not isinstance(spec, dict) or not isinstance(spec.get("dtype"), str):
        raise SnapshotError(f"setting {name} is malformed")
    dtype = np.dtype(spec["dtype"])
    value = spec.get("value")
    if dtype.kind not in "iufU" or isinstance(value, bool):
        raise SnapshotError(f"setting {name} has an unexpected dtype {dtype}")
    expected = {"U": (str,), "f": (float, int), "i": (int,), "u": (int,)}[dtype.kind]
    if not isinstance(value, expected):
        raise SnapshotError(f"setting {name} has an unexpected value {value!r}")
    return np.array(value, dtype=dtype)


def _digest(array: npt.NDArray[np.generic]) -> str:
    data = _contiguous(array)
    if data.ndim == 0 or data.dtype.kind not in "biuf":
        return hashlib.sha256(data.tobytes()).hexdigest()
    return hashlib.sha256(data.reshape(-1).view(np.uint8).data).hexdigest()


def write_snapshot(folder: Path, mark: StoreMark, states: Mapping[str, State]) -> WriteReport:
    """Write ``states`` (per signal type, an index ``state()``) as the current snapshot."""
    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    generation = f"g-{time.time_ns() // 1_000_000}-{secrets.token_hex(4)}"
    temp = folder / f".tmp-{generation}"
    temp.mkdir()
    try:
        indexes: dict[str, object] = {}
        total = files = 0
        for position, (signal_type, state) in enumerate(sorted(states.items())):
            if not _NAME.match(signal_type):
                raise ValueError(f"signal type {signal_type!r} cannot name a file")
            arrays: dict[str, object] = {}
            values: dict[str, object] = {}
            for name, array in sorted(state.items()):
                if not _NAME.match(name):
                    raise ValueError(f"state key {name!r} cannot name a file")
                if array.ndim == 0:  # a setting: kept in the manifest, not a file of its own
                    values[name] = _setting_to_json(array)
                    continue
                file_name = f"{position:02d}-{signal_type}.{name}.npy"
                data = _contiguous(array)
                with open(temp / file_name, "wb") as out:
                    np.save(out, data, allow_pickle=False)
                    out.flush()
                    os.fsync(out.fileno())
                arrays[name] = {
                    "file": file_name,
                    "dtype": data.dtype.str,
                    "shape": list(data.shape),
                    "bytes": int(data.nbytes),
                    "sha256": _digest(data),
                }
                total += int(data.nbytes)
                files += 1
            indexes[signal_type] = {"arrays": arrays, "values": values}
        _fsync_dir(temp)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_ms": time.time_ns() // 1_000_000,
            "generation": generation,
            "store": mark.to_json(),
            "indexes": indexes,
        }
        with _locked(folder, exclusive=True):
            os.rename(temp, folder / generation)
            _fsync_dir(folder)
            staged = folder / f".tmp-{generation}.json"
            with open(staged, "w", encoding="utf-8") as out:
                json.dump(manifest, out, indent=1, sort_keys=True)
                out.flush()
                os.fsync(out.fileno())
            os.replace(staged, folder / MANIFEST)
            _fsync_dir(folder)
            for old in folder.iterdir():
                if old.name != generation and old.name.startswith("g-"):
                    shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return WriteReport(folder, total, files, time.perf_counter() - started)


def read_snapshot(folder: Path, *, verify: bool = True) -> tuple[StoreMark, dict[str, State]]:
    """The snapshot in ``folder``, its arrays checked against the manifest; SnapshotError if not.

    ``verify=False`` skips the SHA-256 of the array bytes (sizes, dtypes and shapes are still
    checked); it is for measuring what the hash costs, not for use.
    """
    try:
        with _locked(folder, exclusive=False):
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise SnapshotError("manifest.json is not a hashfed index snapshot manifest")
            if manifest.get("version") != VERSION:
                raise SnapshotError(
                    f"snapshot format version {manifest.get('version')!r} is not {VERSION}"
                )
            mark = StoreMark.from_json(manifest.get("store"))
            generation = manifest.get("generation")
            if not isinstance(generation, str) or not generation.startswith("g-"):
                raise SnapshotError("manifest names no generation folder")
            base = folder / generation
            jobs: list[tuple[str, str, dict[str, object]]] = []
            settings: dict[str, State] = {}
            indexes = manifest.get("indexes")
            if not isinstance(indexes, dict):
                raise SnapshotError("manifest lists no indexes")
            for signal_type, entry in indexes.items():
                arrays = entry.get("arrays") if isinstance(entry, dict) else None
                values = entry.get("values") if isinstance(entry, dict) else None
                if not isinstance(arrays, dict) or not isinstance(values, dict):
                    raise SnapshotError(f"manifest entry for {signal_type} is malformed")
                jobs.extend((signal_type, name, spec) for name, spec in arrays.items())
                settings[signal_type] = {n: _setting_from_json(n, v) for n, v in values.items()}
            # Opening (and memory-mapping) every file happens under the shared lock, so a writer
            # cannot remove this generation half way; hashing needs no lock.
            loaded = [(t, n, s, _open_array(base, n, s)) for t, n, s in jobs]
    except FileNotFoundError as exc:
        raise SnapshotError(f"snapshot file missing: {exc.filename}") from exc
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot unreadable: {exc}") from exc
    if verify:
        order = sorted(loaded, key=lambda job: -job[3].nbytes)
        with ThreadPoolExecutor(max_workers=2) as pool:
            digests = list(pool.map(lambda job: _digest(job[3]), order))
        for (signal_type, name, spec, _), digest in zip(order, digests, strict=True):
            if digest != spec.get("sha256"):
                raise SnapshotError(f"{signal_type} array {name} fails its SHA-256 check")
    states: dict[str, State] = {t: dict(v) for t, v in settings.items()}
    for signal_type, name, _, array in loaded:
        states.setdefault(signal_type, {})[name] = array
    return mark, states


def _open_array(base: Path, name: str, spec: dict[str, object]) -> npt.NDArray[np.generic]:
    file_name = spec.get("file")
    if not isinstance(file_name, str) or not _NAME.match(file_name):
        raise SnapshotError(f"array {name} has no valid file name")
    path = base / file_name
    expected = spec.get("bytes")
    mmap = isinstance(expected, int) and expected >= _MMAP_BYTES
    # Copy-on-write, not read-only: nothing writes into these arrays, but compiled kernels
    # (numba) specialise on writability, and a read-only array would mean a second compile.
    array: npt.NDArray[np.generic] = np.load(
        path, allow_pickle=False, mmap_mode="c" if mmap else None
    )
    if (
        array.dtype.str != spec.get("dtype")
        or list(array.shape) != spec.get("shape")
        or array.nbytes != expected
    ):
        raise SnapshotError(f"array {name} does not have the dtype, shape or size listed")
    return array
