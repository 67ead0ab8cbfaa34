"""The in-memory match index for every signal type, kept in step with the store.

Started from a saved snapshot (:mod:`node.service.index_snapshot`) when one is present and checked
against the store, else built from the store; then followed incrementally: :meth:`refresh`
picks up what anyone appended (new signal rows, new retractions, trust changes) by reading only
what is newer than what it has seen, all in one consistent read of the store.

Once started, rows are appended to the indexes without folding them into their buckets: a
worker thread folds them (numpy's sorts release the GIL), so a sync's node thread stores the
next group meanwhile. Until folded, rows sit in each index's tail, which every search scans:
answers are exact and include every row from the moment it is appended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from node.errors import InvalidInputError
from node.index import BitIndex, Hit, warm_up
from node.index.fold_worker import FoldWorker
from node.index.state import State
from node.service.index_kinds import _from_state, _Index, _limit, _new_index
from node.service.index_snapshot import (
    SnapshotError,
    StoreMark,
    WriteReport,
    check_against_store,
    mark_of,
    read_snapshot,
    write_snapshot,
)
from node.signals import SIGNAL_SPECS, Signal, signal_spec
from node.store.rows import AppendResult, IndexedSignal
from node.store.store import Store

log = logging.getLogger("hashfed.index")


# While serving, a snapshot is saved once this many rows were added since the last one...
SNAPSHOT_EVERY_ROWS = 500_000
# ...or this long after the last one if anything changed at all.
SNAPSHOT_EVERY_S = 15 * 60.0


@dataclass(frozen=True)
class TypedHit:
    type: str
    row: int
    distance: int


@dataclass(frozen=True)
class StartReport:
    """How the index started: ``source`` is "snapshot" or "store"; ``reason`` why not snapshot."""

    source: str
    seconds: float
    caught_up_rows: int
    reason: str = ""


@dataclass
class SnapshotCapture:
    """What a snapshot write needs, taken on the node thread; :meth:`write` runs on any thread.

    The index arrays are views of data that is never modified in place, except the live bits,
    which ``state()`` copies, so the node may go on serving and appending meanwhile.
    """

    folder: Path
    mark: StoreMark
    states: dict[str, State]

    def write(self) -> WriteReport:
        report = write_snapshot(self.folder, self.mark, self.states)
        log.info(
            "index snapshot written: %s rows, %.0f MB in %.2f s",
            sum(self.mark.rows.values()),
            report.bytes / 1e6,
            report.seconds,
        )
        return report


class MatchIndex:
    def __init__(self, store: Store, snapshot_folder: Path | None = None) -> None:
        """Start from the snapshot in ``snapshot_folder`` if it fits ``store``, else build."""
        started = time.perf_counter()
        self._store = store
        self._snapshot_folder = snapshot_folder
        self._retraction_cursor = 0
        self._trust_cursor = 0
        # Rows committed by this node, kept from memory until the next refresh (hold()).
        self._held: dict[str, tuple[int, list[bytes], int]] = {}
        # Folds run on the worker once started (see the module docstring); at start, here.
        self._fold_here = True
        self._folds = FoldWorker(self._bit_indexes)
        reason = "no snapshot folder given" if snapshot_folder is None else ""
        loaded = snapshot_folder is not None and self._load_snapshot(snapshot_folder)
        if isinstance(loaded, str):
            reason = loaded
        if loaded is True:
            # Rows the snapshot holds count as saved; a build from the store saved nothing.
            self._saved_rows = sum(self.sizes().values())
            self.refresh()
            caught_up = sum(self.sizes().values()) - self._saved_rows
            source = "snapshot"
        else:
            self._indexes = {t.name: _new_index(t) for t in SIGNAL_SPECS}
            self._retraction_cursor = self._trust_cursor = 0
            self.refresh(fresh=True)
            caught_up = sum(self.sizes().values())
            self._saved_rows = 0
            source = "store"
        # A build from the store saved nothing: its cursors differ from these (-1).
        self._saved_cursors = self._cursors() if source == "snapshot" else (-1, -1)
        self._saved_at = time.monotonic()
        self._fold_here = False
        self.start = StartReport(source, time.perf_counter() - started, caught_up, reason)
        if source == "snapshot":
            log.info(
                "match index loaded from snapshot in %.2f s (%d newer rows caught up)",
                self.start.seconds,
                caught_up,
            )
        elif snapshot_folder is not None:
            log.info(
                "match index built from the store in %.2f s (%d rows); snapshot not used: %s",
                self.start.seconds,
                caught_up,
                reason,
            )

    def _load_snapshot(self, folder: Path) -> bool | str:
        """True if the snapshot was loaded; else why not (the caller rebuilds)."""
        if not (folder / "manifest.json").exists():
            return "no snapshot"
        try:
            mark, states = read_snapshot(folder)
            problem = check_against_store(self._store, mark)
            if problem is not None:
                raise SnapshotError(problem)
            indexes: dict[str, _Index] = {}
            for signal_type in SIGNAL_SPECS:
                state = states.get(signal_type.name)
                if state is None:
                    raise SnapshotError(f"snapshot has no {signal_type.name} index")
                index = _from_state(signal_type, state)
                if len(index) != mark.rows.get(signal_type.name, 0):
                    raise SnapshotError(
                        f"{signal_type.name} index holds {len(index)} rows, the manifest says "
                        f"{mark.rows.get(signal_type.name, 0)}"
                    )
                indexes[signal_type.name] = index
        except SnapshotError as exc:
            log.warning("index snapshot in %s not used, rebuilding from the store: %s", folder, exc)
            return str(exc)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("index snapshot in %s not used, rebuilding from the store: %s", folder, exc)
            return f"snapshot arrays inconsistent: {exc}"
        self._indexes = indexes
        self._retraction_cursor = mark.retraction_cursor
        self._trust_cursor = mark.trust_cursor
        return True

    def refresh(self, *, fresh: bool = False) -> None:
        """Catch up with rows appended and retractions made since the last look, by anyone.

        One read transaction, so new rows and the retractions of them are seen together.
        ``fresh`` (a build from nothing): rows start live, so trusted origins need no pass.
        """
        with self._store.transaction_read():
            self._take_held()
            for signal_type in SIGNAL_SPECS:
                index = self._indexes[signal_type.name]
                values, count = self._store.signals.signal_values_since(
                    signal_type.name, len(index), signal_type.size
                )
                if count:
                    array = np.frombuffer(values, dtype=np.uint8).reshape(count, signal_type.size)
                    self._append(index, array)
            dead, self._retraction_cursor = self._store.signals.retracted_since(
                self._retraction_cursor
            )
            self.apply(AppendResult((), tuple(dead)))
            changes, self._trust_cursor = self._store.members.trust_changes_since(
                self._trust_cursor
            )
            for origin, trusted in changes.items():
                if fresh and trusted:
                    continue
                # A removed member's rows stop matching; re-adding revives all but retracted ones.
                live: dict[tuple[str, bool], list[int]] = {}
                for signal_type_name, row, retracted in self._store.signals.origin_signal_rows(
                    origin
                ):
                    live.setdefault((signal_type_name, trusted and not retracted), []).append(row)
                for (signal_type_name, is_live), rows in live.items():
                    target = self._indexes.get(signal_type_name)
                    if target is not None:
                        target.set_live([r for r in rows if r < len(target)], is_live)
        self._fold_later()

    def hold(self, appended: Sequence[tuple[str, int, int, bytes]]) -> None:
        """Keep signal rows this node has just committed, ``(type, first row, count, values end
        to end)``, to add at the next :meth:`refresh` instead of reading them back.

        Only rows that continue exactly from what the index holds (and what is already kept)
        are kept; anything else is dropped with what was kept of its type, and the store
        supplies it instead. At most ``refresh_when_behind``'s backlog is kept this way.
        """
        for name, first_row, count, values in appended:
            index = self._indexes.get(name)
            if index is None:
                continue  # a type this version cannot match
            start, chunks, rows = self._held.get(name, (len(index), [], 0))
            if start + rows != first_row or len(values) != count * signal_spec(name).size:
                self._held.pop(name, None)
                continue
            chunks.append(values)
            self._held[name] = (start, chunks, rows + count)

    def _take_held(self) -> None:
        held, self._held = self._held, {}
        for name, (start, chunks, rows) in held.items():
            index = self._indexes[name]
            if rows and start == len(index):
                size = signal_spec(name).size
                array = np.frombuffer(b"".join(chunks), dtype=np.uint8).reshape(rows, size)
                self._append(index, array)

    def _append(self, index: _Index, array: npt.NDArray[np.uint8]) -> None:
        if isinstance(index, BitIndex):
            index.append(array, first_row=len(index), fold=self._fold_here)
        else:
            index.append(array, first_row=len(index))

    def _fold_later(self) -> None:
        """Have the worker thread fold every index whose tail is due."""
        if not self._fold_here and any(i.fold_due() for _, i in self._bit_indexes()):
            self._folds.request()

    def _bit_indexes(self) -> list[tuple[str, BitIndex]]:
        return [(n, i) for n, i in self._indexes.items() if isinstance(i, BitIndex)]

    def settle(self) -> None:
        """Wait for the worker's folds, then fold here whatever is still due: afterwards every
        index's tail is at most its ``tail_rows`` (what a snapshot holds)."""
        self._folds.join()
        for _, index in self._bit_indexes():
            index.fold()

    def close(self) -> None:
        """Wait for a fold in progress (nothing is lost without: the rows are in the store)."""
        self._folds.join()

    def refresh_when_behind(self, min_rows: int, max_rows: int) -> bool:
        """:meth:`refresh` once the store holds, of some signal type, at least as many rows
        not yet indexed as are indexed (but at least ``min_rows``, at most ``max_rows``);
        True if it did.

        A large sync stores its entries in many small groups. Catching up after every group
        would fold each into the buckets as it comes, which costs several times one bulk fold
        (each fold rewrites the growing segment); catching up as the backlog doubles keeps the
        total near twice one fold. Rows not indexed yet are still found by every search: the
        searching facade calls :meth:`refresh` first.
        """
        for signal_type in SIGNAL_SPECS:
            indexed = len(self._indexes[signal_type.name])
            behind = self._store.signals.signal_count(signal_type.name) - indexed
            if behind >= max(min_rows, min(indexed, max_rows)):
                self.refresh()
                return True
        return False

    def apply(self, result: AppendResult) -> None:
        self._add(list(result.added))
        by_type: dict[str, list[int]] = {}
        for signal_type, row in result.retracted:
            by_type.setdefault(signal_type, []).append(row)
        for signal_type, rows in by_type.items():
            index = self._indexes.get(signal_type)
            if index is not None:
                index.set_live([r for r in rows if r < len(index)], False)

    def _add(self, signals: list[IndexedSignal]) -> None:
        by_type: dict[str, list[IndexedSignal]] = {}
        for s in signals:
            by_type.setdefault(s.type, []).append(s)
        for signal_type, items in by_type.items():
            index = self._indexes.get(signal_type)
            if index is None:
                continue  # a type this version cannot match; its rows stay in the store
            fresh = [s for s in items if s.row >= len(index)]
            if fresh:
                values = [s.value for s in fresh]
                if isinstance(index, BitIndex):
                    index.append(values, first_row=fresh[0].row, fold=self._fold_here)
                else:
                    index.append(values, first_row=fresh[0].row)
        self._fold_later()

    def search(self, signal: Signal, threshold: int | None) -> list[TypedHit]:
        limit = _limit(signal.type, threshold)
        hits: list[Hit] = self._indexes[signal.type].search(signal.value, limit)
        return [TypedHit(signal.type, h.row, h.distance) for h in hits]

    def search_many(self, signals: Sequence[Signal], threshold: int | None) -> list[list[TypedHit]]:
        """``[self.search(s, threshold) for s in signals]``, in one batched call per type.

        Each answer is in the order ``search`` gives ((distance, row) for perceptual types,
        row for exact ones). A threshold outside a type's range is refused before anything is
        searched, as ``search`` would refuse it at that signal.
        """
        positions: dict[str, list[int]] = {}
        for i, signal in enumerate(signals):
            positions.setdefault(signal.type, []).append(i)
        limits = {name: _limit(name, threshold) for name in positions}
        found: list[list[TypedHit]] = [[] for _ in signals]
        for name, where in positions.items():
            index = self._indexes[name]
            queries = [signals[i].value for i in where]
            if isinstance(index, BitIndex):
                # Arrays, not Hit objects: a crowd of near-duplicates can answer one query
                # with 100,000 hits, and each is turned into a TypedHit right here anyway.
                answers = index.search_many_arrays(queries, limits[name])
                for i, (rows, distances) in zip(where, answers, strict=True):
                    if len(rows):
                        found[i] = [
                            TypedHit(name, r, d)
                            for r, d in zip(rows.tolist(), distances.tolist(), strict=True)
                        ]
            else:
                for i, hits in zip(where, index.search_many(queries, limits[name]), strict=True):
                    found[i] = [TypedHit(name, h.row, h.distance) for h in hits]
        return found

    def warm_up(self) -> bool:
        """Load the search kernel now rather than at the first search (``node.index.warm_up``)."""
        if not any(isinstance(i, BitIndex) and i.kernel_allowed for i in self._indexes.values()):
            return False
        # Even a small index: once loaded, the kernel serves it, and a server whose index
        # grows past KERNEL_MIN_ROWS never makes a client wait for numba.
        return warm_up()

    def memory_bytes(self) -> dict[str, int]:
        return {name: index.memory_bytes() for name, index in self._indexes.items()}

    def sizes(self) -> dict[str, int]:
        return {name: len(index) for name, index in self._indexes.items()}

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot_due(
        self, every_rows: int = SNAPSHOT_EVERY_ROWS, every_s: float = SNAPSHOT_EVERY_S
    ) -> bool:
        """Whether enough changed (rows, or anything after ``every_s``) to save a snapshot."""
        if self._snapshot_folder is None:
            return False
        added = sum(self.sizes().values()) - self._saved_rows
        if added >= every_rows:
            return True
        changed = added > 0 or self._saved_cursors != self._cursors()
        return changed and time.monotonic() - self._saved_at >= every_s

    def _cursors(self) -> tuple[int, int]:
        return self._retraction_cursor, self._trust_cursor

    def capture_snapshot(self) -> SnapshotCapture:
        """Catch up, then take what a snapshot needs (cheap: views and a copy of live bits).

        Call on the thread that owns the node; write the result with
        :meth:`SnapshotCapture.write` on any thread.
        """
        if self._snapshot_folder is None:
            raise InvalidInputError("this match index has no snapshot folder")
        with self._store.transaction_read():
            self.refresh()
            self.settle()
            sizes = self.sizes()
            mark = mark_of(self._store, sizes, self._retraction_cursor, self._trust_cursor)
            states = {name: index.state() for name, index in self._indexes.items()}
        self._saved_rows = sum(sizes.values())
        self._saved_cursors = self._cursors()
        self._saved_at = time.monotonic()
        return SnapshotCapture(self._snapshot_folder, mark, states)

    def save_snapshot(self) -> WriteReport:
        """Capture and write a snapshot now, on this thread."""
        return self.capture_snapshot().write()
