"""``hashfed tls renew``: a new self-signed certificate for the node's existing TLS key."""

from __future__ import annotations

import typer

from node.cli.options import HomeOpt, JsonOpt, command_group, open_node
from node.cli.output import out, print_json

tls_app = command_group("The node's TLS certificate (mutual TLS with peers).")


@tls_app.command("renew")
def renew(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Replace an expired (or expiring, or mismatched) certificate; the key stays the same.

    Peers pin the certificate's fingerprint, so they refuse this node until each of them
    accepts the new card: send `hashfed identity` to every member.
    """
    from node.tls import CERT_VALIDITY, certificate_fingerprint, renew_tls_certificate

    with open_node(home) as node:
        old = node.paths.tls_cert
        previous = certificate_fingerprint(old.read_bytes()) if old.exists() else None
        cert = renew_tls_certificate(node.paths.tls_key, old, node.origin)
    fingerprint = certificate_fingerprint(cert)
    if as_json:
        print_json(
            {
                "certificate": str(old),
                "previous": str(old) + ".old" if previous else None,
                "previous_fingerprint_sha256": previous,
                "tls_fingerprint_sha256": fingerprint,
                "valid_days": CERT_VALIDITY.days,
            }
        )
        return
    out.print(f"new certificate {old} (valid {CERT_VALIDITY.days} days)")
    out.print(f"  fingerprint {fingerprint}")
    if previous:
        out.print(f"  the previous one ({previous}) is kept in {old}.old")
    out.print(
        "Peers pin the fingerprint: send the new card (`hashfed identity`) to every member; "
        "each runs `hashfed member add` (or `peer add`) with it. Restart `hashfed serve`."
    )


def register(app: typer.Typer) -> None:
    """Add the ``tls`` group to the main app."""
    app.add_typer(tls_app, name="tls")
