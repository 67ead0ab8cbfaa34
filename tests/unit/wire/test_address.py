"""host:port parsing and the loopback rule that decides whether the local API needs a token."""

from __future__ import annotations

import pytest

from node.errors import InvalidInputError
from node.wire.address import is_loopback, join_host_port, split_host_port


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:7444", "127.0.0.1", 7444),
        ("0.0.0.0:0", "0.0.0.0", 0),
        ("[::1]:7443", "::1", 7443),
        ("[::]:1", "::", 1),
        ("localhost:65535", "localhost", 65535),
        ("node-a.example:7443", "node-a.example", 7443),
    ],
)
def test_split_and_join(text: str, host: str, port: int) -> None:
    assert split_host_port(text) == (host, port)
    assert join_host_port(host, port) == text


@pytest.mark.parametrize("text", ["", "7444", "host:", "host:port", "::1:7444", "h:65536", "h:-1"])
def test_malformed_addresses_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match=r"host:port|brackets"):
        split_host_port(text)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "10.0.0.1", "192.168.1.5", "node-a.example", "128.0.0.1"]
)
def test_everything_else_is_beyond_loopback(host: str) -> None:
    assert not is_loopback(host)
