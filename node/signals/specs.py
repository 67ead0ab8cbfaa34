"""What each signal type is, as data: the one table a new type is added to first."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from node.errors import InvalidSignalError, UnknownSignalTypeError


@dataclass(frozen=True)
class SignalSpec:
    """One signal type's shape and matching rule.

    Two values match at ``threshold`` when their distance is at most ``threshold``, which lies
    in ``0..max_distance``. Perceptual types measure Hamming distance, so ``max_distance`` is
    their bit count; exact types have ``max_distance`` 0 (only equal values match).
    """

    name: str
    size: int  # bytes of a value
    is_perceptual: bool
    default_threshold: int

    @property
    def max_distance(self) -> int:
        return 8 * self.size if self.is_perceptual else 0

    def check_length(self, value: bytes) -> None:
        """Raise InvalidSignalError unless ``value`` is exactly ``size`` bytes."""
        if len(value) != self.size:
            raise InvalidSignalError(
                f"{self.name} value has {len(value)} bytes; expected {self.size}"
            )


# PDQ quality below this marks a near-featureless image (flat colour, tiny, blurred) whose
# hash collides with many unrelated images; Meta and python-threatexchange refuse to match
# on such hashes, and hashfed refuses to publish them.
MIN_PUBLISH_QUALITY = 50


# Perceptual types first: that is the order in which they are listed and matched everywhere.
SIGNAL_SPECS: tuple[SignalSpec, ...] = (
    # Meta's recommended match threshold for PDQ (also python-threatexchange's default).
    SignalSpec("pdq", size=32, is_perceptual=True, default_threshold=31),
    # 10 of 64 bits, as the project settled for both types. On the PDQ bridge vectors edits stay
    # within 4 bits and unrelated images are over 20, so 10 leaves margin on both sides.
    SignalSpec("phash", size=8, is_perceptual=True, default_threshold=10),
    SignalSpec("dhash", size=8, is_perceptual=True, default_threshold=10),
    SignalSpec("md5", size=16, is_perceptual=False, default_threshold=0),
    SignalSpec("sha256", size=32, is_perceptual=False, default_threshold=0),
)
_BY_NAME = MappingProxyType({spec.name: spec for spec in SIGNAL_SPECS})


def signal_spec(name: str) -> SignalSpec:
    """The spec of the type called exactly ``name`` (lower case, as stored and signed)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownSignalTypeError(
            f"unknown signal type {name!r}; expected one of: {', '.join(_BY_NAME)}"
        ) from None
