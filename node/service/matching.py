"""Matching: every query (a signal, a file, media) goes through one batched path.

Files and media are hashed first; then each query is a name and its signals, searched in one
batch per signal type and threshold, located in one store query per type, each matched entry
decoded once. ``_describe`` is the one place a ``Match`` is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from node.errors import MalformedError
from node.log.entry import Add, Verdict, decode_entry
from node.log.merkle import leaf_hash
from node.results import Match, OpinionSummary, QueryResult, SignalDistance, Witnessing
from node.service import integrity_findings, integrity_report
from node.service.hashing import MediaHasher
from node.service.index_handle import IndexHandle
from node.service.match_index import TypedHit
from node.service.witnessing import Covering, Witness
from node.signals import ComputedSignal, Signal
from node.store.store import Store

# One query: its name and its signals, each with the threshold it is searched with.
Query = tuple[str, Sequence[tuple[Signal, int | None]]]


class Matcher:
    """Looks signals up in the match index and describes the shared entries they match."""

    def __init__(
        self,
        store: Store,
        home: Path,
        origin: str,
        hasher: MediaHasher,
        index: IndexHandle,
        witness: Witness,
    ) -> None:
        self._store = store
        self._home = home
        self._origin = origin
        self._hasher = hasher
        self._index = index
        self._witness = witness

    def match_signals(
        self, signals: Sequence[Signal], threshold: int | None = None
    ) -> list[QueryResult]:
        """One result per signal; ``threshold`` applies to every perceptual type."""
        return self.match([(str(s), [(s, threshold)]) for s in signals])

    def match_files(self, paths: Sequence[Path], threshold: int | None = None) -> list[QueryResult]:
        """Match each file by every signal it yields; ``threshold`` applies to PDQ."""
        hashed = self._hasher.hash_files(paths)
        return self.match([(h.name, _pdq_threshold(h.signals, threshold)) for h in hashed])

    def match_media(
        self, content: bytes, name: str = "", pdq_threshold: int | None = None
    ) -> QueryResult:
        signals = self._hasher.hash_bytes(content, name)
        return self.match([(name or "media", _pdq_threshold(signals, pdq_threshold))])[0]

    def match(self, queries: Sequence[Query]) -> list[QueryResult]:
        """One result per query, its matches nearest first (then by origin and index).

        One pass for the whole call (StreamMatches sends up to 1,000 queries at once): the
        index caught up once, every signal searched in one batch per type and threshold."""
        index = self._index.index
        index.refresh()
        flat = [
            (q, signal, threshold)
            for q, (_, sigs) in enumerate(queries)
            for signal, threshold in sigs
        ]
        by_threshold: dict[int | None, list[int]] = {}
        for i, (_, _, threshold) in enumerate(flat):
            by_threshold.setdefault(threshold, []).append(i)
        found: list[list[TypedHit]] = [[] for _ in flat]
        for threshold, where in by_threshold.items():
            answers = index.search_many([flat[i][1] for i in where], threshold)
            for i, hits in zip(where, answers, strict=True):
                found[i] = hits
        wanted: dict[str, set[int]] = {}
        for hits in found:
            for h in hits:
                wanted.setdefault(h.type, set()).add(h.row)
        located = {
            t: self._store.signals.signal_hits(t, sorted(rows)) for t, rows in wanted.items()
        }
        per_query: list[dict[tuple[str, int], list[SignalDistance]]] = [{} for _ in queries]
        for (q, _, _), hits in zip(flat, found, strict=True):
            for h in hits:
                at = located[h.type][h.row]
                per_query[q].setdefault((at.origin, at.idx), []).append(
                    SignalDistance(h.type, h.distance)
                )
        described = _PerCall()
        results = []
        for (name, _), by_entry in zip(queries, per_query, strict=True):
            matches = [
                self._describe(name, origin, idx, distances, described)
                for (origin, idx), distances in by_entry.items()
            ]
            matches.sort(
                key=lambda m: (min(d.distance for d in m.signals), m.origin, m.entry_index)
            )
            results.append(QueryResult(name, tuple(matches)))
        return results

    def _describe(
        self,
        query: str,
        origin: str,
        idx: int,
        distances: list[SignalDistance],
        described: _PerCall,
    ) -> Match:
        """The ``Match`` of one entry for one query; ``described`` keeps, for one call, what
        every query matching the same entry shares (each entry decoded once, each origin's
        witness coverage read once)."""
        if (origin, idx) not in described.entries:
            body, leaf = self._matched_entry(origin, idx)
            statement = decode_entry(body).statement
            assert isinstance(statement, Add)  # only ADDs carry signals
            covering = described.coverings.get(origin)
            if covering is None:
                covering = described.coverings[origin] = self._witness.covering(origin)
            described.entries[origin, idx] = (
                statement,
                self.opinion_summary(origin, idx, leaf),
                self._witness.status(origin, idx, covering),
            )
        statement, opinions, witnessing = described.entries[origin, idx]
        return Match(
            query=query,
            origin=origin,
            entry_index=idx,
            signals=tuple(sorted(distances, key=lambda d: d.type)),
            labels=statement.labels,
            note=statement.note,
            opinions=opinions,
            witnessing=witnessing,
        )

    def _matched_entry(self, origin: str, idx: int) -> tuple[bytes, bytes]:
        """(body, leaf) of a matched entry. A body that no longer hashes to its leaf is
        recorded (``hashfed status`` then reports the store unhealthy and why), and refused
        with a DamageError naming it when it does not even parse; the match itself comes from
        the signal rows, which the check compares separately."""
        body, leaf = self._store.log.entry(origin, idx)
        if leaf_hash(body) != leaf:
            damage = integrity_report.Damage(
                origin,
                "entry",
                "its stored body does not hash to its stored leaf (found while matching)",
                integrity_report.repair_advice(origin, self._origin),
                idx,
            )
            integrity_findings.record_damage(self._home, damage, "match")
            try:
                decode_entry(body)
            except MalformedError:
                raise integrity_report.refuse(damage) from None
        return body, leaf

    def opinion_summary(self, origin: str, idx: int, leaf: bytes) -> OpinionSummary:
        counts = {v: 0 for v in Verdict}
        agree = disagree = 0
        for _, verdict, agrees in self._store.log.opinions_on(origin, idx, leaf):
            counts[Verdict(verdict)] += 1
            agree += agrees
            disagree += not agrees
        return OpinionSummary(
            counts[Verdict.TRUE_POSITIVE],
            counts[Verdict.FALSE_POSITIVE],
            counts[Verdict.DISPUTED],
            agree,
            disagree,
        )


@dataclass
class _PerCall:
    entries: dict[tuple[str, int], tuple[Add, OpinionSummary, Witnessing]] = field(
        default_factory=dict
    )
    coverings: dict[str, Covering] = field(default_factory=dict)


def _pdq_threshold(
    signals: Sequence[ComputedSignal], threshold: int | None
) -> list[tuple[Signal, int | None]]:
    """A file's signals to search: ``threshold`` for PDQ, every other type its default."""
    return [(c.signal, threshold if c.signal.type == "pdq" else None) for c in signals]
