"""Storing another origin's entries, only once they reproduce its signed root."""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate, pairwise

from node.entry_rows import EntryTuple, SignalTuple, entry_row, rows_of
from node.errors import EquivocationError, InvalidInputError, MalformedError, ProofError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.merkle import Frontier, leaf_hash
from node.matching import MatchIndex
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
        latest = store.latest_checkpoint(origin)
        if latest is not None and latest.size > first:
            # Another sync (another peer streaming the same origin at once) imported first.
            raise ProofError(
                f"our log of {origin} is at size {latest.size}, not {first}: it changed "
                "during the sync; nothing imported"
            )
        frontier = Frontier.empty()
        if latest is not None:
            frontier = Frontier.from_bytes(latest.size, latest.frontier)
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
        store.discard_staged(origin, below=cp.size)
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
