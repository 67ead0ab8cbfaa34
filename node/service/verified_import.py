"""Storing another origin's entries, only once they reproduce its signed root."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from node.errors import (
    EquivocationError,
    InvalidInputError,
    MalformedError,
    ProofError,
    SyncError,
)
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.merkle import Frontier, leaf_hash
from node.service.entry_rows import EntryTuple, SignalTuple, entry_row, rows_of
from node.service.match_index import MatchIndex
from node.store.rows import AppendResult, EntryRow, StoredCheckpoint, VerifiedHead
from node.store.store import Store

# Entries go in in chunks, so a large sync never holds every row in memory twice.
CHUNK = 50_000


def _slow_rows(origin: str) -> Callable[[int, bytes, bytes], EntryRow]:
    def slow(idx: int, body: bytes, leaf: bytes) -> EntryRow:
        entry = decode_entry(body)
        if entry.origin != origin:
            raise MalformedError(f"entry {idx} names origin {entry.origin!r}, expected {origin!r}")
        return entry_row(idx, body, leaf, entry.statement, entry.create_time_ms)

    return slow


def _chunks(
    origin: str,
    first: int,
    bodies: Sequence[bytes],
    size: int,
    slow: Callable[[int, bytes, bytes], EntryRow],
) -> Iterator[tuple[list[bytes], list[EntryTuple], list[SignalTuple], list[EntryRow]]]:
    for start in range(0, len(bodies), size):
        part = bodies[start : start + size]
        leaves = [leaf_hash(body) for body in part]
        yield leaves, *rows_of(origin, first + start, part, leaves, slow)


def import_verified(
    store: Store,
    origin: str,
    checkpoint: SignedCheckpoint,
    bodies: Sequence[bytes],
    index: MatchIndex | None,
) -> int:
    """Append ``bodies`` after our verified frontier of ``origin`` in one transaction that
    commits only if they reproduce ``checkpoint`` (already verified with the origin's key).

    Raises :class:`ProofError` (nothing stored) otherwise. A small import hands ``index`` the
    new rows directly; a large one leaves it to catch up from the store afterwards (one bulk
    read, no record per signal held meanwhile). Returns the number of entries imported.
    """
    cp = checkpoint.checkpoint
    now = time.time_ns() // 1_000_000
    first = cp.size - len(bodies)

    results: list[AppendResult] = []
    indexed = index is not None and len(bodies) <= CHUNK
    with store.large_cache(), store.transaction():
        _require_importable(store, origin)
        ahead = held(store, origin)
        if ahead.size > first:
            # Another sync (another peer streaming the same origin at once) stored first.
            raise ProofError(
                f"our log of {origin} is at size {ahead.size}, not {first}: it changed "
                "during the sync; nothing imported"
            )
        frontier = ahead.frontier
        extended = frontier
        for leaves, entries, signals, special in _chunks(
            origin, first, bodies, CHUNK, _slow_rows(origin)
        ):
            extended = extended.extend(leaves)
            results.append(
                store.log.append_chunk(origin, entries, signals, special, indexed=indexed)
            )
        _require_root(origin, checkpoint, frontier, extended)
        store.log.put_checkpoint(
            StoredCheckpoint(origin, cp.size, cp.root, checkpoint.text(), extended.to_bytes(), now)
        )
        store.log.drop_verified_head(origin, up_to=cp.size)
    if index is not None and indexed:
        for result in results:
            index.apply(result)
    return len(bodies)


def _require_importable(store: Store, origin: str) -> None:
    """Checked under the write lock: `member remove`, or evidence recorded by another process
    (a CLI sync beside `serve`), may have come since the sync planned this import, and an
    untrusted or halted origin's entries must never be stored."""
    if not any(m.origin == origin and m.trusted for m in store.members.members()):
        raise InvalidInputError(f"{origin} is not a trusted member; nothing imported")
    if origin in store.audit.halted_origins():
        raise EquivocationError(
            f"import from {origin} is stopped: evidence of equivocation is recorded"
        )


def _require_root(
    origin: str, checkpoint: SignedCheckpoint, frontier: Frontier, extended: Frontier
) -> None:
    """Raise :class:`ProofError` unless ``frontier`` extended to ``extended`` is the signed
    tree of ``checkpoint``."""
    cp = checkpoint.checkpoint
    count = extended.size - frontier.size
    if cp.origin != origin or cp.size != extended.size:
        raise ProofError(
            f"{count} entries after size {frontier.size} cannot make the signed "
            f"tree of {cp.origin} size {cp.size}"
        )
    if extended.root() != cp.root:
        raise ProofError(
            f"entries {frontier.size}..{cp.size - 1} of {origin} give root "
            f"{extended.root().hex()}, but the signed checkpoint says {cp.root.hex()}"
        )


# --- held state and verified groups ----------------------------------------------------------


@dataclass(frozen=True)
class Held:
    """What we hold of one origin: ``size`` entries with their ``frontier``, the newest stored
    signed checkpoint, and the verified head beyond it (if any)."""

    size: int
    frontier: Frontier
    latest: StoredCheckpoint | None
    head: VerifiedHead | None


def held(store: Store, origin: str) -> Held:
    """Our verified copy of ``origin``: up to the head when one reaches beyond the newest
    stored checkpoint, else up to that checkpoint."""
    latest = store.log.latest_checkpoint(origin)
    head = store.log.verified_head(origin)
    if head is not None and head.size > (0 if latest is None else latest.size):
        return Held(head.size, Frontier.from_bytes(head.size, head.frontier), latest, head)
    if latest is None:
        return Held(0, Frontier.empty(), None, None)
    return Held(latest.size, Frontier.from_bytes(latest.size, latest.frontier), latest, None)


@dataclass
class VerifiedGroup:
    """Consecutive entries of one origin from ``start`` on, each batch of them already proven
    to be in the origin's signed tree, with their store rows; ``frontier`` is the tree after
    the last one. Built by the sync as batches arrive, stored by :func:`store_verified`."""

    origin: str
    start: int
    frontier: Frontier
    bodies: list[bytes] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)
    entries: list[EntryTuple] = field(default_factory=list)
    signals: list[SignalTuple] = field(default_factory=list)
    special: list[EntryRow] = field(default_factory=list)
    nbytes: int = 0

    @property
    def end(self) -> int:
        return self.start + len(self.bodies)

    def add(self, bodies: Sequence[bytes], leaves: Sequence[bytes], frontier: Frontier) -> None:
        """Append one verified batch (the next entries, in order) and build its rows.

        Raises :class:`MalformedError` (nothing added) when an entry does not decode or names
        another origin: signed by the origin, so not the relaying peer's doing.
        """
        if frontier.size != self.end + len(bodies):
            raise ValueError(f"frontier of size {frontier.size} after entries to {self.end}")
        entries, signals, special = rows_of(
            self.origin, self.end, bodies, list(leaves), _slow_rows(self.origin)
        )
        if len(entries) != len(bodies):
            raise MalformedError(
                f"entries {self.end}..{self.end + len(bodies) - 1} of {self.origin} gave "
                f"{len(entries)} rows"
            )
        self.bodies.extend(bodies)
        self.leaves.extend(leaves)
        self.entries.extend(entries)
        self.signals.extend(signals)
        self.special.extend(special)
        self.nbytes += sum(map(len, bodies))
        self.frontier = frontier


@dataclass(frozen=True)
class StoredGroup:
    appended: int
    """Entries new to the store (the rest were already held, stored by another sync)."""
    size: int
    """Entries of the origin held afterwards."""
    checkpoint: bool
    """Whether the target checkpoint was stored (the group reached its size)."""
    result: AppendResult | None


def store_verified(
    store: Store, group: VerifiedGroup, target: SignedCheckpoint, index: MatchIndex | None
) -> StoredGroup:
    """Store a verified group in one transaction; when it reaches ``target``'s size, store that
    checkpoint too, else record the new head.

    Another sync of the same origin (another peer, another process) may have stored some or all
    of these entries meanwhile: what is already held is skipped once its leaves are compared,
    only the tail is appended. Raises :class:`ProofError` (nothing stored) if held entries
    differ from these, which two honest proofs into signed trees of one origin cannot give.
    """
    origin = group.origin
    cp = target.checkpoint
    with store.large_cache(), store.transaction():
        _require_importable(store, origin)
        now = held(store, origin)
        h = now.size
        if group.start > h:
            # A sync starts at what is held then and stores its groups in order; what is held
            # only grows (entries are never deleted). So a group always starts at or before
            # what is held; anything else is a bug, refused before a gap could enter the log.
            raise SyncError(
                f"entries of {origin} from {group.start} would leave a gap after the {h} held"
            )
        if group.end <= h:
            return StoredGroup(0, h, False, None)
        overlap = h - group.start
        if overlap:
            stored = store.log.leaf_range(origin, group.start, h)
            if stored != group.leaves[:overlap]:
                raise ProofError(
                    f"entries {group.start}..{h - 1} of {origin} differ from those held, although "
                    f"both were proven into checkpoints signed by {origin}"
                )
        entries = group.entries[overlap:]
        signals = [s for s in group.signals if s[0] >= h] if overlap else group.signals
        special = [e for e in group.special if e.idx >= h] if overlap else group.special
        # Not indexed here: the caller refreshes the index from the store (one bulk read per
        # signal type), cheaper than a record per signal.
        result = store.log.append_chunk(origin, entries, signals, special, indexed=False)
        reached = group.end == cp.size
        if reached:
            if group.frontier.root() != cp.root:
                raise ProofError(
                    f"entries 0..{cp.size - 1} of {origin} give root "
                    f"{group.frontier.root().hex()}, but the signed checkpoint says {cp.root.hex()}"
                )
            store.log.put_checkpoint(
                StoredCheckpoint(
                    origin,
                    cp.size,
                    cp.root,
                    target.text(),
                    group.frontier.to_bytes(),
                    time.time_ns() // 1_000_000,
                )
            )
            store.log.drop_verified_head(origin)
        else:
            store.log.put_verified_head(
                VerifiedHead(
                    origin,
                    group.end,
                    group.frontier.to_bytes(),
                    target.text(),
                    time.time_ns() // 1_000_000,
                )
            )
    if index is not None:
        index.apply(result)
    return StoredGroup(len(entries), group.end, reached, result)
