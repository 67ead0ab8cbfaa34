"""Every signal of one media file: the entry point for publishing and for lookup by media."""

from __future__ import annotations

from node.errors import MediaError
from node.hashing.decode import DEFAULT_MAX_PIXELS, decode_if_image
from node.hashing.registry import signal_types
from node.hashing.signal_type import FileHasher, ImageHasher
from node.hashing.signals import ComputedSignal


def hash_media(
    data: bytes, *, name: str = "", max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[ComputedSignal]:
    """Compute every applicable signal of one file.

    File hashes (md5, sha256) always, then image hashes (pdq, phash, dhash) if the data is an
    image. ``name`` (a file name, may be empty) decides whether undecodable data is an error:
    ``x.jpg`` must decode, ``x.mp4`` just gets its file hashes. Empty data is always refused.
    """
    if not data:
        raise MediaError(f"{name or 'input'}: file is empty (0 bytes); expected media to hash")
    # Decode before hashing the bytes so a broken image fails fast and yields nothing partial.
    image = decode_if_image(data, name=name, max_pixels=max_pixels)
    computed = [t.hash_bytes(data) for t in signal_types() if isinstance(t, FileHasher)]
    if image is not None:
        computed += [t.hash_image(image) for t in signal_types() if isinstance(t, ImageHasher)]
    return computed
