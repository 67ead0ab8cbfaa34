"""Values the facade returns to the CLI and the servers: plain frozen data, JSON-ready."""

from __future__ import annotations

from dataclasses import dataclass

from node.log.entry import Labels
from node.signals import ComputedSignal


@dataclass(frozen=True)
class FileHashes:
    name: str
    signals: tuple[ComputedSignal, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.name,
            "signals": [
                {"type": c.signal.type, "value": c.signal.hex, "quality": c.quality}
                for c in self.signals
            ],
        }


@dataclass(frozen=True)
class Published:
    origin: str
    entry_index: int
    kind: str
    source: str  # file name, "TYPE:VALUE", or "line N" of a bulk import

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "entry_index": self.entry_index,
            "kind": self.kind,
            "source": self.source,
        }


@dataclass(frozen=True)
class Skipped:
    """An ADD not appended because this origin already publishes every one of its signals
    live: ``entry_indexes`` are the live ADDs carrying them (``entry_index``, the first)."""

    origin: str
    entry_indexes: tuple[int, ...]
    source: str

    @property
    def entry_index(self) -> int:
        return self.entry_indexes[0]

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "entry_index": self.entry_index,
            "entry_indexes": list(self.entry_indexes),
            "source": self.source,
            "reason": "already published",
        }


@dataclass(frozen=True)
class PublishReport:
    entries: tuple[Published, ...]
    checkpoint_size: int
    checkpoint_root_hex: str
    # Already published live: not appended again (no new checkpoint when nothing else is new).
    skipped: tuple[Skipped, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "entries": [e.to_dict() for e in self.entries],
            "skipped": [s.to_dict() for s in self.skipped],
            "checkpoint": {"size": self.checkpoint_size, "root": self.checkpoint_root_hex},
        }


@dataclass(frozen=True)
class OpinionSummary:
    true_positive: int = 0
    false_positive: int = 0
    disputed: int = 0
    agree_labels: int = 0
    disagree_labels: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "true_positive": self.true_positive,
            "false_positive": self.false_positive,
            "disputed": self.disputed,
            "agree_labels": self.agree_labels,
            "disagree_labels": self.disagree_labels,
        }

    def __str__(self) -> str:
        if not (self.true_positive or self.false_positive or self.disputed):
            return "-"
        parts = [
            f"{n} {name}"
            for n, name in (
                (self.true_positive, "TP"),
                (self.false_positive, "FP"),
                (self.disputed, "disputed"),
            )
            if n
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class SignalDistance:
    type: str
    distance: int


@dataclass(frozen=True)
class Witnessing:
    """Whether a matched entry is covered by a checkpoint that meets the witness policy.

    ``checkpoint_size`` is the smallest witnessed checkpoint covering the entry, or None when
    none is yet; ``witnesses`` then counts the best covering checkpoint's witnesses.
    """

    checkpoint_size: int | None
    witnesses: tuple[str, ...]
    required: int

    @property
    def witnessed(self) -> bool:
        return self.checkpoint_size is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "witnessed": self.witnessed,
            "checkpoint_size": self.checkpoint_size,
            "witnesses": len(self.witnesses),
            "witness_names": list(self.witnesses),
            "required": self.required,
        }

    def describe(self) -> str:
        if self.witnessed:
            return (
                f"witnessed by {len(self.witnesses)} (checkpoint {self.checkpoint_size}: "
                f"{', '.join(self.witnesses)})"
            )
        return f"unwitnessed ({len(self.witnesses)} of {self.required} witnesses so far)"


@dataclass(frozen=True)
class Match:
    """One shared entry that a query matched, with every signal type that matched it."""

    query: str
    origin: str
    entry_index: int
    signals: tuple[SignalDistance, ...]
    labels: Labels
    note: str
    opinions: OpinionSummary
    witnessing: Witnessing | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "origin": self.origin,
            "entry_index": self.entry_index,
            "signals": [{"type": s.type, "distance": s.distance} for s in self.signals],
            "labels": self.labels.to_dict(),
            "note": self.note,
            "opinions": self.opinions.to_dict(),
            "witnessing": None if self.witnessing is None else self.witnessing.to_dict(),
        }


@dataclass(frozen=True)
class QueryResult:
    query: str
    matches: tuple[Match, ...]

    def to_dict(self) -> dict[str, object]:
        return {"query": self.query, "matches": [m.to_dict() for m in self.matches]}
