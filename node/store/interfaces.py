"""The store's interfaces: one Protocol per repository, and the store that composes them.

The SQLite classes (node/store/log.py and its siblings) implement them; a second backend
(PostgreSQL) implements the same Protocols, so callers depend on these and never on SQL.
What crosses them are the plain records of node/store/rows.py, ints, bytes and strings:
nothing of a driver (no cursor, no row object, no SQL text). Transactions belong to the
store: every repository's writes inside ``store.transaction()`` commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from node.store.rows import (
    AppendResult,
    AuditorRow,
    AuditReadRow,
    CheckpointNoteRow,
    CosignatureRow,
    DroppedHead,
    EntryRow,
    EvidenceRow,
    IndexedSignal,
    MemberRow,
    OperatorLogRow,
    OriginRow,
    PeerHealthRow,
    PeerRow,
    PeerStatsRow,
    SignalHit,
    StoredCheckpoint,
    VerifiedHead,
    WitnessStateRow,
)


class LogRepository(Protocol):
    """The logs: entries, checkpoints, what entries say about earlier ones, verified heads."""

    def latest_checkpoint(self, origin: str) -> StoredCheckpoint | None:
        """The stored checkpoint of ``origin`` with the largest size."""

    def checkpoint_at(self, origin: str, size: int) -> StoredCheckpoint | None: ...

    def checkpoints(self, origin: str) -> list[StoredCheckpoint]: ...

    def put_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        """Store a checkpoint (the one covering entries appended in this transaction)."""

    def newest_checkpoints(self) -> dict[str, tuple[int, bytes]]:
        """(size, root) of every origin's newest stored checkpoint."""

    def checkpoint_notes_from(
        self, origin: str, min_size: int, cosigned_only: bool, limit: int
    ) -> list[CheckpointNoteRow]:
        """Up to ``limit`` checkpoints of ``origin`` from ``min_size`` on, ascending, only
        cosigned ones if asked; the work is bounded by ``limit``."""

    def checkpoint_at_or_below(self, origin: str, size: int) -> tuple[int, bytes] | None:
        """(size, frontier) of the largest stored checkpoint of ``origin`` not above ``size``."""

    def append(
        self, origin: str, entries: Sequence[EntryRow], checkpoint: StoredCheckpoint
    ) -> AppendResult:
        """Store entries and the checkpoint covering them. Call inside a transaction."""

    def append_chunk(
        self,
        origin: str,
        entries: Sequence[tuple[int, bytes, bytes, str, int]],
        signals: Sequence[tuple[int, str, bytes, int | None]],
        special: Sequence[EntryRow],
        *,
        indexed: bool = True,
    ) -> AppendResult:
        """Store consecutive entries, their signals (``(idx, type, value, quality)`` in log
        order, rows numbered densely per type) and the effects of ``special`` (RETRACTs and
        OPINIONs), without a checkpoint: one part of an append that ends with
        :meth:`put_checkpoint` in the same transaction. ``indexed=False``: no row per added
        signal in the result."""

    def entry(self, origin: str, idx: int) -> tuple[bytes, bytes]:
        """(body, leaf) of one entry."""

    def entries(self, origin: str, start: int = 0, stop: int | None = None) -> Iterator[EntryRow]:
        """Entries ``[start, stop)`` of ``origin`` in log order, read lazily."""

    def bodies(self, origin: str, start: int, stop: int) -> list[bytes]:
        """Bodies of entries ``[start, stop)`` in log order."""

    def leaves(self, origin: str, size: int) -> list[bytes]:
        """Leaf hashes of the first ``size`` entries in log order."""

    def leaf_range(self, origin: str, start: int, stop: int) -> list[bytes]:
        """Leaf hashes of entries ``[start, stop)`` in log order."""

    def counts(self, origin: str) -> dict[str, int]:
        """Entries of ``origin`` by kind (ADD, RETRACT, OPINION)."""

    def retraction_of(self, origin: str, target_idx: int) -> int | None:
        """The index of the RETRACT that took effect on entry ``target_idx``, if any."""

    def is_retracted(self, origin: str, idx: int) -> bool: ...

    def retractions(self, origin: str) -> list[tuple[int, int]]:
        """(target index, RETRACT index) of every retraction that took effect in ``origin``."""

    def opinions_on(self, origin: str, idx: int, leaf: bytes) -> list[tuple[str, str, bool]]:
        """Each author's latest opinion on exactly these bytes: (author, verdict, agrees)."""

    def opinion_indices(self, origin: str) -> list[int]:
        """Indices of the OPINION entries of ``origin`` whose opinion was recorded."""

    def verified_head(self, origin: str) -> VerifiedHead | None:
        """Entries of ``origin`` held beyond its newest checkpoint, if any."""

    def put_verified_head(self, head: VerifiedHead) -> None:
        """Record (or move) the verified head; in the transaction that stores its entries."""

    def drop_verified_head(self, origin: str, *, up_to: int | None = None) -> None:
        """Forget the head (only one of size ``up_to`` or less, when given)."""


class SignalRepository(Protocol):
    """Signal rows by type and row: what the in-memory match index is built from and follows."""

    def index_own_signals(self, origin: str) -> None:
        """Create the partial index :meth:`live_own_signals` uses (done once, by ``init``)."""

    def live_own_signals(
        self, origin: str, wanted: Sequence[tuple[str, bytes]]
    ) -> dict[tuple[str, bytes], int]:
        """For each ``(type, value)`` a live ADD of ``origin`` (this node's own) carries, the
        smallest such entry index."""

    def signal_types(self) -> list[str]: ...

    def signal_rows(self, signal_type: str) -> tuple[list[bytes], list[int]]:
        """Every stored value of one type in row order, and the rows that are not live."""

    def signal_hits(self, signal_type: str, rows: Sequence[int]) -> dict[int, SignalHit]:
        """What each of ``rows`` of ``signal_type`` is: origin, entry, value, quality."""

    def signals_since(self, signal_type: str, first_row: int) -> list[IndexedSignal]:
        """Rows of ``signal_type`` from ``first_row`` on, in row order."""

    def retracted_since(self, cursor: int) -> tuple[list[tuple[str, int]], int]:
        """Signal rows retracted after ``cursor`` (a retractions rowid), and the new cursor."""

    def signal_count(self, signal_type: str) -> int:
        """Rows stored for ``signal_type`` (rows are dense from 0, so MAX(row) + 1)."""

    def signal_values_since(
        self, signal_type: str, first_row: int, size: int
    ) -> tuple[bytearray, int]:
        """Values of rows ``first_row..`` of one type, end to end, and how many there are."""

    def retraction_cursor(self) -> int:
        """The newest retraction's rowid (what :meth:`retracted_since` returns as its cursor)."""

    def signal_sample(
        self, signal_type: str, rows: Sequence[int]
    ) -> list[tuple[int, str, int, bytes]]:
        """(row, origin, idx, value) of the given rows of one type, in row order."""

    def origin_signal_rows(self, origin: str) -> list[tuple[str, int, bool]]:
        """(type, row, retracted) of every signal row ``origin``'s entries carry."""


class MemberRepository(Protocol):
    """Origins, member cards and trust, peers and how syncing with them went."""

    def add_origin(self, name: str, verifier_key: str, *, is_self: bool) -> None: ...

    def origins(self) -> list[OriginRow]: ...

    def origin(self, name: str) -> OriginRow: ...

    def put_member(self, row: MemberRow) -> None:
        """Accept or update a member card: its origin's key, certificate, address and trust
        (each change of trust also becomes a trust event)."""

    def members(self) -> list[MemberRow]: ...

    def is_trusted(self, origin: str) -> bool: ...

    def trust_changes_since(self, cursor: int) -> tuple[dict[str, bool], int]:
        """Latest trust state of each origin changed after ``cursor``, and the new cursor."""

    def trust_cursor(self) -> int: ...

    def caller_for_fingerprint(self, fingerprint: str) -> tuple[str, str] | None:
        """(name, "member" or "auditor") holding the TLS certificate with this fingerprint."""

    def put_peer(self, name: str, address: str) -> None: ...

    def delete_peer(self, name: str) -> bool:
        """Forget a peer and its sync schedule (added again, it starts afresh); False when it
        was not known."""

    def peers(self) -> list[PeerRow]: ...

    def record_peer(
        self,
        peer: str,
        *,
        received: int = 0,
        rejected: int = 0,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Add one sync outcome to the peer's running totals."""

    def peer_stats(self) -> dict[str, PeerStatsRow]: ...

    def put_peer_health(self, row: PeerHealthRow) -> None: ...

    def peer_health(self) -> dict[str, PeerHealthRow]: ...


class WitnessRepository(Protocol):
    """Witness keys, cosignatures and this node's own witness state."""

    def set_witness_key(self, origin: str, witness_key: str | None) -> None: ...

    def witness_keys(self) -> dict[str, str]:
        """Witness vkey of every origin that has one (auditors excluded)."""

    def put_cosignatures(self, rows: Sequence[CosignatureRow]) -> int:
        """Keep verified cosignatures; a newer one from the same witness replaces the older."""

    def cosignatures(
        self, origin: str, min_size: int = 0, max_size: int | None = None
    ) -> dict[int, list[CosignatureRow]]:
        """Cosignatures of checkpoints sized ``min_size..max_size``, by size."""

    def witness_state(self, origin: str) -> WitnessStateRow | None: ...

    def put_witness_state(self, origin: str, size: int, root: bytes) -> None: ...


class AuditRepository(Protocol):
    """Auditors and their reads, the operator log, evidence and halted origins."""

    def put_auditor(self, row: AuditorRow) -> None: ...

    def delete_auditor(self, name: str) -> bool: ...

    def auditors(self) -> list[AuditorRow]: ...

    def add_audit_read(self, auditor: str, method: str, request: str) -> None: ...

    def audit_reads(self, auditor: str | None = None, limit: int = 1000) -> list[AuditReadRow]:
        """Newest first."""

    def add_operator_log(self, action: str, subject: str, detail: str) -> int: ...

    def operator_log(self) -> list[OperatorLogRow]: ...

    def add_evidence(
        self, origin: str, kind: str, first: str, second: str, detail: str, peer: str | None
    ) -> int:
        """Keep evidence against ``origin`` and halt it; the evidence id."""

    def evidence(self) -> list[EvidenceRow]: ...

    def halted_origins(self) -> set[str]: ...

    def clear_halt(self, origin: str) -> bool:
        """Let ``origin`` import again; False when it was not halted."""


class IntegrityRepository(Protocol):
    """Bounded reads for `hashfed check`, the backend's own check, and the one in-place repair."""

    def checkpoint_chunk(
        self, origin: str, min_size: int, limit: int
    ) -> list[tuple[int, bytes, str, bytes]]:
        """(size, root, note, frontier) of up to ``limit`` checkpoints from ``min_size`` on."""

    def entry_chunk(
        self, origin: str, start: int, limit: int, *, bodies: bool = True
    ) -> list[tuple[int, bytes, bytes | None, str]]:
        """(idx, leaf, body or None, kind) of up to ``limit`` entries from ``start`` on."""

    def entry_count(self, origin: str) -> tuple[int, int]:
        """(number of entries, highest index + 1) stored for ``origin``."""

    def signals_between(
        self, origin: str, start: int, stop: int
    ) -> list[tuple[int, str, bytes, int | None, int]]:
        """(idx, type, value, quality, retracted) of the signal rows of entries [start, stop)."""

    def retracted_between(self, origin: str, start: int, stop: int) -> set[int]:
        """Targets in [start, stop) of RETRACTs that came after them (which mark their rows)."""

    def row_counts(self) -> dict[str, int]:
        """Rows held of each kind (entries, signals, checkpoints, retractions, opinions,
        verified_heads), all origins together."""

    def quick_check(self) -> list[str]: ...

    def replace_entry(
        self,
        origin: str,
        idx: int,
        body: bytes,
        leaf: bytes,
        kind: str,
        signals: Sequence[tuple[str, bytes, int | None]],
    ) -> bool:
        """Put back one entry's bytes and its signal values in place; False when its
        stored rows cannot take them."""

    def drop_verified_head_entries(self, origin: str) -> DroppedHead:
        """Forget ``origin``'s verified head and every entry beyond its newest stored
        checkpoint, with their signal rows (the type's later rows fill the gaps), retractions
        and opinions. Inside a transaction."""


class StoreBackend(Protocol):
    """A node's store: the repositories over one database, and its transactions."""

    log: LogRepository
    signals: SignalRepository
    members: MemberRepository
    witnessing: WitnessRepository
    audit: AuditRepository
    integrity: IntegrityRepository

    def close(self) -> None: ...

    def migrations(self) -> list[str]:
        """Names of the schema migrations applied, in order."""

    def transaction(self) -> AbstractContextManager[None]:
        """One write transaction; inside another, a savepoint of it (undone alone on error)."""

    def transaction_read(self) -> AbstractContextManager[None]:
        """A consistent snapshot across several reads."""

    def large_cache(self, mib: int = 128) -> AbstractContextManager[None]:
        """More memory for one large write, where the backend can use it."""

    def durable(self) -> AbstractContextManager[None]:
        """Transactions inside are on disk when they commit, even across a power loss."""

    def exclusive(self) -> AbstractContextManager[None]:
        """One durable write transaction with the database to ourselves, or a refusal."""

    def change_stamp(self) -> tuple[int, int]:
        """A value that stays equal while no table changes."""
