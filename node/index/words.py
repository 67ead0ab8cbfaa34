"""Hash values as rows of 64-bit words, the layout every index stores and compares.

Each hash of ``bits`` bits is held as ``bits // 64`` native-endian uint64 words: XOR plus
``np.bitwise_count`` then gives the Hamming distance with no unpacking. The byte order of the
view never matters because stored values and queries go through the same view.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Words = npt.NDArray[np.uint64]
WORD_BITS = 64


def word_count(bits: int) -> int:
    """Words per hash; the layout needs whole 64-bit words."""
    if bits <= 0 or bits % WORD_BITS:
        raise ValueError(f"bits must be a positive multiple of {WORD_BITS}, got {bits}")
    return bits // WORD_BITS


def to_words(values: npt.NDArray[np.uint8] | Sequence[bytes], bits: int) -> Words:
    """``(n, bits // 8)`` uint8 array or a sequence of ``bits // 8``-byte strings -> ``(n, w)``."""
    width = bits // 8
    if isinstance(values, np.ndarray):
        if values.dtype != np.uint8 or values.ndim != 2 or values.shape[1] != width:
            raise ValueError(
                f"values must be a (n, {width}) uint8 array, got {values.dtype} {values.shape}"
            )
        raw = np.ascontiguousarray(values)
    else:
        for value in values:
            if not isinstance(value, bytes | bytearray | memoryview):
                raise TypeError(f"values must be bytes, got {type(value).__name__}")
            if len(value) != width:
                raise ValueError(f"every value must be {width} bytes, got {len(value)}")
        raw = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), width)
    return raw.view(np.uint64)


def query_to_words(query: bytes, bits: int) -> Words:
    """One query as a ``(w,)`` word array."""
    if not isinstance(query, bytes | bytearray | memoryview) or len(query) != bits // 8:
        raise ValueError(f"query must be {bits // 8} bytes")
    return np.frombuffer(bytes(query), dtype=np.uint64)


def queries_to_words(queries: npt.NDArray[np.uint8] | Sequence[bytes], bits: int) -> Words:
    """Many queries as ``(q, w)``; same accepted forms as stored values."""
    return to_words(queries, bits)
