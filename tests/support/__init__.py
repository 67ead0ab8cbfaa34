"""Shared test helpers: real nodes, real peers over real mTLS, the CLI, storage trouble."""
