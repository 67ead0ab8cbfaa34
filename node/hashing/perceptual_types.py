"""Perceptual image hashes: PDQ (256 bit) and imagehash's pHash and dHash (64 bit).

All three hash the same RGB image (see ``node.hashing.decode`` for how it is produced), so a
file yields the same values on every node.
"""

from __future__ import annotations

from abc import abstractmethod

import imagehash
import numpy as np
import pdqhash
from PIL import Image

from node.hashing.signal_type import ImageHasher
from node.signals import ComputedSignal


class PdqSignalType(ImageHasher):
    """Meta's PDQ, computed by the ``pdqhash`` bindings of the reference C++ code."""

    name = "pdq"
    size = 32
    # Meta's recommended match threshold for PDQ (also python-threatexchange's default).
    default_threshold = 31
    max_distance = 256
    is_perceptual = True

    def _hash_rgb(self, image: Image.Image) -> ComputedSignal:
        bits, quality = pdqhash.compute(np.asarray(image))
        # pdqhash returns the bits most significant first, the order in which the reference
        # tools print hex, so packing them big-endian gives the reference byte string.
        value = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
        return ComputedSignal(self.from_bytes(value), quality=int(quality))


class _ImagehashSignalType(ImageHasher):
    """A 64-bit hash from the ``imagehash`` package; value = the hex imagehash prints."""

    size = 8
    # 10 of 64 bits, as the project settled for both types. On the PDQ bridge vectors edits stay
    # within 4 bits and unrelated images are over 20, so 10 leaves margin on both sides.
    default_threshold = 10
    max_distance = 64
    is_perceptual = True

    def _hash_rgb(self, image: Image.Image) -> ComputedSignal:
        digest = self._compute(image)
        return ComputedSignal(self.from_bytes(bytes.fromhex(str(digest))), quality=None)

    @abstractmethod
    def _compute(self, image: Image.Image) -> object:
        """The imagehash.ImageHash of ``image`` (its ``str`` is the hex value)."""


class PHashSignalType(_ImagehashSignalType):
    """imagehash.phash: DCT-based perceptual hash, 8x8 bits."""

    name = "phash"

    def _compute(self, image: Image.Image) -> object:
        return imagehash.phash(image, hash_size=8)


class DHashSignalType(_ImagehashSignalType):
    """imagehash.dhash: horizontal gradient hash, 8x8 bits."""

    name = "dhash"

    def _compute(self, image: Image.Image) -> object:
        return imagehash.dhash(image, hash_size=8)
