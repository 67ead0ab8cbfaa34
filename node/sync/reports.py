"""What a sync of one peer reports, per origin and per peer (filled by node/sync/engine.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from node.sync.outcome import OK_OUTCOMES, SyncOutcome

if TYPE_CHECKING:
    from node.results import JsonShape

# What happened to one origin a peer offered (``OriginSyncReport.status``; node.sync.outcome).
IMPORTED = SyncOutcome.IMPORTED
UP_TO_DATE = SyncOutcome.UP_TO_DATE
PEER_BEHIND = SyncOutcome.PEER_BEHIND
OWN = SyncOutcome.OWN
UNTRUSTED = SyncOutcome.UNTRUSTED
HALTED = SyncOutcome.HALTED
REJECTED = SyncOutcome.REJECTED
EVIDENCE = SyncOutcome.EVIDENCE
FAILED = SyncOutcome.FAILED
PEER_OUTDATED = SyncOutcome.PEER_OUTDATED

OK_STATUSES = OK_OUTCOMES


@dataclass(frozen=True)
class SyncProgress:
    """Reported while entries arrive: ``received`` of ``total`` missing entries of ``origin``."""

    peer: str
    origin: str
    received: int
    total: int


ProgressFn = Callable[[SyncProgress], None]


@dataclass
class OriginSyncReport:
    origin: str
    status: SyncOutcome
    their_size: int = 0
    our_size_before: int = 0
    our_size_after: int = 0
    fetched: int = 0
    """Entries received from the peer in this run."""
    reused: int = 0
    """Entries already held beyond our newest checkpoint (verified and stored by an earlier,
    interrupted run), not fetched again."""
    imported: int = 0
    rejected: int = 0
    reason: str | None = None
    evidence_id: int | None = None
    own_damage: bool = False
    """The failure is our own store's damage (recorded as an integrity finding): nobody else's."""

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    JSON: ClassVar[JsonShape] = (
        ("origin", "origin"),
        ("status", "status"),
        ("their_size", "their_size"),
        ("our_size_before", "our_size_before"),
        ("our_size_after", "our_size_after"),
        ("fetched", "fetched"),
        ("reused", "reused"),
        ("received", "imported"),
        ("rejected", "rejected"),
        ("reason", "reason"),
        ("evidence_id", "evidence_id"),
    )


@dataclass
class PeerSyncReport:
    peer: str
    address: str = ""
    origins: list[OriginSyncReport] = field(default_factory=list)
    error: str | None = None
    """Why the peer could not be synced at all (unreachable, certificate refused, …)."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(o.ok for o in self.origins)

    @property
    def received(self) -> int:
        return sum(o.imported for o in self.origins)

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.origins)

    @property
    def fetched(self) -> int:
        return sum(o.fetched for o in self.origins)

    @property
    def reused(self) -> int:
        return sum(o.reused for o in self.origins)

    @property
    def untrusted_skipped(self) -> list[str]:
        return [o.origin for o in self.origins if o.status == UNTRUSTED]

    @property
    def evidence(self) -> list[OriginSyncReport]:
        return [o for o in self.origins if o.status == EVIDENCE]

    def problems(self) -> list[str]:
        """What went wrong, in words, one item per failure."""
        out = [] if self.error is None else [self.error]
        out.extend(f"{self.peer}: {o.origin}: {o.reason}" for o in self.origins if not o.ok)
        return out

    def summary(self) -> str:
        """One log line."""
        if self.error is not None:
            return f"sync {self.peer}: failed: {self.error}"
        parts = [
            f"{self.received} entries received",
            f"{self.fetched} fetched",
            f"{self.reused} held from an earlier run",
            f"{self.rejected} rejected",
        ]
        if self.untrusted_skipped:
            parts.append(f"{len(self.untrusted_skipped)} untrusted origin(s) skipped")
        if self.evidence:
            parts.append(f"EVIDENCE against {', '.join(o.origin for o in self.evidence)}")
        text = f"sync {self.peer}: " + ", ".join(parts)
        if not self.ok:
            text += "; " + "; ".join(self.problems())
        return text

    JSON: ClassVar[JsonShape] = (
        ("peer", "peer"),
        ("address", "address"),
        ("ok", "ok"),
        ("error", "error"),
        ("received", "received"),
        ("fetched", "fetched"),
        ("reused", "reused"),
        ("rejected", "rejected"),
        ("untrusted_origins_skipped", "untrusted_skipped"),
        ("origins", "origins"),
    )
