"""One pass over one origin's stored log, in index order: every body rehashed and compared with
its leaf, the leaves folded and compared with every signed checkpoint's root, the derived rows
compared with the bodies. Read in bounded chunks, so a log of millions of entries holds only
one chunk at a time."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from node.errors import HashfedError, VerificationError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.keys import VerifierKey
from node.log.merkle import Frontier, leaf_hash
from node.service.entry_rows import entry_row, rows_of
from node.service.integrity_report import Damage, OriginCheck, Scope, repair_advice
from node.store.rows import EntryRow
from node.store.store import Store

ENTRY_CHUNK = 2_000  # entries read at once: at most 2,000 x 64 KiB bodies in memory
LEAF_CHUNK = 50_000  # leaves only (32 bytes each), for the part whose bodies are not checked
CHECKPOINT_CHUNK = 1_000


class OriginChecker:
    """One pass over one origin's entries and checkpoints, in index order."""

    def __init__(
        self,
        store: Store,
        origin: str,
        key: VerifierKey | None,
        own_origin: str | None,
        scope: Scope,
        result: OriginCheck,
    ) -> None:
        self.store = store
        self.origin = origin
        self.key = key
        self.scope = scope
        self.result = result
        self.own_origin = own_origin
        self.damage: list[Damage] = []
        # Two folds: the stored leaves, and the leaves recomputed from the bodies. They are the
        # same object until a body and its leaf disagree; the next checkpoint then tells which
        # one the origin signed.
        self.stored = self.recomputed = Frontier.empty()
        self.unresolved: list[int] = []  # entries whose body and leaf disagree, not yet judged
        self.roots_usable = True  # False once the fold cannot be trusted any more
        self.last_good = 0  # size of the newest checkpoint whose root the leaves gave
        self.position = 0  # next entry to read

    def found(self, kind: str, detail: str, **where: int | None) -> None:
        repair = repair_advice(self.origin, self.own_origin, kind)
        self.damage.append(Damage(self.origin, kind, detail, repair, **where))

    def run(self) -> list[Damage]:
        latest = self.store.log.latest_checkpoint(self.origin)
        size = 0 if latest is None else latest.size
        self.result.size = size
        _, end = self.store.integrity.entry_count(self.origin)
        first_body = 0 if self.scope.bodies is None else max(0, size - self.scope.bodies)
        checkpoints = self._checkpoints()
        pending = next(checkpoints, None)
        while pending is not None and pending[0] == 0:
            self._at_checkpoint(*pending, newest=size == 0)
            pending = next(checkpoints, None)
        position = self.position = 0
        while position < max(end, size):
            if self._late():
                self.result.complete = False
                return self.damage
            with_bodies = position >= first_body
            limit = ENTRY_CHUNK if with_bodies else min(LEAF_CHUNK, first_body - position)
            rows = self.store.integrity.entry_chunk(
                self.origin, position, limit, bodies=with_bodies
            )
            if not rows or rows[0][0] != position:
                self._missing(position, rows[0][0] if rows else size)
                break
            rows = self._contiguous(rows)
            leaves = [leaf for _, leaf, _, _ in rows]
            fixed = leaves if not with_bodies else [leaf_hash(b or b"") for _, _, b, _ in rows]
            if with_bodies:
                self._check_bodies(rows, fixed)
            # Fold up to each checkpoint inside this chunk, compare, go on.
            done = 0
            while done < len(rows):
                stop = len(rows)
                if pending is not None and pending[0] <= position + len(rows):
                    stop = pending[0] - position
                self._fold(position + done, leaves[done:stop], fixed[done:stop])
                done = stop
                if pending is not None and pending[0] == position + done:
                    self._at_checkpoint(*pending, newest=pending[0] == size)
                    pending = next(checkpoints, None)
            position = self.position = position + len(rows)
            if len(rows) < limit and position < size:
                self._missing(position, size)
                break
        for idx in self.unresolved:
            # Entries beyond the newest checkpoint: no signed root to judge them by.
            self.found(
                "entry",
                "its body does not hash to its stored leaf (no signed checkpoint covers it "
                "yet, so which of the two changed is unknown)",
                index=idx,
            )
        return self.damage

    def _late(self) -> bool:
        return self.scope.deadline is not None and time.monotonic() > self.scope.deadline

    def _checkpoints(self) -> Iterator[tuple[int, bytes, str, bytes]]:
        start = 0
        while chunk := self.store.integrity.checkpoint_chunk(self.origin, start, CHECKPOINT_CHUNK):
            yield from chunk
            start = chunk[-1][0] + 1

    def _missing(self, start: int, stop: int) -> None:
        if stop > start:
            self.found(
                "missing",
                f"entries {start}..{stop - 1} are not stored, yet a signed checkpoint covers them",
                index=start,
            )
        self.roots_usable = False

    def _contiguous(
        self, rows: list[tuple[int, bytes, bytes | None, str]]
    ) -> list[tuple[int, bytes, bytes | None, str]]:
        for offset, row in enumerate(rows):
            want = rows[0][0] + offset
            if row[0] != want:
                self._missing(want, row[0])
                return rows[:offset]
        return rows

    def _fold(self, first: int, leaves: list[bytes], fixed: list[bytes]) -> None:
        self.result.entries += len(leaves)
        if leaves == fixed and self.stored is self.recomputed:
            self.stored = self.recomputed = self.stored.extend(leaves)
            return
        self.unresolved.extend(
            first + i for i, (a, b) in enumerate(zip(leaves, fixed, strict=True)) if a != b
        )
        self.stored = self.stored.extend(leaves)
        self.recomputed = self.recomputed.extend(fixed)

    def _at_checkpoint(
        self, size: int, root: bytes, note: str, frontier: bytes, newest: bool
    ) -> None:
        self.result.checkpoints += 1
        signed_root = root
        if self.key is not None and (self.scope.all_signatures or newest):
            self.result.notes_verified += 1
            try:
                signed = SignedCheckpoint.open(note, self.key).checkpoint
            except VerificationError as exc:
                self.found(
                    "checkpoint",
                    f"its stored note does not verify with {self.origin}'s key: {exc}",
                    checkpoint_size=size,
                )
                signed = None
            if signed is not None:
                signed_root = signed.root
                if (signed.size, signed.root) != (size, root):
                    self.found(
                        "checkpoint",
                        f"the stored size/root ({size}, {root.hex()[:16]}…) differ from its "
                        f"signed note ({signed.size}, {signed.root.hex()[:16]}…)",
                        checkpoint_size=size,
                    )
        if not self.roots_usable:
            return
        stored_ok = self.stored.root() == signed_root
        recomputed_ok = self.recomputed.root() == signed_root
        first = self.unresolved[0] if self.unresolved else self.last_good
        for idx in self.unresolved:
            if stored_ok:
                self.found(
                    "body",
                    "its body does not hash to its stored leaf, and the stored leaves fold to "
                    "the signed root: the body changed",
                    index=idx,
                )
            elif recomputed_ok:
                self.found(
                    "leaf",
                    "its stored leaf is not the hash of its body, and the body is what the "
                    "signed root needs: the stored leaf changed",
                    index=idx,
                )
            else:
                self.found(
                    "entry",
                    "its body does not hash to its stored leaf, and neither folds to the "
                    f"signed root of checkpoint {size}",
                    index=idx,
                )
        self.unresolved = []
        good = self.stored if stored_ok else self.recomputed if recomputed_ok else None
        if good is None:
            self.found(
                "root",
                f"the leaves of entries up to {size - 1} fold to {self.stored.root().hex()[:16]}…"
                f", not to the signed root {signed_root.hex()[:16]}…: an entry below {size} "
                f"(at or after {first}) changed together with its leaf",
                checkpoint_size=size,
            )
            # Continue from the stored frontier if it is the signed one, else stop folding.
            try:
                resync = Frontier.from_bytes(size, frontier)
            except VerificationError:
                resync = None
            if resync is None or resync.root() != signed_root:
                self.roots_usable = False
                return
            self.stored = self.recomputed = resync
            return
        self.stored = self.recomputed = good
        self.last_good = size
        if good.to_bytes() != frontier:
            self.found(
                "frontier",
                "its stored Merkle frontier is not the one its leaves give; the next append "
                "would extend a wrong tree",
                checkpoint_size=size,
            )

    def _check_bodies(
        self, rows: Sequence[tuple[int, bytes, bytes | None, str]], fixed: Sequence[bytes]
    ) -> None:
        """Each body parses as an entry of this origin, and its derived rows (kind, signal
        values, retraction marks) are the ones stored. A body that does not hash to its leaf
        is judged by the fold instead: comparing rows with it would blame the rows."""
        self.result.bodies += len(rows)
        undecodable: set[int] = set()
        changed = {row[0] for row, new in zip(rows, fixed, strict=True) if row[1] != new}

        def slow(idx: int, body: bytes, leaf: bytes) -> EntryRow:
            try:
                entry = decode_entry(body)
            except HashfedError as exc:
                undecodable.add(idx)
                if idx not in changed:  # else the fold reports the changed body
                    self.found("entry", f"its body does not parse as an entry: {exc}", index=idx)
                return EntryRow(idx, leaf, body, "?", 0)
            if entry.origin != self.origin:
                undecodable.add(idx)
                if idx not in changed:
                    self.found("entry", f"its body is an entry of {entry.origin!r}", index=idx)
            return entry_row(idx, body, leaf, entry.statement, entry.create_time_ms)

        first = rows[0][0]
        stop = rows[-1][0] + 1
        bodies = [b or b"" for _, _, b, _ in rows]
        leaves = [leaf for _, leaf, _, _ in rows]
        entries, signals, _ = rows_of(self.origin, first, bodies, leaves, slow)
        skip = undecodable | changed
        stored_rows = self.store.integrity.signals_between(self.origin, first, stop)
        retracted_targets = self.store.integrity.retracted_between(self.origin, first, stop)
        # One comparison per chunk; only a chunk that differs is looked at entry by entry.
        kinds_differ = [r[3] for r in rows if r[0] not in skip] != [
            e[3] for e in entries if e[0] not in skip
        ]
        expected = sorted(s for s in signals if s[0] not in skip)
        stored = sorted((i, t, v, q) for i, t, v, q, _ in stored_rows if i not in skip)
        marked = {i for i, _, _, _, r in stored_rows if r and i not in skip}
        should = {i for i, *_ in stored_rows if i in retracted_targets and i not in skip}
        if not kinds_differ and expected == stored and marked == should:
            return
        want: dict[int, list[tuple[str, bytes, int | None]]] = {}
        for idx, signal_type, value, quality in expected:
            want.setdefault(idx, []).append((signal_type, value, quality))
        have: dict[int, list[tuple[str, bytes, int | None]]] = {}
        for idx, signal_type, value, quality in stored:
            have.setdefault(idx, []).append((signal_type, value, quality))
        for (idx, _, _, stored_kind), (_, _, _, kind, _) in zip(rows, entries, strict=True):
            if idx in skip:
                continue
            if kind != stored_kind:
                self.found(
                    "signals", f"its stored kind is {stored_kind}, its body is a {kind}", index=idx
                )
            if want.get(idx, []) != have.get(idx, []):
                self.found(
                    "signals",
                    f"its signal rows ({_signals_text(have.get(idx, []))}) differ from the "
                    f"signals in its body ({_signals_text(want.get(idx, []))}); matching uses "
                    "the rows",
                    index=idx,
                )
            if (idx in marked) != (idx in should):
                self.found(
                    "signals",
                    "its signal rows are marked "
                    + ("live" if idx in should else "retracted")
                    + ", but this origin "
                    + ("retracted it" if idx in should else "never retracted it"),
                    index=idx,
                )


def _signals_text(signals: Sequence[tuple[str, bytes, int | None]]) -> str:
    if not signals:
        return "none"
    return ", ".join(f"{t}:{v.hex()[:16]}{'…' if len(v) > 8 else ''}" for t, v, _ in signals)
