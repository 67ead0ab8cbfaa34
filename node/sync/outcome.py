"""What happened to one origin a peer offered in a sync (``OriginSyncReport.status``)."""

from __future__ import annotations

from enum import StrEnum


class SyncOutcome(StrEnum):
    IMPORTED = "imported"
    UP_TO_DATE = "up-to-date"
    PEER_BEHIND = "peer-behind"
    OWN = "own-origin"
    UNTRUSTED = "untrusted-skipped"
    HALTED = "halted"
    REJECTED = "rejected"
    EVIDENCE = "evidence"
    FAILED = "failed"
    PEER_OUTDATED = "peer-outdated"
    """The peer runs a hashfed older than batch proofs (docs/protocol.md §8): a failure to back
    off from and report to its operator, never a lie counted against it."""

    @property
    def ok(self) -> bool:
        """Whether the sync of that origin went as it should (nothing to report or retry)."""
        return self in OK_OUTCOMES


OK_OUTCOMES = frozenset(
    {
        SyncOutcome.IMPORTED,
        SyncOutcome.UP_TO_DATE,
        SyncOutcome.PEER_BEHIND,
        SyncOutcome.OWN,
        SyncOutcome.UNTRUSTED,
        SyncOutcome.HALTED,
        SyncOutcome.EVIDENCE,
    }
)
