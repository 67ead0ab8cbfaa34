"""The SignalType base class and the two hashing capabilities a type can have.

Modelled on python-threatexchange's ``SignalType`` with ``FileHasher``/``BytesHasher`` mixins,
but with one instance per type in a registry instead of classmethods, and typed bytes values
instead of strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Protocol

from PIL import Image

from node.errors import InvalidSignalError, MediaError
from node.hashing.rgb import to_rgb
from node.signals import ComputedSignal, Signal
from node.signals.parsing import parse_value


class SignalType(ABC):
    """One kind of hash: how its values are written, checked and compared.

    Distance contract: two values match at ``threshold`` when ``distance(a, b) <= threshold``,
    and a threshold must lie in ``0..max_distance``. Perceptual types measure Hamming distance,
    so ``max_distance`` is their bit count. Exact types (md5, sha256) have ``max_distance`` 0:
    their distance is 0 for equal values and 1 otherwise, deliberately above every permitted
    threshold, because a bit count between two cryptographic digests means nothing.
    """

    name: ClassVar[str]
    size: ClassVar[int]
    default_threshold: ClassVar[int]
    max_distance: ClassVar[int]
    is_perceptual: ClassVar[bool]

    def parse(self, text: str) -> Signal:
        """Parse hex (any case, surrounding whitespace ignored) into a signal of this type."""
        return parse_value(self.name, text)

    def from_bytes(self, value: bytes) -> Signal:
        """Wrap a raw digest (most significant byte first) after checking its length."""
        return Signal(self.name, value)

    def check_length(self, value: bytes) -> None:
        """Raise InvalidSignalError unless ``value`` is exactly ``size`` bytes."""
        if len(value) != self.size:
            raise InvalidSignalError(
                f"{self.name} value has {len(value)} bytes; expected {self.size}"
            )

    def distance(self, a: bytes, b: bytes) -> int:
        """Distance between two values of this type (see the class docstring for its meaning)."""
        self.check_length(a)
        self.check_length(b)
        if self.is_perceptual:
            return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()
        return 0 if a == b else 1

    def __repr__(self) -> str:
        return f"<SignalType {self.name}>"


class Digest(Protocol):
    """An incremental digest (hashlib's objects): fed chunk by chunk, read once at the end."""

    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class FileHasher(SignalType):
    """Capability: hashes the bytes of any file."""

    def incremental(self) -> Digest | None:
        """A digest to feed a file in chunks, so a large file never sits in memory whole;
        None if this type can only hash the whole file at once (then ``hash_bytes``)."""
        return None

    def from_digest(self, digest: Digest) -> ComputedSignal:
        """The signal of a file fed, non-empty and whole, to ``incremental()``'s digest."""
        return ComputedSignal(self.from_bytes(digest.digest()), quality=None)

    def hash_bytes(self, data: bytes) -> ComputedSignal:
        """Hash a whole file. Empty input is refused: its digest would match every empty file."""
        if not data:
            raise MediaError(f"file is empty (0 bytes); expected content to compute {self.name}")
        return ComputedSignal(self.from_bytes(self._digest(data)), quality=None)

    @abstractmethod
    def _digest(self, data: bytes) -> bytes: ...


class ImageHasher(SignalType):
    """Capability: hashes a decoded image.

    Pass images from ``load_image``; any other Pillow image is first converted to RGB by the
    same protocol rules (``to_rgb``), but its size and completeness are then the caller's
    responsibility.
    """

    def hash_image(self, image: Image.Image) -> ComputedSignal:
        """Hash the pixels of ``image`` (converted to RGB by the protocol rules if needed)."""
        return self._hash_rgb(to_rgb(image))

    @abstractmethod
    def _hash_rgb(self, image: Image.Image) -> ComputedSignal: ...
