"""Every hashfed error class maps to the documented gRPC status code, in one place."""

from __future__ import annotations

import grpc
import pytest

from node import errors
from node.server.status import status_for


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.InvalidInputError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.InvalidSignalError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.UnknownSignalTypeError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.MediaError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.ImageTooLargeError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.LowQualityError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
        (errors.VerificationError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.MalformedError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.SignatureError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.ProofError, grpc.StatusCode.INVALID_ARGUMENT),
        (errors.DamageError, grpc.StatusCode.DATA_LOSS),
        (errors.IdentityError, grpc.StatusCode.FAILED_PRECONDITION),
        (errors.StoreError, grpc.StatusCode.UNAVAILABLE),
        (errors.HashfedError, grpc.StatusCode.INTERNAL),
    ],
)
def test_error_classes_map_to_status_codes(
    error: type[errors.HashfedError], code: grpc.StatusCode
) -> None:
    assert status_for(error("boom")) is code


def test_import_format_error_is_invalid_argument() -> None:
    assert status_for(errors.ImportFormatError("bad", line=3)) is grpc.StatusCode.INVALID_ARGUMENT


def test_unexpected_exceptions_are_internal() -> None:
    assert status_for(ValueError("bug")) is grpc.StatusCode.INTERNAL
    assert status_for(KeyError("bug")) is grpc.StatusCode.INTERNAL
