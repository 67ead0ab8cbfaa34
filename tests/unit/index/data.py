"""Test data for the index tests: clustered hashes so buckets collide and matches exist."""

from __future__ import annotations

import gc
import types

import numpy as np
import numpy.typing as npt

Bytes2D = npt.NDArray[np.uint8]


def clustered(
    rng: np.random.Generator, count: int, bits: int, centres: Bytes2D, spread: int = 0
) -> Bytes2D:
    """``count`` hashes: half uniform, half a centre with up to ``spread`` bits flipped.

    spread 0 means "up to a quarter of the threshold scale": a few bits, plus exact copies.
    """
    width = bits // 8
    values = rng.integers(0, 256, size=(count, width), dtype=np.uint8)
    near = rng.random(count) < 0.5
    picks = rng.integers(0, len(centres), size=int(near.sum()))
    values[near] = centres[picks]
    flips = spread or max(1, bits // 16)
    for row in np.flatnonzero(near):
        for bit in rng.integers(0, bits, size=int(rng.integers(0, flips + 1))):
            values[row, bit // 8] ^= np.uint8(1 << (bit % 8))
    return values


def near(rng: np.random.Generator, value: Bytes2D | bytes, bits: int, flips: int) -> bytes:
    """``value`` with ``flips`` random bits flipped (possibly the same bit twice)."""
    out = bytearray(bytes(value))
    for bit in rng.integers(0, bits, size=flips):
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def held_array_bytes(root: object) -> int:
    """Bytes of every numpy buffer reachable from ``root`` (each base buffer counted once).

    Walks the object graph the garbage collector sees, so arrays held in slots, tuples,
    dataclasses or caches on the object are all found; modules, types and functions are not
    followed (they lead to module-level state the object does not own).
    """
    seen: set[int] = set()
    buffers: dict[int, int] = {}
    stack: list[object] = [root]
    skip = (
        types.ModuleType,
        type,
        types.FunctionType,
        types.BuiltinFunctionType,
        types.MethodType,
    )
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        if isinstance(item, np.ndarray):
            base = item
            while isinstance(base.base, np.ndarray):
                base = base.base
            buffers[id(base)] = base.nbytes
            continue
        stack.extend(gc.get_referents(item))
    return sum(buffers.values())
