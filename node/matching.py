"""The in-memory match index for every signal type, kept in step with the store.

Built from the store once, then followed incrementally: appends made by this process are applied
directly; :meth:`MatchIndex.refresh` picks up what other processes appended (new signal rows and
new retractions) by reading only what is newer than what it has seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.errors import InvalidInputError
from node.hashing import Signal, SignalType, get_signal_type, signal_types
from node.index import BitIndex, ExactIndex, Hit
from node.store.store import AppendResult, IndexedSignal, Store

_Index = BitIndex | ExactIndex


@dataclass(frozen=True)
class TypedHit:
    type: str
    row: int
    distance: int


class MatchIndex:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._indexes: dict[str, _Index] = {t.name: _new_index(t) for t in signal_types()}
        self._retraction_cursor = 0
        self._trust_cursor = 0
        self.refresh()

    def refresh(self) -> None:
        """Catch up with rows appended and retractions made since the last look, by anyone."""
        for name, index in self._indexes.items():
            self._add(self._store.signals_since(name, len(index)))
        dead, self._retraction_cursor = self._store.retracted_since(self._retraction_cursor)
        self.apply(AppendResult((), tuple(dead)))
        changes, self._trust_cursor = self._store.trust_changes_since(self._trust_cursor)
        for origin, trusted in changes.items():
            # A removed member's rows stop matching; re-adding it revives all but retracted ones.
            live: dict[tuple[str, bool], list[int]] = {}
            for signal_type, row, retracted in self._store.origin_signal_rows(origin):
                live.setdefault((signal_type, trusted and not retracted), []).append(row)
            for (signal_type, is_live), rows in live.items():
                target = self._indexes.get(signal_type)
                if target is not None:
                    target.set_live([r for r in rows if r < len(target)], is_live)

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
                index.append([s.value for s in fresh], first_row=fresh[0].row)

    def search(self, signal: Signal, threshold: int | None) -> list[TypedHit]:
        signal_type = get_signal_type(signal.type)
        limit = signal_type.default_threshold if threshold is None else threshold
        if not signal_type.is_perceptual:
            limit = 0
        elif not 0 <= limit <= signal_type.max_distance:
            raise InvalidInputError(
                f"threshold {limit} for {signal.type} is outside 0..{signal_type.max_distance}"
            )
        hits: list[Hit] = self._indexes[signal.type].search(signal.value, limit)
        return [TypedHit(signal.type, h.row, h.distance) for h in hits]

    def memory_bytes(self) -> dict[str, int]:
        return {name: index.memory_bytes() for name, index in self._indexes.items()}

    def sizes(self) -> dict[str, int]:
        return {name: len(index) for name, index in self._indexes.items()}


def _new_index(signal_type: SignalType) -> _Index:
    if signal_type.is_perceptual:
        return BitIndex(signal_type.size * 8, max_threshold=signal_type.default_threshold)
    return ExactIndex(signal_type.size * 8)
