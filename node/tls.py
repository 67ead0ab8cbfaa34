"""The P-256 key and self-signed certificate a node presents for mutual TLS.

grpcio's TLS stack refuses Ed25519 certificates, so transport identity is P-256 while content
signatures stay Ed25519. Peers pin the certificate's SHA-256 fingerprint from the member card.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import NameOID

from node.errors import IdentityError, MalformedError
from node.home import read_secret

CERT_VALIDITY = dt.timedelta(days=3650)
# `serve` warns when its own certificate expires within this many days: peers refuse an
# expired certificate, so every connection would fail from that moment on.
CERT_WARN_DAYS = 30
RENEW_HINT = (
    "run `hashfed tls renew` (a new certificate for the same key), then send the new card "
    "(`hashfed identity`) to every member: they pin the certificate's fingerprint and must "
    "`hashfed member add` (or `peer add`) the new card"
)


def generate_tls_identity(origin: str) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM) for ``origin``; valid for its name and loopback."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, _self_signed(key, origin)


def _self_signed(key: ec.EllipticCurvePrivateKey, origin: str) -> bytes:
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
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """Lower-case hex SHA-256 of the certificate's DER encoding."""
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise MalformedError(f"not a PEM X.509 certificate: {exc}") from exc
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@dataclass(frozen=True)
class TlsIdentity:
    """A node's own TLS key and certificate, checked to belong together and to be valid now."""

    key_pem: bytes
    cert_pem: bytes
    not_after: dt.datetime

    def days_left(self, now: dt.datetime | None = None) -> float:
        left = self.not_after - (now or dt.datetime.now(dt.UTC))
        return left.total_seconds() / 86400


def load_tls_identity(
    key_path: Path, cert_path: Path, *, now: dt.datetime | None = None
) -> TlsIdentity:
    """Read and check the node's own TLS pair before anything listens or connects with it.

    Refused, with the fix in the message: a key file others can access, a key or certificate
    that does not parse, a key that is not the certificate's (gRPC would only fail to bind,
    which reads as "address in use"), a certificate that is expired or not yet valid.
    """
    try:
        key_pem = read_secret(key_path)
        cert_pem = cert_path.read_bytes()
    except OSError as exc:
        raise IdentityError(
            f"cannot read the node's TLS identity ({exc.filename}): {exc.strerror or exc}"
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(
            f"TLS key {key_path} is not an unencrypted PEM private key: {exc}"
        ) from exc
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise IdentityError(
            f"TLS certificate {cert_path} is not a PEM X.509 certificate: {exc}"
        ) from exc
    if _public_der(key.public_key()) != _public_der(cert.public_key()):
        raise IdentityError(
            f"TLS key {key_path} does not match the certificate {cert_path}: the certificate "
            "carries another public key. Restore the pair that belongs together from a "
            "backup; or, to keep this key, " + RENEW_HINT
        )
    moment = now or dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc <= moment:
        raise IdentityError(
            f"TLS certificate {cert_path} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} "
            f"UTC; peers refuse an expired certificate. To renew it, {RENEW_HINT}"
        )
    if cert.not_valid_before_utc > moment:
        raise IdentityError(
            f"TLS certificate {cert_path} is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC, and this machine's clock says "
            f"{moment:%Y-%m-%d %H:%M} UTC: check the clock"
        )
    return TlsIdentity(key_pem, cert_pem, cert.not_valid_after_utc)


def renew_tls_certificate(key_path: Path, cert_path: Path, origin: str) -> bytes:
    """Replace the certificate with a new self-signed one for the same key; the old one is
    kept beside it as ``tls.crt.old``. Returns the new certificate's PEM."""
    key_pem = read_secret(key_path)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise IdentityError(
            f"TLS key {key_path} is not an unencrypted PEM private key: {exc}"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise IdentityError(f"TLS key {key_path} is not a P-256 key; expected the key init made")
    cert_pem = _self_signed(key, origin)
    # The new certificate is complete on disk before it replaces the old one, so a crash
    # leaves one whole certificate in place, never none.
    fresh = cert_path.with_name(cert_path.name + ".new")
    with open(fresh, "wb") as f:
        f.write(cert_pem)
        os.fsync(f.fileno())
    if cert_path.exists():
        shutil.copyfile(cert_path, cert_path.with_name(cert_path.name + ".old"))
    os.replace(fresh, cert_path)
    return cert_pem


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
