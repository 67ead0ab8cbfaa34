"""The node's gRPC servers: peer-facing FederationService (mTLS) and the LocalService.

``start_node(home)`` opens a node and serves it until ``RunningNode.stop()``; ``hashfed serve``
(:mod:`node.cli.serve`) wraps it with signal handling. Layout:

- :mod:`node.server.app` starts and stops everything, and holds the access checks;
- :mod:`node.server.runner` is the one thread that touches the node (``NodeRunner``), shared
  with the sync loop;
- :mod:`node.server.local` and :mod:`node.server.federation` are the thin servicers;
- :mod:`node.server.status` maps hashfed errors to gRPC status codes, in one place;
- :mod:`node.server.guard` applies access checks and that mapping to every call;
- :mod:`node.server.peer_tls` keeps the peer server's trusted roots in step with member cards;
- :mod:`node.server.limits` documents message size limits.
"""

from node.server.app import RunningNode, start_node
from node.server.runner import NodeRunner

__all__ = ["NodeRunner", "RunningNode", "start_node"]
