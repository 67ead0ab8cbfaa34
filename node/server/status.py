"""The one place where hashfed errors become gRPC status codes.

=====================  ======================  ===============================================
error (node.errors)    status code             why
=====================  ======================  ===============================================
InvalidInputError      INVALID_ARGUMENT        bad signal, media, label, index, threshold:
                                               the request itself is wrong; nothing stored
NotFoundError          NOT_FOUND               no such origin, entry or checkpoint here
DamageError            DATA_LOSS               a stored entry, leaf or checkpoint no longer
                                               matches what its origin signed (``hashfed
                                               check`` names it); the node refuses to serve
                                               it rather than hand out what fails to verify
VerificationError      INVALID_ARGUMENT        bytes, a signature or a proof that do not
                                               verify (including ``MalformedError``: text that
                                               does not even parse). Retrying the same request
                                               cannot succeed, and the node's state is not the
                                               problem, so not FAILED_PRECONDITION
IdentityError          FAILED_PRECONDITION     the node's identity is missing or inconsistent:
                                               an operator must fix the home first
StoreError             UNAVAILABLE             database locked or unusable (disk full,
                                               read-only, damaged page); may pass on retry
                                               once the operator fixed it
any other HashfedError INTERNAL                  a deliberate error with no closer class
anything else          INTERNAL                a bug: the details say only "internal error",
                                               the traceback goes to the node's log
=====================  ======================  ===============================================

The error's message becomes the status details, and the trailing metadata entry
``hashfed-error`` carries the exception's class name (e.g. ``LowQualityError``,
``SignatureError``) so that clients can tell finer cases apart without parsing text.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import grpc

from node.errors import (
    DamageError,
    HashfedError,
    IdentityError,
    InvalidInputError,
    NotFoundError,
    StoreError,
    VerificationError,
)

ERROR_CLASS_KEY = "hashfed-error"

log = logging.getLogger("hashfed.server")

_CODES: tuple[tuple[type[HashfedError], grpc.StatusCode], ...] = (
    (InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (DamageError, grpc.StatusCode.DATA_LOSS),  # before VerificationError, its base class
    (VerificationError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdentityError, grpc.StatusCode.FAILED_PRECONDITION),
    (StoreError, grpc.StatusCode.UNAVAILABLE),
)


def status_for(exc: BaseException) -> grpc.StatusCode:
    """The status code for an exception raised while serving a call."""
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return grpc.StatusCode.INTERNAL


class RefusedError(Exception):
    """Raised by an access check to refuse a call with ``code`` and a readable message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def abort_for(
    context: grpc.aio.ServicerContext[Any, Any], exc: Exception, method: str
) -> NoReturn:
    """End the call with the status ``exc`` maps to. Always raises (``context.abort`` does)."""
    if isinstance(exc, RefusedError):
        await context.abort(exc.code, exc.message)
    if isinstance(exc, HashfedError):
        code = status_for(exc)
        log.debug("%s: %s: %s", method, type(exc).__name__, exc)
        await context.abort(code, str(exc), ((ERROR_CLASS_KEY, type(exc).__name__),))
    log.error("%s failed with an unexpected error", method, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error (the node's log has the details)")
    raise AssertionError("context.abort returned")  # it raises AbortError; mypy cannot know
