"""The signal types this node knows, by name; the one place a new type is added."""

from __future__ import annotations

from types import MappingProxyType

from node.errors import InvalidSignalError, UnknownSignalTypeError
from node.hashing.exact_types import Md5SignalType, Sha256SignalType
from node.hashing.perceptual_types import DHashSignalType, PdqSignalType, PHashSignalType
from node.hashing.signal_type import SignalType
from node.hashing.signals import Signal

_SIGNAL_TYPES: tuple[SignalType, ...] = (
    PdqSignalType(),
    PHashSignalType(),
    DHashSignalType(),
    Md5SignalType(),
    Sha256SignalType(),
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
        raise UnknownSignalTypeError(
            f"unknown signal type {name!r}; expected one of: {', '.join(_BY_NAME)}"
        ) from None


def parse_signal(text: str) -> Signal:
    """Parse the ``TYPE:VALUE`` form (as in ``--signal pdq:f8f8...``); type name any case."""
    type_name, separator, value = text.strip().partition(":")
    if not separator:
        raise InvalidSignalError(
            f"signal {text.strip()!r} has no ':'; expected TYPE:HEX, e.g. md5:{'0' * 32}"
        )
    return get_signal_type(type_name.strip().lower()).parse(value)
