"""Signal values: a hash with the name of its type, as it travels between nodes."""

from __future__ import annotations

from dataclasses import dataclass

from node.signals.specs import signal_spec


@dataclass(frozen=True)
class Signal:
    """One hash value of a signal type in :data:`~node.signals.SIGNAL_SPECS`.

    ``value`` is the raw digest, most significant byte first, so ``value.hex()`` is the same text
    the reference tools print. Construction checks the type name and the length, so a ``Signal``
    that exists is always well formed whoever built it (parser, store, protobuf decoder).
    """

    type: str
    value: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.value, bytes):
            # bytearray/memoryview would make the frozen dataclass unhashable or mutable.
            raise TypeError(f"Signal.value must be bytes, not {type(self.value).__name__}")
        signal_spec(self.type).check_length(self.value)

    @property
    def hex(self) -> str:
        """The value as lower-case hex, most significant byte first."""
        return self.value.hex()

    def __str__(self) -> str:
        return f"{self.type}:{self.hex}"


@dataclass(frozen=True)
class ComputedSignal:
    """A signal computed from media, with the hasher's confidence in it.

    ``quality`` is PDQ's 0..100 quality (publishing needs at least ``MIN_PUBLISH_QUALITY``);
    ``None`` for types that have no notion of quality.
    """

    signal: Signal
    quality: int | None
