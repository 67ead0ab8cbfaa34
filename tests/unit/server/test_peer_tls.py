"""The peer server's trusted roots follow the pinned certificates; a placeholder when none."""

from __future__ import annotations

import grpc

from node.server.peer_tls import PinnedRoots, root_bundle
from node.tls import generate_tls_identity

KEY, OWN = generate_tls_identity("own.example")
_, A = generate_tls_identity("a.example")
_, B = generate_tls_identity("b.example")


def test_no_pinned_certificates_uses_own_certificate_as_placeholder() -> None:
    assert root_bundle([], OWN) == OWN


def test_bundle_is_order_independent_and_deduplicated() -> None:
    assert root_bundle([A, B], OWN) == root_bundle([B, A, B], OWN)
    assert root_bundle([A], OWN) == A
    assert OWN not in root_bundle([A, B], OWN)
    assert root_bundle([A.rstrip(b"\n")], OWN) == A


def test_fetch_hands_over_a_new_configuration_only_after_a_change() -> None:
    roots = PinnedRoots(KEY, OWN, [])
    assert isinstance(roots.credentials(), grpc.ServerCredentials)
    assert roots.fetch() is None
    assert roots.update([A])
    assert roots.bundle == A
    assert isinstance(roots.fetch(), grpc.ServerCertificateConfiguration)
    assert roots.fetch() is None  # installed: nothing new for the next handshake
    assert not roots.update([A])
    assert roots.fetch() is None
    assert roots.update([])  # the last card removed: back to the placeholder
    assert roots.bundle == OWN
    assert roots.fetch() is not None
