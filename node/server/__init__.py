"""The node's gRPC servers: peer-facing FederationService (mTLS) and the LocalService.

``start_node(home)`` opens a node and serves it until ``RunningNode.stop()``; ``hashfed serve``
(:mod:`node.cli.serve`) wraps it with signal handling. This package's names below are its entry
point for the CLI (docs/architecture.md). Layout:

- :mod:`node.server.app` starts and stops the servers, the freshness task and the sync loop;
- :mod:`node.server.access` decides who may call (bearer token, pinned fingerprints);
- :mod:`node.server.local` and :mod:`node.server.federation` are the thin servicers, subclasses
  of the generated servicer bases;
- :mod:`node.server.convert` turns protobuf messages into domain values and back, in one place;
- :mod:`node.server.status` maps hashfed errors to gRPC status codes, in one place;
- :mod:`node.server.guard` applies access checks and that mapping to every call;
- :mod:`node.server.peer_tls` keeps the peer server's trusted roots in step with member cards;
Every call on the node goes through its one thread, :class:`node.service.runner.NodeRunner`;
message limits and addresses are shared with the sync client in :mod:`node.wire`.
"""

from node.server.app import RunningNode, start_node

__all__ = ["RunningNode", "start_node"]
