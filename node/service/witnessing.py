"""This node as a witness: cosigning verified checkpoints, keeping others' cosignatures, and
deciding which checkpoints meet the witness policy (docs/audit.md).

A cosignature states "this is the largest consistent tree I have seen of that log", so the node
cosigns only checkpoints it has verified and stored (a sync import checks signature, root and
consistency with everything held before), never two roots for one size and never a smaller size
after a larger one: the rule is checked against ``witness_state`` under the write lock.
"""

from __future__ import annotations

import bisect
import logging
import time
from dataclasses import dataclass, field

from node.errors import EquivocationError, HashfedError, MalformedError
from node.home import Config
from node.log.checkpoint import SignedCheckpoint
from node.log.cosignature import (
    Cosignature,
    CosignerKey,
    WitnessKey,
    cosignatures_in,
    with_cosignatures,
)
from node.log.keys import VerifierKey
from node.log.merkle import Frontier
from node.log.note import Note
from node.results import Witnessing
from node.store.rows import CosignatureRow, StoredCheckpoint
from node.store.store import Store

log = logging.getLogger("hashfed.witness")

# Checkpoints below our newest that a peer's cosignatures may make us adopt per call, and the
# leaves we hash for each at most: a peer cannot make a gossip round expensive.
MAX_ADOPTED_PER_CALL = 8
MAX_ADOPTED_LEAVES = 200_000
# A signed note carries at most 100 signature lines (node.log.note): the origin's and 99 more.
MAX_COSIGNATURE_LINES = 99


@dataclass
class AbsorbReport:
    """What one batch of cosigned checkpoints from a peer did here."""

    stored: int = 0
    ignored: int = 0
    problems: list[str] = field(default_factory=list)
    evidence_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class WitnessSummary:
    """How far one origin is witnessed here (``hashfed status``)."""

    witnessed_size: int | None
    newest_cosigned_size: int | None
    newest_cosigners: tuple[str, ...]


@dataclass(frozen=True)
class Covering:
    """Per origin: sizes of witnessed checkpoints, and the best unwitnessed coverage."""

    sizes: list[int]  # ascending, witnessed only
    names: list[tuple[str, ...]]  # witnesses of sizes[i]
    all_sizes: list[int]  # ascending, every cosigned checkpoint
    best_after: list[tuple[str, ...]]  # most witnesses on any checkpoint >= all_sizes[i]


class Witness:
    """Cosigning and witness bookkeeping for one node; the facade owns one."""

    def __init__(
        self, store: Store, own_origin: str, cosigner: CosignerKey, config: Config
    ) -> None:
        self.store = store
        self.own_origin = own_origin
        self.cosigner = cosigner
        self.config = config
        # Per origin: (store change stamp, coverage). Every lookup that matches an origin asks
        # for its coverage; it is recomputed only after something in the store changed.
        self._coverings: dict[str, tuple[tuple[int, int], Covering]] = {}

    # -- keys ----------------------------------------------------------------------------------

    def member_witness_keys(self) -> dict[str, WitnessKey]:
        """Witness keys of this node and every member whose card carried one."""
        keys = {
            name: WitnessKey.parse(text)
            for name, text in self.store.witnessing.witness_keys().items()
        }
        keys[self.own_origin] = self.cosigner.verifier()
        return keys

    def auditor_witness_keys(self) -> dict[str, WitnessKey]:
        return {
            a.name: WitnessKey.parse(a.witness_key)
            for a in self.store.audit.auditors()
            if a.witness_key is not None
        }

    def eligible(self, origin: str) -> set[str]:
        """Witnesses whose cosignatures count for ``origin`` under the policy: this node and
        trusted, non-halted members with a witness key, never the origin itself, never an
        auditor, and only those named in ``witnesses`` when that list is set."""
        halted = self.store.audit.halted_origins()
        names = {
            m.origin for m in self.store.members.members() if m.trusted and m.origin not in halted
        }
        names &= set(self.store.witnessing.witness_keys())
        names.add(self.own_origin)
        names.discard(origin)
        if self.config.witnesses:
            names &= set(self.config.witnesses)
        return names

    # -- cosigning -----------------------------------------------------------------------------

    def cosign_latest(self, origin: str) -> Cosignature | None:
        """Cosign our newest verified checkpoint of another origin, unless already done.

        Raises :class:`EquivocationError` if it would contradict what we cosigned before
        (cannot happen through a sync import, which proves consistency first; checked anyway,
        because a witness's one promise is never to sign two histories).
        """
        if origin == self.own_origin:
            return None
        with self.store.transaction():
            latest = self.store.log.latest_checkpoint(origin)
            if latest is None:
                return None
            state = self.store.witnessing.witness_state(origin)
            if state is not None:
                if latest.size < state.size:
                    raise EquivocationError(
                        f"refusing to cosign {origin} size {latest.size}: already cosigned the "
                        f"larger size {state.size}"
                    )
                if latest.size == state.size:
                    if latest.root != state.root:
                        raise EquivocationError(
                            f"refusing to cosign {origin} size {latest.size} with root "
                            f"{latest.root.hex()}: already cosigned root {state.root.hex()}"
                        )
                    return None
            body = Note.parse(latest.note).text
            cosig = self.cosigner.cosign(body, int(time.time()))
            self.store.witnessing.put_cosignatures([_row(origin, latest.size, cosig)])
            self.store.witnessing.put_witness_state(origin, latest.size, latest.root)
        log.info("cosigned %s at size %d", origin, latest.size)
        return cosig

    # -- serving and absorbing cosigned checkpoints ----------------------------------------------

    def notes(
        self, origin: str, min_size: int = 0, cosigned_only: bool = False, limit: int = 100
    ) -> list[tuple[int, str]]:
        """Up to ``limit`` of our checkpoints of ``origin`` from ``min_size`` on, ascending, as
        (size, note with its cosignatures); the cost is bounded by ``limit``."""
        found = self.store.log.checkpoint_notes_from(origin, min_size, cosigned_only, limit)
        if not found:
            return []
        held = self.store.witnessing.cosignatures(origin, found[0].size, found[-1].size)
        eligible = self.eligible(origin)
        return [(cp.size, _cosigned(cp.note, held.get(cp.size, []), eligible)) for cp in found]

    def note(self, checkpoint: StoredCheckpoint) -> str:
        """One stored checkpoint with the cosignatures we hold for it."""
        held = self.store.witnessing.cosignatures(
            checkpoint.origin, checkpoint.size, checkpoint.size
        )
        rows = held.get(checkpoint.size, [])
        return _cosigned(checkpoint.note, rows, self.eligible(checkpoint.origin))

    def absorb(
        self, origin: str, origin_key: VerifierKey, notes: list[str], peer: str
    ) -> tuple[AbsorbReport, list[tuple[StoredCheckpoint, SignedCheckpoint]]]:
        """Keep the verified cosignatures in ``notes`` (cosigned checkpoints of ``origin``).

        Returns the report and the conflicts found: pairs (our stored checkpoint, the origin's
        signed checkpoint of the same size with another root) for the caller to record as
        evidence. A note whose origin signature does not verify is ignored (and counted).
        """
        report = AbsorbReport()
        conflicts: list[tuple[StoredCheckpoint, SignedCheckpoint]] = []
        keys = {**self.member_witness_keys(), **self.auditor_witness_keys()}
        adopted = 0
        latest = self.store.log.latest_checkpoint(origin)
        for text in notes:
            try:
                note = Note.parse(text)
                signed = SignedCheckpoint.open(_origin_only(note, origin_key), origin_key)
            except HashfedError as exc:
                report.ignored += 1
                report.problems.append(f"checkpoint not signed by {origin}: {exc}")
                continue
            cp = signed.checkpoint
            stored = self.store.log.checkpoint_at(origin, cp.size)
            if stored is None and latest is not None and cp.size < latest.size:
                if adopted >= MAX_ADOPTED_PER_CALL:
                    report.ignored += 1
                    continue
                adopted += 1
                try:
                    stored = self._adopt(origin, signed)
                except _TooCostlyError:
                    report.ignored += 1
                    continue
            if stored is None:
                if latest is None or cp.size > latest.size:
                    report.ignored += 1  # not verified here yet; the next sync fetches it
                    continue
                conflicts.append((latest, signed))  # a smaller tree that is not our prefix
                continue
            if stored.root != cp.root:
                conflicts.append((stored, signed))
                continue
            if note.text != Note.parse(stored.note).text:
                # Same size and root but other extension lines: the origin signed two texts,
                # and a cosignature of the other one would not verify over ours. Not kept.
                report.ignored += 1
                report.problems.append(
                    f"checkpoint of size {cp.size} differs from ours in its text (extension "
                    "lines); its cosignatures are not for our checkpoint"
                )
                continue
            rows = []
            for name, key in keys.items():
                if name == self.own_origin:
                    continue  # we never take our own cosignature from someone else
                try:
                    found = cosignatures_in(note, [key])
                except (MalformedError, HashfedError) as exc:
                    report.problems.append(f"cosignature by {name} rejected: {exc}")
                    continue
                rows += [_row(origin, cp.size, c) for _, c in found]
            if rows:
                with self.store.transaction():
                    report.stored += self.store.witnessing.put_cosignatures(rows)
        return report, conflicts

    def _adopt(self, origin: str, signed: SignedCheckpoint) -> StoredCheckpoint | None:
        """Store an origin-signed checkpoint smaller than our newest if our verified leaves
        reproduce its root (it is then part of the history we verified). None if they do not:
        the caller records that as a conflict. Hashes only the leaves after the largest stored
        checkpoint below it, within a fixed budget (raises _TooCostlyError beyond it)."""
        cp = signed.checkpoint
        below = self.store.log.checkpoint_at_or_below(origin, cp.size)
        frontier = Frontier.empty() if below is None else Frontier.from_bytes(*below)
        if cp.size - frontier.size > MAX_ADOPTED_LEAVES:
            raise _TooCostlyError
        frontier = frontier.extend(self.store.log.leaf_range(origin, frontier.size, cp.size))
        if frontier.root() != cp.root:
            return None
        stored = StoredCheckpoint(
            origin, cp.size, cp.root, signed.text(), frontier.to_bytes(), time.time_ns() // 10**6
        )
        with self.store.transaction():
            if self.store.log.checkpoint_at(origin, cp.size) is None:
                self.store.log.put_checkpoint(stored)
        return stored

    # -- the policy ----------------------------------------------------------------------------

    def covering(self, origin: str) -> Covering:
        """Which checkpoints of ``origin`` are witnessed, cached until the store changes."""
        stamp = self.store.change_stamp()
        cached = self._coverings.get(origin)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        covering = self._compute_covering(origin)
        self._coverings[origin] = (stamp, covering)
        return covering

    def _compute_covering(self, origin: str) -> Covering:
        # Counted by key, not by name: after a member's witness key changes, cosignatures made
        # with the old one no longer count (an auditor checking with the new key agrees).
        keys = self.member_witness_keys()
        current = {n: keys[n].key_id for n in self.eligible(origin) if n in keys}
        need = self.config.witness_min
        all_sizes: list[int] = []
        counted: list[tuple[str, ...]] = []
        for size, rows in sorted(self.store.witnessing.cosignatures(origin).items()):
            all_sizes.append(size)
            counted.append(
                tuple(sorted({r.witness for r in rows if current.get(r.witness) == r.key_id}))
            )
        best_after: list[tuple[str, ...]] = [()] * len(all_sizes)
        best: tuple[str, ...] = ()
        for i in range(len(all_sizes) - 1, -1, -1):
            if len(counted[i]) > len(best):
                best = counted[i]
            best_after[i] = best
        sizes = [s for s, names in zip(all_sizes, counted, strict=True) if len(names) >= need]
        names = [n for n in counted if len(n) >= need]
        return Covering(sizes, names, all_sizes, best_after)

    def status(self, origin: str, entry_index: int, covering: Covering | None = None) -> Witnessing:
        """The smallest witnessed checkpoint covering ``entry_index``, or the best so far."""
        c = covering if covering is not None else self.covering(origin)
        i = bisect.bisect_right(c.sizes, entry_index)
        if i < len(c.sizes):
            return Witnessing(c.sizes[i], c.names[i], self.config.witness_min)
        j = bisect.bisect_right(c.all_sizes, entry_index)
        best = c.best_after[j] if j < len(c.all_sizes) else ()
        return Witnessing(None, best, self.config.witness_min)

    def summary(self, origin: str) -> WitnessSummary:
        """For `status`: newest witnessed checkpoint size and witnesses of the newest one."""
        c = self.covering(origin)
        newest = c.all_sizes[-1] if c.all_sizes else None
        rows = (
            []
            if newest is None
            else self.store.witnessing.cosignatures(origin, newest, newest)[newest]
        )
        return WitnessSummary(
            c.sizes[-1] if c.sizes else None, newest, tuple(r.witness for r in rows)
        )


class _TooCostlyError(Exception):
    """Adopting this checkpoint would hash more leaves than one gossip round may."""


def _row(origin: str, size: int, cosig: Cosignature) -> CosignatureRow:
    return CosignatureRow(origin, size, cosig.name, cosig.key_id, cosig.timestamp, cosig.line())


def _cosigned(note: str, rows: list[CosignatureRow], eligible: set[str]) -> str:
    """``note`` with the held cosignatures, those that count first, at most 99 lines."""
    if not rows:
        return note
    ordered = sorted(rows, key=lambda r: (r.witness not in eligible, r.witness))
    chosen = ordered[:MAX_COSIGNATURE_LINES]
    return with_cosignatures(note, [_from_line(r.line) for r in chosen])


def _from_line(line: str) -> Cosignature:
    note = Note.parse("x\n\n" + line)
    return Cosignature.from_note_signature(note.signatures[0])


def _origin_only(note: Note, key: VerifierKey) -> str:
    """The note with only the origin's signature lines, as the origin signed it."""
    own = tuple(s for s in note.signatures if s.name == key.name)
    if not own:
        raise MalformedError(f"checkpoint carries no signature by {key.name}")
    return Note(note.text, own).format()
