"""The records the store's repositories take and return: plain frozen values, nothing of SQLite
in them, so a second backend (node/store/interfaces.py) speaks the same vocabulary."""

from __future__ import annotations

import time
from dataclasses import dataclass


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class StoredCheckpoint:
    origin: str
    size: int
    root: bytes
    note: str
    frontier: bytes
    received_ms: int


@dataclass(frozen=True)
class SignalRow:
    type: str
    value: bytes
    quality: int | None


@dataclass(frozen=True)
class OpinionRow:
    target_origin: str
    target_idx: int
    target_leaf: bytes
    verdict: str
    agrees: bool


@dataclass(frozen=True)
class EntryRow:
    """One entry as the store keeps it, with what its statement adds to the derived tables."""

    idx: int
    leaf: bytes
    body: bytes
    kind: str
    create_ms: int
    signals: tuple[SignalRow, ...] = ()
    retracts: int | None = None
    opinion: OpinionRow | None = None


@dataclass(frozen=True)
class IndexedSignal:
    type: str
    row: int
    value: bytes


@dataclass(frozen=True)
class AppendResult:
    """What an append changed that the in-memory index must follow."""

    added: tuple[IndexedSignal, ...]
    retracted: tuple[tuple[str, int], ...]  # (signal type, row) no longer live
    appended: tuple[tuple[str, int, int, bytes], ...] = ()
    """Per signal type, the rows appended as (type, first row, count, values end to end) when
    ``indexed=False`` and the values were at hand (else not listed): what the index may take
    from memory once the transaction commits (:meth:`node.service.match_index.MatchIndex.hold`)."""


@dataclass(frozen=True)
class SignalHit:
    origin: str
    idx: int
    type: str
    value: bytes
    quality: int | None


@dataclass(frozen=True)
class OriginRow:
    name: str
    verifier_key: str
    is_self: bool


@dataclass(frozen=True)
class VerifiedHead:
    """Entries of ``origin`` held beyond its newest stored signed checkpoint (migration 005).

    ``size`` entries are stored; ``frontier`` is the Merkle frontier at that size; every one of
    them was proven, batch by batch, to be in the origin's signed tree of ``target_note`` (a
    larger size), so they are the origin's own. No checkpoint covers ``size`` itself: proofs
    and bundles for these entries wait until one does.
    """

    origin: str
    size: int
    frontier: bytes
    target_note: str
    updated_ms: int


@dataclass(frozen=True)
class MemberRow:
    origin: str
    verifier_key: str
    tls_certificate: str
    tls_fingerprint: str
    address: str
    trusted: bool


@dataclass(frozen=True)
class PeerRow:
    name: str
    address: str


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    origin: str
    kind: str
    first_note: str
    second_note: str
    detail: str
    peer: str | None
    detected_ms: int


@dataclass(frozen=True)
class PeerStatsRow:
    peer: str
    last_success_ms: int | None
    last_error: str | None
    last_error_ms: int | None
    received: int
    rejected: int
    reasons: dict[str, int]


@dataclass(frozen=True)
class PeerHealthRow:
    """How the latest sync round with a peer ended and when the next one is due
    (``node.sync.health``; migration 006)."""

    peer: str
    state: str
    reason: str | None
    consecutive_failures: int
    next_attempt_ms: int | None
    last_round_ms: int
    last_round_s: float


@dataclass(frozen=True)
class CosignatureRow:
    origin: str
    size: int
    witness: str
    key_id: bytes
    timestamp: int
    line: str


@dataclass(frozen=True)
class CheckpointNoteRow:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class WitnessStateRow:
    origin: str
    size: int
    root: bytes
    cosigned_ms: int


@dataclass(frozen=True)
class AuditorRow:
    name: str
    witness_key: str | None
    tls_certificate: str
    tls_fingerprint: str
    added_ms: int


@dataclass(frozen=True)
class AuditReadRow:
    id: int
    auditor: str
    method: str
    request: str
    at_ms: int


@dataclass(frozen=True)
class OperatorLogRow:
    id: int
    action: str
    subject: str
    detail: str
    at_ms: int


@dataclass(frozen=True)
class DroppedHead:
    """What :meth:`SqliteIntegrity.drop_verified_head_entries` removed of one origin."""

    origin: str
    kept: int  # entries [0, kept) stay: the newest stored checkpoint's size
    entries: int  # entries [kept, kept + entries) were removed
    signal_rows: int  # their signal rows (other rows of those types were renumbered)
