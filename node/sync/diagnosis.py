"""Say in words why a peer cannot be reached: never a bare ``UNAVAILABLE``.

A gRPC client that fails to connect learns little more than ``UNAVAILABLE``, and the peer's
server cannot see a certificate it refused during the handshake. So the connecting side finds
out itself, with Python's :mod:`ssl` and the same keys gRPC uses:

1. open a TCP connection (refused or timed out: the peer is not reachable);
2. TLS handshake with ALPN ``h2`` and our client certificate but **without** verifying the peer,
   to capture the leaf certificate it presents and compare its SHA-256 (DER) with the fingerprint
   pinned in its member card (different: *we* refuse its certificate);
3. on that same connection, read once: an HTTP/2 server speaks first (its SETTINGS frame), so
   data means the peer accepted our certificate, while a TLS alert such as *certificate
   required*, *bad certificate*, *certificate unknown* or *unknown CA* means *it* refused ours.
   With TLS 1.3 the server checks the client's certificate after the client has finished its
   side of the handshake, so the refusal arrives on the first read. gRPC's own TLS stack
   (BoringSSL in grpc core) sends no alert at all: it closes the connection, so a clean end of
   stream right after the handshake, before the SETTINGS frame, is a refusal too (the client's
   certificate is the only thing left for the server to check at that point);
4. when the fingerprints match, handshake once more, now verifying the peer exactly as gRPC
   does (its pinned certificate as the only root, its origin as the name), to catch what a
   fingerprint does not show (an expired certificate, a name it does not carry).

:func:`observe_tls` does the network part and records what it saw in a :class:`TlsObservation`;
:func:`diagnose` turns an observation into a :class:`Diagnosis` with the words. The split keeps
the wording testable without sockets.
"""

from __future__ import annotations

import hashlib
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from node.errors import HashfedError
from node.wire.address import split_host_port

if TYPE_CHECKING:
    from node.results import JsonShape

PROBE_TIMEOUT_S = 3.0

# TLS alerts by which a server says it does not accept the client's certificate (OpenSSL and
# BoringSSL reason names; Python exposes them as ``SSLError.reason``).
CERTIFICATE_ALERTS = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "TLSV1_ALERT_UNKNOWN_CA",
        "TLSV1_ALERT_ACCESS_DENIED",
    }
)


def is_certificate_alert(reason: str) -> bool:
    """True when an SSL error reason (or message) is an alert refusing our certificate."""
    text = reason.upper().replace(" ", "_")
    return any(alert in text for alert in CERTIFICATE_ALERTS)


@dataclass(frozen=True)
class TlsObservation:
    """What a probe saw, in the order it saw it. ``None`` means "did not get that far"."""

    connect_error: str | None = None
    """Why the TCP connection failed, e.g. ``connection refused``."""

    handshake_error: str | None = None
    """Why the unverified TLS handshake failed (with TLS 1.2 a refusal of our certificate
    arrives here)."""

    presented_fingerprint: str | None = None
    """SHA-256 (hex, DER) of the leaf certificate the peer presented."""

    after_handshake: str | None = None
    """What the first read returned: ``data``, ``alert:<REASON>``, ``eof``, ``silent``."""

    verify_error: str | None = None
    """Why verifying the peer as gRPC does failed although its fingerprint is the pinned one."""


@dataclass(frozen=True)
class Diagnosis:
    """Whether each side accepts the other, and what is wrong, in words."""

    peer: str
    address: str
    reachable: bool
    we_accept_theirs: bool | None
    they_accept_ours: bool | None
    presented_fingerprint: str | None
    pinned_fingerprint: str
    our_fingerprint: str
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return (
            self.reachable
            and bool(self.we_accept_theirs)
            and bool(self.they_accept_ours)
            and not self.problems
        )

    def message(self) -> str:
        if self.problems:
            return "; ".join(self.problems)
        return f"{self.peer} at {self.address}: TLS handshake accepted on both sides"

    JSON: ClassVar[JsonShape] = (
        ("peer", "peer"),
        ("address", "address"),
        ("reachable", "reachable"),
        ("we_accept_their_certificate", "we_accept_theirs"),
        ("they_accept_our_certificate", "they_accept_ours"),
        ("presented_fingerprint_sha256", "presented_fingerprint"),
        ("pinned_fingerprint_sha256", "pinned_fingerprint"),
        ("our_fingerprint_sha256", "our_fingerprint"),
        ("problems", "problems"),
    )


def we_refuse(peer: str, presented: str, pinned: str) -> str:
    return (
        f"we refuse {peer}'s certificate: it presented sha256 {presented}, "
        f"its member card pins {pinned}"
    )


def they_refuse(peer: str, our_fingerprint: str, our_origin: str) -> str:
    return (
        f"{peer} refused our certificate (sha256 {our_fingerprint}): it has no member card for "
        f"{our_origin}, or pins a different certificate"
    )


def not_reachable(peer: str, address: str, why: str) -> str:
    return f"{peer} is not reachable at {address} ({why})"


def diagnose(
    observation: TlsObservation,
    *,
    peer: str,
    address: str,
    pinned_fingerprint: str,
    our_fingerprint: str,
    our_origin: str,
) -> Diagnosis:
    """Turn what a probe saw into who refused whom, in words."""
    obs = observation
    problems: list[str] = []
    if obs.connect_error is not None:
        return Diagnosis(
            peer,
            address,
            False,
            None,
            None,
            None,
            pinned_fingerprint,
            our_fingerprint,
            (not_reachable(peer, address, obs.connect_error),),
        )
    we_accept: bool | None = None
    they_accept: bool | None = None
    presented = obs.presented_fingerprint
    if presented is not None:
        if presented != pinned_fingerprint:
            we_accept = False
            problems.append(we_refuse(peer, presented, pinned_fingerprint))
        elif obs.verify_error is not None:
            we_accept = False
            problems.append(f"we refuse {peer}'s certificate: {obs.verify_error}")
        else:
            we_accept = True
    if obs.handshake_error is not None:
        if is_certificate_alert(obs.handshake_error):
            they_accept = False
            problems.append(they_refuse(peer, our_fingerprint, our_origin))
        else:
            problems.append(
                f"TLS handshake with {peer} at {address} failed ({obs.handshake_error})"
            )
    after = obs.after_handshake
    if after == "data":
        they_accept = True
    elif after is not None and after.startswith("alert:"):
        reason = after.removeprefix("alert:")
        if is_certificate_alert(reason):
            they_accept = False
            problems.append(they_refuse(peer, our_fingerprint, our_origin))
        else:
            problems.append(f"{peer} ended the TLS session after the handshake ({reason})")
    elif after == "eof":
        # gRPC's TLS stack closes without sending the alert. Our side had finished the
        # handshake, so the only thing left for the server to check was our certificate.
        they_accept = False
        problems.append(they_refuse(peer, our_fingerprint, our_origin))
    elif after == "silent":
        problems.append(
            f"{peer} at {address} sent nothing after the TLS handshake; is a hashfed node "
            "listening there?"
        )
    return Diagnosis(
        peer,
        address,
        True,
        we_accept,
        they_accept,
        presented,
        pinned_fingerprint,
        our_fingerprint,
        tuple(problems),
    )


def fingerprint_der(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def observe_tls(
    address: str,
    *,
    server_name: str,
    pinned_pem: bytes,
    pinned_fingerprint: str,
    cert_file: Path,
    key_file: Path,
    timeout: float = PROBE_TIMEOUT_S,
) -> TlsObservation:
    """Probe ``address`` as described in the module docstring (blocking; run it in a thread)."""
    try:
        host, port = split_host_port(address)
    except HashfedError as exc:
        return TlsObservation(connect_error=str(exc))
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except ConnectionRefusedError:
        return TlsObservation(connect_error="connection refused")
    except TimeoutError:
        return TlsObservation(connect_error=f"no answer within {timeout:g} s")
    except OSError as exc:
        return TlsObservation(connect_error=exc.strerror or str(exc))

    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    unverified.set_alpn_protocols(["h2"])
    unverified.load_cert_chain(cert_file, key_file)
    presented: str | None = None
    try:
        with unverified.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            presented = None if der is None else fingerprint_der(der)
            after = _read_once(tls, timeout)
    except ssl.SSLError as exc:
        return TlsObservation(handshake_error=_ssl_reason(exc), presented_fingerprint=presented)
    except TimeoutError:
        return TlsObservation(handshake_error=f"no TLS answer within {timeout:g} s")
    except OSError as exc:
        return TlsObservation(handshake_error=exc.strerror or str(exc))
    finally:
        raw.close()

    verify_error = None
    if presented == pinned_fingerprint:
        verify_error = _verify_as_grpc_does(
            host, port, server_name, pinned_pem, cert_file, key_file, timeout
        )
    return TlsObservation(
        presented_fingerprint=presented, after_handshake=after, verify_error=verify_error
    )


def _read_once(tls: ssl.SSLSocket, timeout: float) -> str:
    tls.settimeout(timeout)
    try:
        data = tls.recv(1)
    except ssl.SSLError as exc:
        return f"alert:{_ssl_reason(exc)}"
    except TimeoutError:
        return "silent"
    except (ConnectionResetError, BrokenPipeError):
        return "eof"
    return "data" if data else "eof"


def _verify_as_grpc_does(
    host: str,
    port: int,
    server_name: str,
    pinned_pem: bytes,
    cert_file: Path,
    key_file: Path,
    timeout: float,
) -> str | None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=pinned_pem.decode("ascii", "replace"))
    context.set_alpn_protocols(["h2"])
    context.load_cert_chain(cert_file, key_file)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=server_name),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message or _ssl_reason(exc)
    except (ssl.SSLError, OSError):
        # Not about our verification (the first probe already said what the peer thinks).
        return None


def _ssl_reason(exc: ssl.SSLError) -> str:
    return str(exc.reason) if exc.reason else str(exc)
