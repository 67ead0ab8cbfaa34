"""The result type every index returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Hit:
    """One live row that matched a query, and its Hamming distance (0 for exact matches)."""

    row: int
    distance: int


def hits_from(rows: npt.NDArray[np.int64], distances: npt.NDArray[np.int64]) -> list[Hit]:
    """Hits for rows already filtered and ordered by the caller."""
    return [Hit(r, d) for r, d in zip(rows.tolist(), distances.tolist(), strict=True)]
