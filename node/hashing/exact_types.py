"""Cryptographic digests of a file's bytes: they match only byte-identical copies."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from node.hashing.signal_type import Digest, FileHasher


class _DigestSignalType(FileHasher):
    """A hashlib digest of the whole file."""

    default_threshold = 0
    max_distance = 0
    is_perceptual = False
    _algorithm: ClassVar[str]

    def _digest(self, data: bytes) -> bytes:
        # usedforsecurity=False: MD5 here identifies content, it protects nothing, and FIPS-mode
        # OpenSSL builds refuse MD5 without this flag.
        return hashlib.new(self._algorithm, data, usedforsecurity=False).digest()

    def incremental(self) -> Digest:
        return hashlib.new(self._algorithm, usedforsecurity=False)


class Md5SignalType(_DigestSignalType):
    """MD5 of the file (``md5`` in python-threatexchange), still the most shared exact hash."""

    name = "md5"
    size = 16
    _algorithm = "md5"


class Sha256SignalType(_DigestSignalType):
    """SHA-256 of the file."""

    name = "sha256"
    size = 32
    _algorithm = "sha256"
