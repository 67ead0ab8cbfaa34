"""The P-256 key and self-signed certificate a node presents for mutual TLS.

grpcio's TLS stack refuses Ed25519 certificates, so transport identity is P-256 while content
signatures stay Ed25519. Peers pin the certificate's SHA-256 fingerprint from the member card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from node.errors import MalformedError

CERT_VALIDITY = dt.timedelta(days=3650)


def generate_tls_identity(origin: str) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) for ``origin``; valid for its name and loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    # X.509 caps a common name at 64 characters; the SAN carries the full origin name.
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, origin[:64])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(origin),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """Lower-case hex SHA-256 of the certificate's DER encoding."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise MalformedError(f"not a PEM X.509 certificate: {exc}") from exc
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
