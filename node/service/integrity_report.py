"""What a check of the store finds: each finding (:class:`Damage`), what one check covered, and
how each kind of finding is repaired.

``kind`` of a finding:

``body``        the body no longer hashes to its stored leaf, and the stored leaves still fold
                to the signed root: the body changed (the leaf says what it was)
``leaf``        the body hashes to what the signed root needs, but the stored leaf column changed
``entry``       a body and its leaf disagree and neither folds to the signed root, or a body no
                longer parses as an entry of its origin
``root``        leaves of a range fold to another root than the signed checkpoint: some entry in
                that range changed together with its leaf
``missing``     an index below a checkpoint's size has no entry
``checkpoint``  a stored note that does not verify with the origin's key, or whose size or root
                differs from the columns stored beside it
``frontier``    the stored Merkle frontier of a checkpoint is not the one its leaves give (the
                next append would extend a wrong tree)
``signals``     the signal rows of an entry (what matching uses) differ from the signals in its
                body, or its kind or retraction mark is wrong
``database``    ``PRAGMA quick_check`` found the file's structure damaged
``head``        the verified head (entries held beyond the newest checkpoint) is not what its
                leaves give, or its target note does not verify or is not larger

A finding also says how to repair it: this node's own log is rebuilt from a peer
(``hashfed recover --peer NAME``); another origin's log is held, signed, by every peer that
relays it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from node.errors import DamageError

# Findings about one entry, which `hashfed check --repair` can fetch again from a peer.
ENTRY_KINDS = frozenset({"body", "leaf", "entry", "signals"})


@dataclass(frozen=True)
class Damage:
    origin: str
    kind: str  # see the module docstring
    detail: str
    repair: str
    index: int | None = None  # the damaged entry, when one is known
    checkpoint_size: int | None = None  # the checkpoint concerned, for root/checkpoint/frontier

    def key(self) -> tuple[str, str, int | None, int | None]:
        return (self.origin, self.kind, self.index, self.checkpoint_size)

    def line(self) -> str:
        where = (
            f"entry {self.index}"
            if self.index is not None
            else f"checkpoint {self.checkpoint_size}"
            if self.checkpoint_size is not None
            else "database"
        )
        return f"{self.origin} {where}: {self.detail}. Repair: {self.repair}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> Damage:
        index, size = doc.get("index"), doc.get("checkpoint_size")
        return cls(
            origin=str(doc["origin"]),
            kind=str(doc["kind"]),
            detail=str(doc["detail"]),
            repair=str(doc["repair"]),
            index=index if isinstance(index, int) else None,
            checkpoint_size=size if isinstance(size, int) else None,
        )


@dataclass
class OriginCheck:
    origin: str
    size: int = 0  # newest checkpoint's size
    entries: int = 0  # entries whose leaves were folded
    bodies: int = 0  # of those, entries whose bodies were rehashed and decoded
    checkpoints: int = 0  # checkpoints whose roots were compared
    notes_verified: int = 0  # of those, notes whose signature was verified
    complete: bool = True


@dataclass
class CheckReport:
    scope: str  # "full", "startup" or "bundle"
    origins: list[OriginCheck] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None  # why the check ended before covering everything

    @property
    def clean(self) -> bool:
        return not self.damage

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "clean": self.clean,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "origins": [asdict(o) for o in self.origins],
            "damage": [d.to_dict() for d in self.damage],
        }


@dataclass(frozen=True)
class Scope:
    """How much of a log a check covers. The full check covers everything; the start-up check
    rehashes only the newest ``bodies`` entries' bodies and verifies only the newest
    checkpoint's signature, but still folds every leaf against every checkpoint's root."""

    bodies: int | None = None  # newest entries whose bodies are checked; None: all
    all_signatures: bool = True
    deadline: float | None = None  # time.monotonic() value at which to stop


def repair_advice(origin: str, own_origin: str | None, kind: str = "body") -> str:
    if kind not in ENTRY_KINDS:
        if origin == own_origin:
            return (
                "rebuild this node's own log from a peer that holds it: `hashfed recover "
                "--peer NAME`"
            )
        return (
            f"restore hashfed.db from a backup, or copy {origin}'s log again from a peer into "
            "a fresh node home (`hashfed init`, `hashfed peer add`, `hashfed sync`)"
        )
    if origin == own_origin:
        return (
            "rebuild this node's own log from a peer that holds it: `hashfed recover --peer "
            "NAME` (or fetch just the damaged entries: `hashfed check --repair --peer NAME`)"
        )
    return f"fetch it again from a peer that relays {origin}: `hashfed check --repair --peer NAME`"


def refuse(damage: Damage) -> DamageError:
    return DamageError(
        f"refusing to serve {damage.origin} entry {damage.index}: {damage.detail} "
        f"(run `hashfed check --origin {damage.origin}`). Repair: {damage.repair}"
    )


# -- our own damage met during a sync ----------------------------------------------------------


class OwnDamageError(DamageError):
    """A sync found that our own store, not a peer or an origin, is wrong: a stored leaf,
    frontier or root no longer matches what the origin signed. Never evidence against anyone;
    ``damage`` is the finding (already recorded beside the store)."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(damage.line())
        self.damage = damage


def own_damage_repair(origin: str) -> str:
    return (
        f"run `hashfed check --origin {origin}` to find the damaged entry, then fetch it again "
        "from a peer: `hashfed check --repair --peer NAME`"
    )
