"""Which index each signal type gets, and the distance a search of a type uses."""

from __future__ import annotations

from node.errors import InvalidInputError
from node.index import BitIndex, ExactIndex
from node.index.state import State
from node.service.index_snapshot import SnapshotError
from node.signals import SignalSpec, signal_spec

_Index = BitIndex | ExactIndex


def _limit(type_name: str, threshold: int | None) -> int:
    """The distance a search of ``type_name`` uses: its default, or ``threshold`` checked."""
    signal_type = signal_spec(type_name)
    if not signal_type.is_perceptual:
        return 0
    limit = signal_type.default_threshold if threshold is None else threshold
    if not 0 <= limit <= signal_type.max_distance:
        raise InvalidInputError(
            f"threshold {limit} for {type_name} is outside 0..{signal_type.max_distance}"
        )
    return limit


def _new_index(signal_type: SignalSpec) -> _Index:
    if signal_type.is_perceptual:
        return BitIndex(signal_type.size * 8, max_threshold=signal_type.default_threshold)
    return ExactIndex(signal_type.size * 8)


def _from_state(signal_type: SignalSpec, state: State) -> _Index:
    """The index a state describes, if it is the kind and shape this version would build."""
    expected = _new_index(signal_type)
    index: _Index
    if isinstance(expected, BitIndex):
        index = BitIndex.from_state(state)
        if index.max_threshold != expected.max_threshold:
            raise SnapshotError(
                f"{signal_type.name} snapshot indexes thresholds up to {index.max_threshold}, "
                f"this version {expected.max_threshold}"
            )
    else:
        index = ExactIndex.from_state(state)
    if index.bits != expected.bits:
        raise SnapshotError(f"{signal_type.name} snapshot holds {index.bits}-bit hashes")
    return index
