"""Signal types and media hashing.

A signal type (``pdq``, ``phash``, ``dhash``, ``md5``, ``sha256``) is one ``SignalType``
instance in a registry; what it can hash is expressed by the capability it inherits:
``FileHasher`` (file bytes) or ``ImageHasher`` (a decoded image). ``hash_media`` computes every
applicable signal of a file; ``hash_paths`` does it for many files on every core
(``node.hashing.parallel``), with the same results. How a file becomes the pixels that are
hashed (formats, size limit, truncation, first frame, no EXIF rotation, RGB conversion) is part
of the protocol and is documented in ``node.hashing.decode`` and ``node.hashing.rgb``.

This package must stay free of grpc and sqlite3: it runs in the CLI and in offline tools.
"""

from node.hashing.decode import DEFAULT_MAX_PIXELS, load_image
from node.hashing.media import DEFAULT_MAX_FILE_BYTES, hash_media, hash_media_file
from node.hashing.parallel import default_workers, hash_path, hash_paths
from node.hashing.registry import get_signal_type, signal_types
from node.hashing.signal_type import FileHasher, ImageHasher, SignalType
from node.signals import ComputedSignal, Signal
from node.signals.parsing import parse_signal
from node.signals.specs import MIN_PUBLISH_QUALITY

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "MIN_PUBLISH_QUALITY",
    "ComputedSignal",
    "FileHasher",
    "ImageHasher",
    "Signal",
    "SignalType",
    "default_workers",
    "get_signal_type",
    "hash_media",
    "hash_media_file",
    "hash_path",
    "hash_paths",
    "load_image",
    "parse_signal",
    "signal_types",
]
