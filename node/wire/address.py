"""``host:port`` addresses: parsing, joining, and whether a bind address is loopback only."""

from __future__ import annotations

import ipaddress

from node.errors import InvalidInputError


def split_host_port(address: str) -> tuple[str, int]:
    """``"127.0.0.1:7444"`` -> ``("127.0.0.1", 7444)``; IPv6 hosts in brackets (``[::1]:0``)."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise InvalidInputError(
            f"address {address!r} is not host:port (e.g. 127.0.0.1:7444, [::1]:7444, 0.0.0.0:0)"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise InvalidInputError(f"address {address!r}: write an IPv6 host in brackets, [::1]:port")
    return host, int(port_text)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1; False for anything else, names included.

    A wildcard (``0.0.0.0``, ``::``, empty) is *not* loopback: it accepts connections from every
    interface. Other host names are treated as reachable from outside, whatever they resolve to.
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
