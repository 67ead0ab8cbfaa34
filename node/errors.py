"""One error root for everything hashfed raises on purpose, and the exit codes they carry.

The CLI catches :class:`HashfedError` once and exits with ``exit_code``; the gRPC layer maps the
same classes to status codes in one place. Messages say what was wrong and what was expected.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Every exit status of ``hashfed``; README.md's table is tested against this one."""

    OK = 0
    NO_MATCH = 1
    USAGE = 2
    ERROR = 3
    INVALID_INPUT = 4
    VERIFICATION = 5
    NOT_FOUND = 6
    IDENTITY = 7
    STORE = 8
    SYNC = 9

    @property
    def meaning(self) -> str:
        """The README's wording of when a command exits with this code."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.NO_MATCH: "`match --exit-code` found nothing",
    ExitCode.USAGE: "usage error (unknown option, missing argument)",
    ExitCode.ERROR: "other hashfed error",
    ExitCode.INVALID_INPUT: (
        "invalid input: bad file, signal, label, import line, PDQ quality; nothing was stored "
        "(also: an auditor card given to `peer add`, `member reset` of an origin that is not "
        "stopped, an existing file or non-empty folder refused)"
    ),
    ExitCode.VERIFICATION: (
        "verification failed: signature, proof, checkpoint or bundle; also: `check` found "
        "damage, or a damaged entry was refused (`proof`, `match`)"
    ),
    ExitCode.NOT_FOUND: "not found: origin, entry, checkpoint, member or evidence",
    ExitCode.IDENTITY: (
        "node identity missing (run `hashfed init`) or already present (`init` never "
        "overwrites); an auditor identity asked to publish; a private key others can access; "
        "(`serve`, `sync`, `peer test`) a TLS key not matching its certificate, or an expired "
        "certificate"
    ),
    ExitCode.STORE: (
        "database unusable (written by a newer version, corrupt, or locked), or a storage "
        "fault: disk full, read-only file system, damaged page; the one-line message says "
        "which, where, and what to do; or behind what this node signed for its own origin, so "
        "publishing is refused until `hashfed recover --peer NAME`"
    ),
    ExitCode.SYNC: (
        "sync or peer test failed: the message says which peer, and which side refused what"
    ),
}


class HashfedError(Exception):
    """Root of every error hashfed raises deliberately."""

    exit_code: ExitCode = ExitCode.ERROR


class InvalidInputError(HashfedError):
    """Something the caller gave us is not acceptable; nothing was stored."""

    exit_code = ExitCode.INVALID_INPUT


class UnknownSignalTypeError(InvalidInputError):
    """A signal type name that the registry does not know."""


class InvalidSignalError(InvalidInputError):
    """A signal value of the wrong length, not hex, or otherwise malformed."""


class MediaError(InvalidInputError):
    """A file that cannot be hashed as the media it claims: empty, truncated, not an image."""


class ImageTooLargeError(MediaError):
    """An image whose declared pixel count exceeds the limit; refused before decoding."""


class LowQualityError(InvalidInputError):
    """A PDQ hash whose quality is below the publishing minimum."""


class ImportFormatError(InvalidInputError):
    """A bulk import file with a malformed line; ``line`` is 1-based."""

    def __init__(self, message: str, *, line: int) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


class VerificationError(HashfedError):
    """A signature, proof, checkpoint or bundle did not verify."""

    exit_code = ExitCode.VERIFICATION


class MalformedError(VerificationError):
    """Bytes or text that do not parse as the format they claim (note, checkpoint, entry, key)."""


class SignatureError(VerificationError):
    """A signature that is missing, made by another key, or does not match the signed bytes."""


class ProofError(VerificationError):
    """An inclusion or consistency proof that does not verify."""


class EquivocationError(VerificationError):
    """An origin signed two checkpoints that cannot both be true; its import is stopped."""


class DamageError(VerificationError):
    """Stored data no longer matches what its origin signed: an entry body, a leaf hash, a
    checkpoint or a row derived from an entry changed on disk. Found by ``hashfed check``, the
    start-up check, or before a bundle leaves the node; the message names the entry and how to
    repair it."""


class NotFoundError(HashfedError):
    """An origin, entry or checkpoint that this node does not hold."""

    exit_code = ExitCode.NOT_FOUND


class IdentityError(HashfedError):
    """The node's home has no identity yet, or already has one that must not be overwritten."""

    exit_code = ExitCode.IDENTITY


class StoreError(HashfedError):
    """The database is unusable: newer schema, corrupt, or locked beyond the timeout."""

    exit_code = ExitCode.STORE


class SignedStateError(StoreError):
    """The database holds less than (or something other than) what this node has signed for its
    own origin: signing now would fork its log. Publishing is refused until ``hashfed recover``
    rebuilds the log from a peer (docs/protocol.md, "The signed-state file")."""


class SyncError(HashfedError):
    """A peer could not be synced or tested: unreachable, a certificate refused by either side,
    or entries that do not reproduce their origin's signed root. The message says which."""

    exit_code = ExitCode.SYNC
