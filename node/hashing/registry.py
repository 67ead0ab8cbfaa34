"""The hashers this node has, one per signal spec in :data:`node.signals.SIGNAL_SPECS`.

The spec table says what a type is; a hasher says how to compute it. Every spec has exactly
one hasher here and the two must agree (checked when this module loads), so a new type is
added to the table first and then given its hasher.
"""

from __future__ import annotations

from types import MappingProxyType

from node.hashing.exact_types import Md5SignalType, Sha256SignalType
from node.hashing.perceptual_types import DHashSignalType, PdqSignalType, PHashSignalType
from node.hashing.signal_type import SignalType
from node.signals import SIGNAL_SPECS, SignalSpec, signal_spec


def _registered(hashers: tuple[SignalType, ...]) -> tuple[SignalType, ...]:
    """``hashers`` in the table's order, refused unless each matches its spec exactly."""
    by_name = {hasher.name: hasher for hasher in hashers}
    missing = [spec.name for spec in SIGNAL_SPECS if spec.name not in by_name]
    extra = sorted(set(by_name) - {spec.name for spec in SIGNAL_SPECS})
    if missing or extra or len(by_name) != len(hashers):
        raise RuntimeError(
            f"signal hashers do not match the spec table: missing {missing}, unknown {extra}"
        )
    for spec in SIGNAL_SPECS:
        if spec_of(by_name[spec.name]) != spec:
            raise RuntimeError(f"hasher {spec.name} disagrees with its spec {spec}")
    return tuple(by_name[spec.name] for spec in SIGNAL_SPECS)


def spec_of(hasher: SignalType) -> SignalSpec:
    """The spec a hasher declares, to compare with the table."""
    spec = SignalSpec(hasher.name, hasher.size, hasher.is_perceptual, hasher.default_threshold)
    if spec.max_distance != hasher.max_distance:
        raise RuntimeError(
            f"hasher {hasher.name} has max_distance {hasher.max_distance}; "
            f"its spec implies {spec.max_distance}"
        )
    return spec


_SIGNAL_TYPES = _registered(
    (PdqSignalType(), PHashSignalType(), DHashSignalType(), Md5SignalType(), Sha256SignalType())
)
_BY_NAME = MappingProxyType({signal_type.name: signal_type for signal_type in _SIGNAL_TYPES})


def signal_types() -> tuple[SignalType, ...]:
    """Every registered signal type, perceptual ones first."""
    return _SIGNAL_TYPES


def get_signal_type(name: str) -> SignalType:
    """The registered type called exactly ``name`` (lower case, as stored and signed)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        signal_spec(name)  # raises, in the one wording of "unknown signal type"
        raise
