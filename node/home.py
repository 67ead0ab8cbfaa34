"""A node's home folder: where its config, keys and database live.

Layout (documented in docs/operating.md)::

    HOME/config.toml        origin name, addresses, limits
    HOME/keys/signing.key   Ed25519 note signer key (C2SP PRIVATE+KEY text), mode 0600
    HOME/keys/tls.key       P-256 private key for mutual TLS (PEM), mode 0600
    HOME/keys/tls.crt       self-signed certificate pinned by peers (PEM)
    HOME/hashfed.db         SQLite store
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import tomli_w

from node.errors import IdentityError, InvalidInputError

ENV_HOME = "HASHFED_HOME"
CONFIG_VERSION = 1


def resolve_home(explicit: Path | None) -> Path:
    """``--home`` beats ``$HASHFED_HOME`` beats the platform's per-user data folder."""
    if explicit is not None:
        return explicit
    if env := os.environ.get(ENV_HOME):
        return Path(env)
    return Path(platformdirs.user_data_dir("hashfed", appauthor=False))


@dataclass(frozen=True)
class Config:
    origin: str
    peer_address: str = "127.0.0.1:7443"
    local_address: str = "127.0.0.1:7444"
    max_pixels: int | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def to_toml(self) -> str:
        doc: dict[str, object] = {
            "version": CONFIG_VERSION,
            "origin": self.origin,
            "peer_address": self.peer_address,
            "local_address": self.local_address,
        }
        if self.max_pixels is not None:
            doc["max_pixels"] = self.max_pixels
        doc.update(self.extra)
        return tomli_w.dumps(doc)

    @classmethod
    def from_toml(cls, text: str, source: Path) -> Config:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(f"{source} is not valid TOML: {exc}") from exc
        if doc.get("version") != CONFIG_VERSION:
            raise InvalidInputError(
                f"{source} has config version {doc.get('version')!r}; expected {CONFIG_VERSION}"
            )
        origin = doc.get("origin")
        if not isinstance(origin, str) or not origin:
            raise InvalidInputError(f"{source} has no origin name")
        known = {"version", "origin", "peer_address", "local_address", "max_pixels"}
        max_pixels = doc.get("max_pixels")
        if max_pixels is not None and (not isinstance(max_pixels, int) or max_pixels <= 0):
            raise InvalidInputError(f"{source}: max_pixels must be a positive integer")
        return cls(
            origin=origin,
            peer_address=str(doc.get("peer_address", cls.peer_address)),
            local_address=str(doc.get("local_address", cls.local_address)),
            max_pixels=max_pixels,
            extra={k: v for k, v in doc.items() if k not in known},
        )


@dataclass(frozen=True)
class HomePaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def signing_key(self) -> Path:
        return self.keys / "signing.key"

    @property
    def tls_key(self) -> Path:
        return self.keys / "tls.key"

    @property
    def tls_cert(self) -> Path:
        return self.keys / "tls.crt"

    @property
    def database(self) -> Path:
        return self.root / "hashfed.db"

    def identity_files(self) -> list[Path]:
        return [self.config, self.signing_key, self.tls_key, self.tls_cert, self.database]

    def require_initialised(self) -> None:
        if not self.config.exists():
            raise IdentityError(
                f"no hashfed node at {self.root}: run `hashfed init --origin NAME` first "
                f"(or point --home / ${ENV_HOME} at an existing node)"
            )

    def load_config(self) -> Config:
        self.require_initialised()
        return Config.from_toml(self.config.read_text(encoding="utf-8"), self.config)


def write_secret(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only, failing if it exists (never overwrite a key)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
