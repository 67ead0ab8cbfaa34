"""Publishing to this node's own log: ADD (files, media, signals, hash lists), RETRACT, OPINION.

Everything is validated before the write transaction opens, so refused input stores nothing;
an ADD whose every signal this origin already publishes live is skipped, not appended again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from node.errors import IdentityError, InvalidInputError, LowQualityError, NotFoundError
from node.home import HomePaths
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import (
    Add,
    Entry,
    EntryRef,
    Labels,
    Opinion,
    Retract,
    Statement,
    Verdict,
    decode_entry,
    encode_entry,
)
from node.log.keys import SignerKey
from node.log.merkle import Frontier, leaf_hash
from node.results import Published, PublishReport, Skipped
from node.service import signed_head
from node.service.bulk import parse_hash_list
from node.service.entry_rows import entry_row
from node.service.hashing import MediaHasher
from node.service.index_handle import IndexHandle
from node.signals import ComputedSignal
from node.signals.specs import MIN_PUBLISH_QUALITY
from node.store.rows import StoredCheckpoint
from node.store.store import Store

# Under the write transaction, before signing: raises SignedStateError when the database is
# behind what this node signed; else the signed-state file's text
# (node.service.own_log_check.guard).
OwnLogGuard = Callable[[StoredCheckpoint | None], str | None]


def refuse_auditor(origin: str, is_auditor: bool, what: str) -> None:
    if is_auditor:
        raise IdentityError(
            f"{origin} is an auditor identity: it cannot {what} (auditors only read; "
            "see docs/audit.md)"
        )


class Publisher:
    """Appends signed entries to this node's own log, one checkpoint per call."""

    def __init__(
        self,
        store: Store,
        signer: SignerKey,
        paths: HomePaths,
        hasher: MediaHasher,
        index: IndexHandle,
        guard: OwnLogGuard,
        *,
        is_auditor: bool,
    ) -> None:
        self._store = store
        self._signer = signer
        self._origin = signer.name
        self._paths = paths
        self._hasher = hasher
        self._index = index
        self._guard = guard
        self._is_auditor = is_auditor

    def publish_files(self, paths: Sequence[Path], labels: Labels, note: str = "") -> PublishReport:
        hashed = self._hasher.hash_files(paths)  # every file first: one bad file, no entries
        items = [(h.name, Add(_publishable(h.signals, h.name), labels, note)) for h in hashed]
        return self._append(items)

    def publish_signals(
        self, signals: Sequence[ComputedSignal], labels: Labels, note: str = ""
    ) -> PublishReport:
        """One ADD carrying the given signals (the hashes of one item of media)."""
        source = " ".join(str(s.signal) for s in signals)
        return self._append([(source, Add(_publishable(signals, source), labels, note))])

    def publish_media(
        self, content: bytes, name: str, labels: Labels, note: str = ""
    ) -> PublishReport:
        label = name or "media"
        signals = self._hasher.hash_bytes(content, name)
        return self._append([(label, Add(_publishable(signals, label), labels, note))])

    def import_hash_list(
        self, lines: Iterable[str], labels: Labels, note: str = ""
    ) -> PublishReport:
        """One ADD per line, all under one signed checkpoint; any bad line publishes nothing."""
        items: list[tuple[str, Statement]] = []
        for item in parse_hash_list(lines):
            source = f"line {item.line}"  # _publishable names it in any refusal
            items.append((source, Add(_publishable([item.signal], source), labels, note)))
        return self._append(items)

    def retract(self, entry_index: int, reason: str = "") -> PublishReport:
        return self._append([(f"retract {entry_index}", Retract(entry_index, reason))])

    def opinion(
        self, origin: str, entry_index: int, verdict: Verdict, *, agrees_with_labels: bool
    ) -> PublishReport:
        body, leaf = self._store.log.entry(origin, entry_index)
        if decode_entry(body).kind != "ADD":
            raise InvalidInputError(
                f"{origin} entry {entry_index} is not an ADD; opinions are about shared hashes"
            )
        target = EntryRef(origin, entry_index, leaf)
        statement = Opinion(target, verdict, agrees_with_labels)
        return self._append([(f"opinion on {origin}/{entry_index}", statement)])

    def _append(self, items: Sequence[tuple[str, Statement]]) -> PublishReport:
        refuse_auditor(self._origin, self._is_auditor, "publish")
        if not items:
            raise InvalidInputError("nothing to publish")
        now = time.time_ns() // 1_000_000
        given = items
        # What is already published is looked up first, without the lock, so a re-run import
        # encodes nothing; under the lock it is looked up again only if the log moved since.
        with self._store.transaction_read():
            planned = self._store.log.latest_checkpoint(self._origin)
            keep, skipped = self._already_published(given, planned)
        items = [given[i] for i in keep]
        # Encoding and leaf hashing need no lock (an entry does not contain its own index), so
        # they happen before the write transaction, which other writers wait for.
        encoded = [encode_entry(Entry(self._origin, now, statement)) for _, statement in items]
        leaves = [leaf_hash(body) for body in encoded]
        # durable(): the commit is on disk before the fsync'd signed-state file names it, so a
        # power cut cannot leave the file ahead of the database (node/service/signed_head.py).
        with self._store.durable(), self._store.transaction():
            latest = self._store.log.latest_checkpoint(self._origin)
            # Refuses (SignedStateError) when the database is behind what this node signed.
            head_before = self._guard(latest)
            if _size(latest) != _size(planned):
                # Another process appended meanwhile (a RETRACT too changes the size).
                keep, skipped = self._already_published(given, latest)
                items = [given[i] for i in keep]
                encoded = [encode_entry(Entry(self._origin, now, st)) for _, st in items]
                leaves = [leaf_hash(body) for body in encoded]
            frontier = (
                Frontier.empty()
                if latest is None
                else Frontier.from_bytes(latest.size, latest.frontier)
            )
            self._check_retractions(items, frontier.size)
            if not items:
                assert latest is not None  # something to be a duplicate of
                return PublishReport((), latest.size, latest.root.hex(), skipped)
            rows = [
                entry_row(frontier.size + offset, body, leaf, statement, now)
                for offset, (body, leaf, (_, statement)) in enumerate(
                    zip(encoded, leaves, items, strict=True)
                )
            ]
            frontier = frontier.extend(leaves)
            signed = SignedCheckpoint.sign(
                Checkpoint(self._origin, frontier.size, frontier.root()), self._signer
            )
            stored = StoredCheckpoint(
                self._origin,
                frontier.size,
                frontier.root(),
                signed.text(),
                frontier.to_bytes(),
                now,
            )
            self._store.log.append(self._origin, rows, stored)
        # After the commit, never before: the file may lag the database, never lead it.
        signed_head.after_publish(self._paths, head_before, stored.note)
        self._index.follow()
        published = tuple(
            Published(self._origin, row.idx, row.kind, source)
            for row, (source, _) in zip(rows, items, strict=True)
        )
        return PublishReport(published, frontier.size, frontier.root().hex(), skipped)

    def _already_published(
        self, items: Sequence[tuple[str, Statement]], latest: StoredCheckpoint | None
    ) -> tuple[list[int], tuple[Skipped, ...]]:
        """(positions of the items to append, the ADDs skipped as already published).

        An ADD is skipped when this origin already publishes *every* one of its signals live
        (an unretracted ADD of ours carrying the same type and value), in the log or earlier
        in the same call. All, not any: an item sharing one hash with an earlier one but
        bringing another (a new SHA-256 beside a known PDQ) still adds something that can
        match, so it is published; skipping it would lose that hash. Labels and notes do not
        make an item new: to change them, retract the ADD and publish again. The answer is used
        only while the log is still at ``latest`` (checked under the write lock), so two
        imports of one list cannot both append it.
        """
        size = _size(latest)
        wanted = (
            []
            if latest is None
            else [
                (c.signal.type, c.signal.value)
                for _, st in items
                if isinstance(st, Add)
                for c in st.signals
            ]
        )
        live = self._store.signals.live_own_signals(self._origin, wanted) if wanted else {}
        keep: list[int] = []
        skipped: list[Skipped] = []
        for position, (source, statement) in enumerate(items):
            if isinstance(statement, Add) and len(statement.signals) == 1:
                # A bulk import's line: the same rule, without the lists (200k of them).
                only = statement.signals[0].signal
                key = (only.type, only.value)
                at = live.get(key)
                if at is not None:
                    skipped.append(Skipped(self._origin, (at,), source))
                    continue
                live[key] = size + len(keep)
            elif isinstance(statement, Add) and statement.signals:
                keys = [(c.signal.type, c.signal.value) for c in statement.signals]
                found = [live.get(k) for k in keys]
                if all(f is not None for f in found):
                    indexes = tuple(sorted({f for f in found if f is not None}))
                    skipped.append(Skipped(self._origin, indexes, source))
                    continue
                at = size + len(keep)  # the index this entry gets
                for k in keys:
                    live.setdefault(k, at)
            keep.append(position)
        return keep, tuple(skipped)

    def _check_retractions(self, items: Sequence[tuple[str, Statement]], size: int) -> None:
        seen: set[int] = set()
        for _, statement in items:
            if not isinstance(statement, Retract):
                continue
            target = statement.entry_index
            if target >= size:
                raise NotFoundError(f"{self._origin} has no entry {target} (log size {size})")
            body, _ = self._store.log.entry(self._origin, target)
            if decode_entry(body).kind != "ADD":
                raise InvalidInputError(f"entry {target} is not an ADD; only ADDs are retracted")
            if target in seen or self._store.log.is_retracted(self._origin, target):
                raise InvalidInputError(f"entry {target} is already retracted")
            seen.add(target)


def _size(checkpoint: StoredCheckpoint | None) -> int:
    return 0 if checkpoint is None else checkpoint.size


def _publishable(signals: Sequence[ComputedSignal], source: str) -> tuple[ComputedSignal, ...]:
    for computed in signals:
        if (
            computed.signal.type == "pdq"
            and computed.quality is not None
            and computed.quality < MIN_PUBLISH_QUALITY
        ):
            raise LowQualityError(
                f"{source}: PDQ quality {computed.quality} is below {MIN_PUBLISH_QUALITY}; "
                "such hashes match unrelated images, so they are not published"
            )
    return tuple(signals)
