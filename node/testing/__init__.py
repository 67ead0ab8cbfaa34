"""Harnesses for tests, the demo, the devnet and the benchmarks: sample media and a node served
from synchronous code. A leaf: no runtime module of node/ imports it."""
