#!/usr/bin/env python3
"""Container health check: ask the node's local server for the standard gRPC health status.

Exit 0 when ``grpc.health.v1.Health/Check`` answers SERVING, 1 otherwise (Docker's contract).
The port comes from ``local_address`` in ``$HASHFED_HOME/config.toml``; the bearer token from
``$HASHFED_LOCAL_TOKEN``, else the config. Usage: ``healthcheck.py [SERVICE]`` (default ``""``,
the whole server).
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_S = 3.0


def main(argv: list[str]) -> int:
    home = Path(os.environ.get("HASHFED_HOME", "/data"))
    try:
        config = tomllib.loads((home / "config.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"unhealthy: cannot read {home / 'config.toml'}: {exc}")
        return 1
    port = str(config.get("local_address", "127.0.0.1:7444")).rpartition(":")[2]
    token = os.environ.get("HASHFED_LOCAL_TOKEN") or str(config.get("local_token", ""))
    metadata = [("authorization", f"Bearer {token}")] if token else []
    service = argv[0] if argv else ""
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service),
                timeout=TIMEOUT_S,
                metadata=metadata,
            )
    except grpc.RpcError as exc:
        print(f"unhealthy: {exc.code().name}: {exc.details()}")
        return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(status)
    return 0 if reply.status == health_pb2.HealthCheckResponse.SERVING else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
