"""hashfed: a federated hash-sharing node."""
