"""What both ends of a gRPC connection between nodes agree on, beside the generated messages.

Host:port addresses (:mod:`node.wire.address`) and message and batch limits
(:mod:`node.wire.limits`): the server enforces them and the sync client relies on them, so they
live below both, and import nothing but :mod:`node.errors` (no grpc).
"""
