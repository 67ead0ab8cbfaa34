"""Values the services return to the CLI and the servers: plain frozen data, and the one
JSON helper (:func:`to_json`) that turns any of them into what ``--json`` prints."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from pathlib import PurePath
from typing import Any, ClassVar

from node.log.entry import Labels
from node.signals import ComputedSignal, Signal

# A dataclass whose JSON differs from its fields declares ``JSON``: (JSON key, attribute) pairs
# in output order, the attribute a field or a property (dotted: of a field); a dotted key nests
# ("checkpoint.size").
JsonShape = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FileHashes:
    name: str
    signals: tuple[ComputedSignal, ...]

    JSON: ClassVar[JsonShape] = (("file", "name"), ("signals", "signals"))


@dataclass(frozen=True)
class Published:
    origin: str
    entry_index: int
    kind: str
    source: str  # file name, "TYPE:VALUE", or "line N" of a bulk import


@dataclass(frozen=True)
class Skipped:
    """An ADD not appended because this origin already publishes every one of its signals
    live: ``entry_indexes`` are the live ADDs carrying them (``entry_index``, the first)."""

    origin: str
    entry_indexes: tuple[int, ...]
    source: str

    JSON: ClassVar[JsonShape] = (
        ("origin", "origin"),
        ("entry_index", "entry_index"),
        ("entry_indexes", "entry_indexes"),
        ("source", "source"),
        ("reason", "reason"),
    )

    @property
    def entry_index(self) -> int:
        return self.entry_indexes[0]

    @property
    def reason(self) -> str:
        return "already published"


@dataclass(frozen=True)
class PublishReport:
    entries: tuple[Published, ...]
    checkpoint_size: int
    checkpoint_root_hex: str
    # Already published live: not appended again (no new checkpoint when nothing else is new).
    skipped: tuple[Skipped, ...] = ()

    JSON: ClassVar[JsonShape] = (
        ("entries", "entries"),
        ("skipped", "skipped"),
        ("checkpoint.size", "checkpoint_size"),
        ("checkpoint.root", "checkpoint_root_hex"),
    )


@dataclass(frozen=True)
class OpinionSummary:
    true_positive: int = 0
    false_positive: int = 0
    disputed: int = 0
    agree_labels: int = 0
    disagree_labels: int = 0

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

    JSON: ClassVar[JsonShape] = (
        ("witnessed", "witnessed"),
        ("checkpoint_size", "checkpoint_size"),
        ("witnesses", "witness_count"),
        ("witness_names", "witnesses"),
        ("required", "required"),
    )

    @property
    def witnessed(self) -> bool:
        return self.checkpoint_size is not None

    @property
    def witness_count(self) -> int:
        return len(self.witnesses)

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


@dataclass(frozen=True)
class QueryResult:
    query: str
    matches: tuple[Match, ...]


def _signal(c: ComputedSignal | Signal) -> dict[str, object]:
    if isinstance(c, Signal):
        return {"type": c.type, "value": c.hex}
    return {"type": c.signal.type, "value": c.signal.hex, "quality": c.quality}


# Types of other layers, in the shape every JSON output gives them.
_FOREIGN: dict[type, Callable[[Any], object]] = {
    ComputedSignal: _signal,
    Signal: _signal,
}


def to_json(value: object) -> Any:
    """``value`` as JSON-ready data: dataclasses as objects of their fields, or of their
    ``JSON`` shape; enums as their values, bytes as hex, paths as text; ``field(metadata=
    {"json": name})`` renames a field (``self`` is no field name).

    A value with its own ``to_dict()`` keeps that shape (types not yet described by fields)."""
    if isinstance(value, Enum):
        return to_json(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, PurePath):
        return str(value)
    foreign = _FOREIGN.get(type(value))
    if foreign is not None:
        return foreign(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_json(to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    raise TypeError(f"no JSON form for {type(value).__name__}")


def _fields(value: Any) -> dict[str, Any]:
    shape: JsonShape | None = getattr(value, "JSON", None)
    if shape is None:
        shape = tuple((f.metadata.get("json", f.name), f.name) for f in dataclasses.fields(value))
    doc: dict[str, Any] = {}
    for key, attribute in shape:
        *outer, last = key.split(".")
        into = doc
        for part in outer:
            into = into.setdefault(part, {})
        into[last] = to_json(attrgetter(attribute)(value))
    return doc


def to_json_dict(value: object) -> dict[str, object]:
    """:func:`to_json` of a value whose JSON form is an object."""
    doc = to_json(value)
    if not isinstance(doc, dict):
        raise TypeError(f"{type(value).__name__} is not a JSON object")
    return doc
