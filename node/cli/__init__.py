"""The ``hashfed`` command line."""

import os

# gRPC core logs handshake failures to stderr in its own format before any of our code sees
# them; the CLI explains them in words instead. Set before anything imports grpc.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
