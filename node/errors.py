"""One error root for everything hashfed raises on purpose.

The CLI catches :class:`HashfedError` once and exits with ``exit_code``; the gRPC layer maps the
same classes to status codes in one place. Messages say what was wrong and what was expected.
"""

from __future__ import annotations


class HashfedError(Exception):
    """Root of every error hashfed raises deliberately."""

    exit_code: int = 3


class InvalidInputError(HashfedError):
    """Something the caller gave us is not acceptable; nothing was stored."""

    exit_code = 4


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

    exit_code = 5


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

    exit_code = 6


class IdentityError(HashfedError):
    """The node's home has no identity yet, or already has one that must not be overwritten."""

    exit_code = 7


class StoreError(HashfedError):
    """The database is unusable: newer schema, corrupt, or locked beyond the timeout."""

    exit_code = 8


class SignedStateError(StoreError):
    """The database holds less than (or something other than) what this node has signed for its
    own origin: signing now would fork its log. Publishing is refused until ``hashfed recover``
    rebuilds the log from a peer (docs/protocol.md, "The signed-state file")."""


class SyncError(HashfedError):
    """A peer could not be synced or tested: unreachable, a certificate refused by either side,
    or entries that do not reproduce their origin's signed root. The message says which."""

    exit_code = 9
