#!/usr/bin/env python3
"""Container entrypoint: initialise the member's home on first start, then run hashfed.

Environment (set per service in docker-compose.yml):

- ``HASHFED_HOME``: the home folder, a named volume (the image sets ``/data``).
- ``HASHFED_ORIGIN``: this member's origin name; needed on first start, and checked against the
  home on every start (a volume never silently changes owner).
- ``HASHFED_ADVERTISE``: ``host:port`` other members' nodes reach this one at; it goes into the
  member card (default: this container's host name, port 7443).
- ``HASHFED_LOCAL_TOKEN``: bearer token of the local API, required: the local API listens on
  every interface of the container, so it must not be open. Written into the config on every
  start, so rotating it is changing the variable and restarting.
- ``HASHFED_SYNC_INTERVAL_S``: seconds between pulls from peers (optional).
- ``HASHFED_PEER_BIND`` / ``HASHFED_LOCAL_BIND``: listen addresses (default ``0.0.0.0:7443`` /
  ``0.0.0.0:7444``).

``CMD`` ``serve`` (the default) runs ``hashfed serve`` on those addresses; any other command is
passed to ``hashfed`` after the same preparation, e.g. ``docker compose run --rm member-a
identity``. The process is replaced by hashfed (``exec``), so SIGTERM reaches it directly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import tomli_w

DEFAULT_HOME = "/data"
DEFAULT_PEER_BIND = "0.0.0.0:7443"
DEFAULT_LOCAL_BIND = "0.0.0.0:7444"
MIN_TOKEN_LENGTH = 16
PLACEHOLDER = "replace-me"


class SetupError(Exception):
    """The container cannot start as configured; the message says what to change."""


def hashfed_command() -> list[str]:
    beside = Path(sys.executable).parent / "hashfed"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "node.cli.main"]


def prepare(env: Mapping[str, str]) -> Path:
    """Make sure the home holds this member's node, configured from ``env``; return the home."""
    home = Path(env.get("HASHFED_HOME") or DEFAULT_HOME)
    origin = env.get("HASHFED_ORIGIN", "")
    advertise = env.get("HASHFED_ADVERTISE") or f"{socket.gethostname()}:7443"
    token = env.get("HASHFED_LOCAL_TOKEN", "")
    if len(token) < MIN_TOKEN_LENGTH or PLACEHOLDER in token:
        raise SetupError(
            "HASHFED_LOCAL_TOKEN must be a secret of at least "
            f"{MIN_TOKEN_LENGTH} characters (not the {PLACEHOLDER}… example): the local API "
            "listens beyond loopback. Set it in compose/.env (see compose/.env.example)"
        )
    config_path = home / "config.toml"
    if not config_path.exists():
        if not origin:
            raise SetupError(f"{home} holds no node yet; set HASHFED_ORIGIN to create one")
        proc = subprocess.run(
            [*hashfed_command(), "init", "--origin", origin, "--peer-address", advertise],
            env={**env, "HASHFED_HOME": str(home)},
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SetupError(f"hashfed init failed: {proc.stderr.strip() or proc.stdout.strip()}")
        print(f"entrypoint: created node {origin} in {home}", file=sys.stderr)
    doc = tomllib.loads(config_path.read_text(encoding="utf-8"))
    if origin and doc.get("origin") != origin:
        raise SetupError(
            f"{home} holds the node of {doc.get('origin')!r}, not {origin!r}: "
            "each member needs its own volume"
        )
    changes: dict[str, object] = {
        "peer_address": advertise,
        "local_address": env.get("HASHFED_LOCAL_BIND") or DEFAULT_LOCAL_BIND,
        "local_token": token,
    }
    if interval := env.get("HASHFED_SYNC_INTERVAL_S"):
        try:
            changes["sync_interval_s"] = float(interval)
        except ValueError as exc:
            raise SetupError(f"HASHFED_SYNC_INTERVAL_S={interval!r} is not a number") from exc
    if doc.get("peer_address") not in (None, advertise):
        print(
            f"entrypoint: advertised address changed from {doc['peer_address']} to {advertise}; "
            "give peers the new card (`hashfed identity`)",
            file=sys.stderr,
        )
    if any(doc.get(k) != v for k, v in changes.items()):
        doc.update(changes)
        tmp = config_path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(doc), encoding="utf-8")
        tmp.replace(config_path)
    return home


def command(args: Sequence[str], env: Mapping[str, str]) -> list[str]:
    if list(args) in ([], ["serve"]):
        return [
            *hashfed_command(),
            "serve",
            "--peer-address",
            env.get("HASHFED_PEER_BIND") or DEFAULT_PEER_BIND,
            "--local-address",
            env.get("HASHFED_LOCAL_BIND") or DEFAULT_LOCAL_BIND,
        ]
    return [*hashfed_command(), *args]


def main(argv: Sequence[str]) -> int:
    env = dict(os.environ)
    try:
        home = prepare(env)
    except SetupError as exc:
        print(f"entrypoint: error: {exc}", file=sys.stderr)
        return 78  # EX_CONFIG: a restart will not help until the configuration changes
    env["HASHFED_HOME"] = str(home)
    argv_out = command(argv, env)
    os.execvpe(argv_out[0], argv_out, env)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
