"""A node's identity on disk: keys, TLS certificate, config and database in its home folder.

Creating one refuses to overwrite any part of another; opening one refuses keys others can
read or write, and a database that belongs to another signing key."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from node.cards import CARD_FORMAT
from node.errors import IdentityError, InvalidInputError
from node.home import (
    Config,
    HomePaths,
    Role,
    check_secret_mode,
    configured_max_file_bytes,
    write_secret,
)
from node.log.cosignature import CosignerKey
from node.log.keys import SignerKey
from node.store.store import Store


@dataclass(frozen=True)
class Identity:
    paths: HomePaths
    config: Config
    signer: SignerKey
    cosigner: CosignerKey
    store: Store


def create_identity(
    home: Path, origin: str, *, peer_address: str | None = None, auditor: bool = False
) -> Identity:
    """A new identity in ``home``; refused if any part of one exists already."""
    paths = HomePaths(home)
    if existing := [p for p in paths.identity_files() if p.exists()]:
        raise IdentityError(
            f"{home} already holds a node identity ({', '.join(p.name for p in existing)}); "
            "refusing to overwrite it. Use another --home, or remove it yourself"
        )
    _check_origin_name(origin)
    signer = SignerKey.generate(origin)
    cosigner = CosignerKey.generate(origin)
    config = Config(
        origin=origin,
        peer_address=peer_address or Config.peer_address,
        local_token=secrets.token_urlsafe(32),
        role=Role.AUDITOR if auditor else Role.MEMBER,
    )
    from node.tls import generate_tls_identity  # cryptography.x509: at init, not every open

    tls_key, tls_cert = generate_tls_identity(origin)
    write_secret(paths.signing_key, (str(signer) + "\n").encode())
    write_secret(paths.witness_key, (str(cosigner) + "\n").encode())
    write_secret(paths.tls_key, tls_key)
    paths.tls_cert.write_bytes(tls_cert)
    store = Store(paths.database, create=True)
    with store.transaction():
        store.members.add_origin(origin, str(signer.verifier()), is_self=True)
        store.signals.index_own_signals(origin)
        store.witnessing.set_witness_key(origin, str(cosigner.verifier()))
    # The config is written last: its presence is what marks a home as initialised.
    paths.config.write_text(config.to_toml(), encoding="utf-8")
    return Identity(paths, config, signer, cosigner, store)


def open_identity(home: Path) -> Identity:
    paths = HomePaths(home)
    config = paths.load_config()
    configured_max_file_bytes(config)  # a bad value fails here, not at the first file
    # Before any key is read: a key others can read or write is refused, as OpenSSH does.
    for key_file in (paths.signing_key, paths.witness_key, paths.tls_key):
        check_secret_mode(key_file)
    try:
        signer = SignerKey.parse(paths.signing_key.read_text(encoding="utf-8").strip())
    except FileNotFoundError as exc:
        raise IdentityError(f"signing key {paths.signing_key} is missing") from exc
    if signer.name != config.origin:
        raise IdentityError(
            f"signing key is for {signer.name!r} but config says origin {config.origin!r}"
        )
    store = Store(paths.database)
    own = [o for o in store.members.origins() if o.is_self]
    if [o.verifier_key for o in own] != [str(signer.verifier())]:
        store.close()
        raise IdentityError(
            f"the database in {home} belongs to {[o.name for o in own]}, not to the signing "
            f"key {signer.verifier()}; refusing to sign into another node's log"
        )
    cosigner = _load_cosigner(paths, config.origin, store)
    return Identity(paths, config, signer, cosigner, store)


def identity_card(
    paths: HomePaths, config: Config, signer: SignerKey, cosigner: CosignerKey
) -> dict[str, str]:
    """What another member needs to trust this origin and to peer with this node."""
    from node.tls import certificate_fingerprint

    cert = paths.tls_cert.read_bytes()
    return {
        "format": CARD_FORMAT,
        "origin": config.origin,
        "role": config.role.value,
        "verifier_key": str(signer.verifier()),
        "witness_key": str(cosigner.verifier()),
        "tls_certificate": cert.decode(),
        "tls_fingerprint_sha256": certificate_fingerprint(cert),
        "address": "" if config.role == Role.AUDITOR else config.peer_address,
    }


_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


def _load_cosigner(paths: HomePaths, origin: str, store: Store) -> CosignerKey:
    """The witness key; a home made before witnessing existed gets one now (an upgrade)."""
    try:
        cosigner = CosignerKey.parse(paths.witness_key.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        if origin in store.witnessing.witness_keys():
            # Regenerating it would silently turn every cosignature it made into a stranger's.
            raise IdentityError(
                f"witness key {paths.witness_key} is missing, but this node has cosigned with "
                "one; restore the file from a backup (witness key rotation is not supported)"
            ) from None
        cosigner = CosignerKey.generate(origin)
        write_secret(paths.witness_key, (str(cosigner) + "\n").encode())
    if cosigner.name != origin:
        raise IdentityError(f"witness key is for {cosigner.name!r}, not for {origin!r}")
    if store.witnessing.witness_keys().get(origin) != str(cosigner.verifier()):
        with store.transaction():
            store.witnessing.set_witness_key(origin, str(cosigner.verifier()))
    return cosigner


def _check_origin_name(origin: str) -> None:
    # Stricter than C2SP key names on purpose: the origin is also the TLS name peers verify
    # (certificate SAN), and look-alike Unicode names would invite impersonation.
    if len(origin) > 253 or not _ORIGIN_NAME.fullmatch(origin):
        raise InvalidInputError(
            f"origin {origin!r} is not a lower-case DNS-style name (letters, digits, '-' and "
            "'.', labels of at most 63 characters, 253 in all), e.g. acme.example"
        )
