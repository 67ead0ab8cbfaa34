"""Helpers for ``state()`` / ``from_state()``: an index as a flat dict of numpy arrays.

A state holds every array an index needs plus its settings as 0-d arrays, so it can be written
with ``np.savez`` (or any array container) and loaded back without re-bucketing or pickle.
Loading checks names, dtypes, shapes and the few invariants that are O(1) to check; it does
not re-verify every bucket entry, so the container's own checksum is what proves the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from node.index.rows import MAX_ROWS, Rows
from node.index.words import Words

State = dict[str, npt.NDArray[np.generic]]


def scalar(value: int | float) -> npt.NDArray[np.generic]:
    """A setting as a 0-d array (int64 or float64)."""
    return np.array(value, dtype=np.float64 if isinstance(value, float) else np.int64)


def get_int(state: Mapping[str, npt.NDArray[np.generic]], name: str) -> int:
    value = get_array(state, name, np.int64, ())
    return int(value)


def get_float(state: Mapping[str, npt.NDArray[np.generic]], name: str) -> float:
    value = get_array(state, name, np.float64, ())
    return float(value)


def get_array(
    state: Mapping[str, npt.NDArray[np.generic]],
    name: str,
    dtype: type[np.generic],
    shape: tuple[int, ...],
) -> npt.NDArray[np.generic]:
    """``state[name]`` checked for dtype and shape, C-contiguous (copied only if it was not)."""
    if name not in state:
        raise ValueError(f"state lacks {name!r}")
    array = state[name]
    if not isinstance(array, np.ndarray):
        raise ValueError(f"state[{name!r}] must be a numpy array, got {type(array).__name__}")
    if array.dtype != np.dtype(dtype) or not array.dtype.isnative:
        raise ValueError(f"state[{name!r}] must be native {np.dtype(dtype)}, got {array.dtype}")
    if array.shape != shape:
        raise ValueError(f"state[{name!r}] must have shape {shape}, got {array.shape}")
    return array if array.flags.c_contiguous else array.copy(order="C")


def check_version(state: Mapping[str, npt.NDArray[np.generic]], kind: str, version: int) -> None:
    found_kind = state.get("kind")
    if not isinstance(found_kind, np.ndarray) or found_kind.shape != () or str(found_kind) != kind:
        raise ValueError(f"state is not a {kind} state")
    found = get_int(state, "version")
    if found != version:
        raise ValueError(f"{kind} state version {found} is not supported (expected {version})")


def rows_state(rows: Rows) -> State:
    """Hash words (a view of the valid rows) and a copy of the live bits."""
    return {
        "count": scalar(rows.count),
        "words": rows.valid,
        "live": rows.live[: (rows.count + 7) // 8].copy(),
    }


def rows_from_state(state: Mapping[str, npt.NDArray[np.generic]], width: int) -> Rows:
    """``Rows`` from a state; the live bits are copied (they are flipped in place later)."""
    count = get_int(state, "count")
    if not 0 <= count <= MAX_ROWS:
        raise ValueError(f"state count {count} out of range")
    words: Words = get_array(state, "words", np.uint64, (count, width))  # type: ignore[assignment]
    live = get_array(state, "live", np.uint8, ((count + 7) // 8,)).copy()
    return Rows(words, live, count)  # type: ignore[arg-type]
