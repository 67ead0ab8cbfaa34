"""Mutual TLS for the peer server: trusted client roots that follow the member cards.

The peer server requires a client certificate and trusts, as roots, exactly the TLS
certificates pinned in the node's accepted member cards (``Node.pinned_certificates()``). The
credentials are *dynamic*: gRPC calls :meth:`PinnedRoots.fetch` before every new TLS handshake,
and it hands over a new certificate configuration whenever the pinned set changed. A card
accepted or removed therefore takes effect for the next connection, without a restart;
connections already open keep the identity they were admitted with until they close.

Who updates the pinned set: the server's freshness task reads ``pinned_certificates()`` on the
node thread every 0.25 s and calls :meth:`PinnedRoots.update` from the event loop. ``fetch``
runs on a gRPC core thread, so it never touches the node; it only compares two byte strings
under a lock.

**No pinned certificates yet.** An SSL server configuration needs a non-empty root bundle when
it requires client certificates, so with no member cards the node's *own* certificate stands in
as the only root. Only a holder of this node's own TLS private key could complete a handshake,
and even then the fingerprint check (:mod:`node.server.app`) refuses the call unless that
certificate is pinned in a card. The server therefore starts, and every handshake fails, until
the first card arrives.

Member certificates are self-signed with ``CA=True``, so the handshake alone would also accept
a leaf certificate *issued* by a member's TLS key. The peer server's interceptor closes that gap:
the SHA-256 fingerprint of the presented leaf must be exactly one pinned in a card.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import grpc


def root_bundle(pinned: Iterable[bytes], own_certificate: bytes) -> bytes:
    """The PEM bundle of trusted client roots: the pinned certificates, or the placeholder."""
    pems = sorted({_with_newline(p) for p in pinned})
    return b"".join(pems) if pems else _with_newline(own_certificate)


def _with_newline(pem: bytes) -> bytes:
    return pem if pem.endswith(b"\n") else pem + b"\n"


class PinnedRoots:
    """Dynamic server credentials for the peer server (see the module docstring)."""

    def __init__(self, private_key: bytes, certificate: bytes, pinned: Iterable[bytes]) -> None:
        self._key = private_key
        self._cert = certificate
        self._lock = threading.Lock()
        self._wanted = root_bundle(pinned, certificate)
        self._installed = self._wanted

    def credentials(self) -> grpc.ServerCredentials:
        initial = self._configuration(self._installed)
        # The stub wants a configuration from fetch, but grpc documents None as "no change",
        # which is what fetch returns while the pinned certificates stay the same.
        return grpc.dynamic_ssl_server_credentials(
            initial,
            self.fetch,  # type: ignore[arg-type]
            require_client_authentication=True,
        )

    def update(self, pinned: Iterable[bytes]) -> bool:
        """Record the current pinned certificates; True when they differ from the last ones."""
        bundle = root_bundle(pinned, self._cert)
        with self._lock:
            changed = bundle != self._wanted
            self._wanted = bundle
        return changed

    @property
    def bundle(self) -> bytes:
        with self._lock:
            return self._wanted

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: a new configuration, or None for no change."""
        with self._lock:
            if self._wanted == self._installed:
                return None
            self._installed = self._wanted
            bundle = self._installed
        return self._configuration(bundle)

    def _configuration(self, bundle: bytes) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self._key, self._cert)], root_certificates=bundle
        )
