"""The bearer-token check of the local API when it is bound beyond loopback."""

from __future__ import annotations

import grpc
import pytest

from node.server.access import check_bearer
from node.server.status import RefusedError

TOKEN = "s3cret-token_value"


@pytest.mark.parametrize(
    "metadata",
    [
        [("authorization", f"Bearer {TOKEN}")],
        [("Authorization", f"bearer {TOKEN}")],
        [("user-agent", "x"), ("authorization", f"Bearer  {TOKEN} ".encode())],
    ],
)
def test_right_token_is_admitted(metadata: list[tuple[str, str | bytes]]) -> None:
    check_bearer(metadata, TOKEN)


def test_missing_token_is_refused_with_the_reason() -> None:
    for metadata in (None, [], [("user-agent", "x")]):
        with pytest.raises(RefusedError) as info:
            check_bearer(metadata, TOKEN)
        assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
        assert "token is required" in info.value.message
        assert "beyond loopback" in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        TOKEN,
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
    ],
)
def test_wrong_token_is_refused(value: str) -> None:
    with pytest.raises(RefusedError) as info:
        check_bearer([("authorization", value)], TOKEN)
    assert info.value.code is grpc.StatusCode.UNAUTHENTICATED
    assert "wrong" in info.value.message
    assert TOKEN not in info.value.message
