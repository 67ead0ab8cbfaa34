"""(query, row, distance) triples found by probes and scans, and turning them into Hits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from node.index.hit import Hit, hits_from

Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Matches:
    queries: Int64s
    rows: Int64s
    distances: Int64s

    @classmethod
    def concat(cls, parts: list[Matches]) -> Matches:
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return cls(empty, empty, empty)
        return cls(
            np.concatenate([p.queries for p in parts]),
            np.concatenate([p.rows for p in parts]),
            np.concatenate([p.distances for p in parts]),
        )

    def where(self, keep: npt.NDArray[np.bool_]) -> Matches:
        return Matches(self.queries[keep], self.rows[keep], self.distances[keep])


def to_hits(
    matches: Matches,
    query_count: int,
    is_live: Callable[[Int64s], npt.NDArray[np.bool_]],
) -> list[list[Hit]]:
    """Live matches per query, each list sorted by (distance, row), duplicates removed.

    A row found through several chunks appears several times with the same distance, so after
    sorting by (query, distance, row) the copies are adjacent.
    """
    found = matches.where(is_live(matches.rows)) if len(matches.rows) else matches
    order = np.lexsort((found.rows, found.distances, found.queries))
    queries, rows, distances = found.queries[order], found.rows[order], found.distances[order]
    first = np.ones(len(rows), dtype=np.bool_)
    first[1:] = (rows[1:] != rows[:-1]) | (queries[1:] != queries[:-1])
    queries, rows, distances = queries[first], rows[first], distances[first]
    bounds = np.searchsorted(queries, np.arange(query_count + 1)).tolist()
    hits = hits_from(rows, distances)
    return [hits[bounds[i] : bounds[i + 1]] for i in range(query_count)]
