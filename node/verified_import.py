"""Storing another origin's entries, only once they reproduce its signed root."""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise

from node.entry_rows import EntryTuple, SignalTuple, entry_row, rows_of
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
from node.matching import MatchIndex
from node.store.federation import VerifiedHead
from node.store.store import AppendResult, EntryRow, Store, StoredCheckpoint

# Entries go in in chunks, so a large sync never holds every row in memory twice.
CHUNK = 50_000


def _slow_rows(origin: str) -> Callable[[int, bytes, bytes], EntryRow]:
    def slow(idx: int, body: bytes, leaf: bytes) -> EntryRow:
        entry = decode_entry(body)
        if entry.origin != origin:
            raise MalformedError(f"entry {idx} names origin {entry.origin!r}, expected {origin!r}")
        return entry_row(idx, body, leaf, entry.statement, entry.create_time_ms)

    return slow


class PreparedBodies(list[bytes]):
    """Entry bodies received for an import, with their leaf hashes and store rows computed as
    they arrived (:meth:`add`), so the import itself only hashes interior nodes and inserts.

    A sync spends most of a long stream waiting for the next batch; preparing each batch then
    takes that work out of the import. The rows are kept column by column (leaf hashes end to
    end, creation times in an array, …), a third of the memory of row tuples, and become
    tuples again one import chunk at a time. Nothing here is trusted more than plain bodies:
    the import extends the frontier with these leaves and requires the signed root, and the
    stored rows carry exactly the bodies and leaves that made it. If anything does not line up
    (an entry that does not decode, a body added without :meth:`add`), the import prepares
    everything again from the bodies, as for a plain list.
    """

    def __init__(self, origin: str, first: int) -> None:
        super().__init__()
        self.origin = origin
        self.first = first
        self.usable = True
        self._prepared = 0
        self._leaves: list[bytes] = []  # per added batch: its leaf hashes end to end
        self._kinds: list[str] = []
        self._create = array("q")
        self._sig_idx = array("q")
        self._sig_type: list[str] = []
        self._sig_quality: list[int | None] = []
        self._sig_values: list[bytes] = []  # per added batch: its signal values end to end
        self._sig_len = array("I")
        self._special: list[EntryRow] = []

    def add(self, bodies: Sequence[bytes]) -> None:
        """Append ``bodies`` (the next entries, in log order) and prepare their rows."""
        idx = self.first + len(self)
        self.extend(bodies)
        if not self.usable:
            return
        leaves = [leaf_hash(body) for body in bodies]
        try:
            entries, signals, special = rows_of(
                self.origin, idx, bodies, leaves, _slow_rows(self.origin)
            )
        except MalformedError:
            # The import decodes again and says which entry is wrong.
            self._give_up()
            return
        if len(entries) != len(bodies):
            self._give_up()
            return
        self._leaves.append(b"".join(leaves))
        if entries:
            _, _, _, kinds, create = zip(*entries, strict=True)
            self._kinds.extend(kinds)
            self._create.extend(create)
        if signals:
            sig_idx, sig_type, values, quality = zip(*signals, strict=True)
            self._sig_idx.extend(sig_idx)
            self._sig_type.extend(sig_type)
            self._sig_quality.extend(quality)
            self._sig_values.append(b"".join(values))
            self._sig_len.extend(map(len, values))
        self._special.extend(special)
        self._prepared += len(bodies)

    def ready(self, origin: str, first: int) -> bool:
        """Whether the prepared rows are exactly those of these bodies, from index ``first``."""
        return (
            self.usable
            and origin == self.origin
            and first == self.first
            and self._prepared == len(self) == len(self._kinds) == len(self._create)
        )

    def chunks(
        self, size: int
    ) -> Iterator[tuple[list[bytes], list[EntryTuple], list[SignalTuple], list[EntryRow]]]:
        """(leaves, entry rows, signal rows, special rows) of ``size`` entries at a time, as
        :func:`~node.entry_rows.rows_of` gives them. Only when :meth:`ready`."""
        hashes = b"".join(self._leaves)
        values = b"".join(self._sig_values)
        ends = array("q", accumulate(self._sig_len))
        sig_at = 0
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            first_idx = self.first + start
            stop_idx = self.first + stop
            leaves = [hashes[32 * i : 32 * i + 32] for i in range(start, stop)]
            entries = list(
                zip(
                    range(first_idx, stop_idx),
                    leaves,
                    self[start:stop],
                    self._kinds[start:stop],
                    self._create[start:stop],
                    strict=True,
                )
            )
            sig_stop = bisect_left(self._sig_idx, stop_idx, lo=sig_at)
            offsets = [0 if sig_at == 0 else ends[sig_at - 1], *ends[sig_at:sig_stop]]
            signals = list(
                zip(
                    self._sig_idx[sig_at:sig_stop],
                    self._sig_type[sig_at:sig_stop],
                    [values[a:b] for a, b in pairwise(offsets)],
                    self._sig_quality[sig_at:sig_stop],
                    strict=True,
                )
            )
            sig_at = sig_stop
            special = [e for e in self._special if first_idx <= e.idx < stop_idx]
            yield leaves, entries, signals, special

    def _give_up(self) -> None:
        self.usable = False
        self._leaves, self._kinds, self._create = [], [], array("q")
        self._sig_idx, self._sig_type, self._sig_quality = array("q"), [], []
        self._sig_values, self._sig_len, self._special = [], array("I"), []


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

    prepared = (
        bodies if isinstance(bodies, PreparedBodies) and bodies.ready(origin, first) else None
    )
    results: list[AppendResult] = []
    indexed = index is not None and len(bodies) <= CHUNK
    with store.large_cache(), store.transaction():
        # Checked under the write lock: `member remove`, or evidence recorded by another process
        # (a CLI sync beside `serve`), may have come since the sync planned this import, and an
        # untrusted or halted origin's entries must never be stored.
        if not any(m.origin == origin and m.trusted for m in store.members()):
            raise InvalidInputError(f"{origin} is not a trusted member; nothing imported")
        if origin in store.halted_origins():
            raise EquivocationError(
                f"import from {origin} is stopped: evidence of equivocation is recorded"
            )
        ahead = held(store, origin)
        if ahead.size > first:
            # Another sync (another peer streaming the same origin at once) stored first.
            raise ProofError(
                f"our log of {origin} is at size {ahead.size}, not {first}: it changed "
                "during the sync; nothing imported"
            )
        frontier = ahead.frontier
        extended = frontier
        chunks = (
            prepared.chunks(CHUNK)
            if prepared is not None
            else _chunks(origin, first, bodies, CHUNK, _slow_rows(origin))
        )
        for leaves, entries, signals, special in chunks:
            extended = extended.extend(leaves)
            results.append(store.append_chunk(origin, entries, signals, special, indexed=indexed))
        _require_root(origin, checkpoint, frontier, extended)
        store.put_checkpoint(
            StoredCheckpoint(origin, cp.size, cp.root, checkpoint.text(), extended.to_bytes(), now)
        )
        store.drop_verified_head(origin, up_to=cp.size)
    if index is not None and indexed:
        for result in results:
            index.apply(result)
    return len(bodies)


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
    latest = store.latest_checkpoint(origin)
    head = store.verified_head(origin)
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
        if not any(m.origin == origin and m.trusted for m in store.members()):
            raise InvalidInputError(f"{origin} is not a trusted member; nothing imported")
        if origin in store.halted_origins():
            raise EquivocationError(
                f"import from {origin} is stopped: evidence of equivocation is recorded"
            )
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
            stored = store.leaf_range(origin, group.start, h)
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
        result = store.append_chunk(origin, entries, signals, special, indexed=False)
        reached = group.end == cp.size
        if reached:
            if group.frontier.root() != cp.root:
                raise ProofError(
                    f"entries 0..{cp.size - 1} of {origin} give root "
                    f"{group.frontier.root().hex()}, but the signed checkpoint says {cp.root.hex()}"
                )
            store.put_checkpoint(
                StoredCheckpoint(
                    origin,
                    cp.size,
                    cp.root,
                    target.text(),
                    group.frontier.to_bytes(),
                    time.time_ns() // 1_000_000,
                )
            )
            store.drop_verified_head(origin)
        else:
            store.put_verified_head(
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
