"""Importing another origin's entries (docs/protocol.md §9): what the sync engine calls.

Entries are stored only once proven into the origin's signed tree (node.service.verified_import); a
signed checkpoint that contradicts ours becomes evidence and halts the origin, but only after
the evidence proves itself: a flipped byte in our own store must never become evidence against
an honest origin (it is our damage, recorded as a finding)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from node.errors import DamageError, InvalidInputError, ProofError, VerificationError
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.proof_verification import verify_consistency
from node.service import integrity_check, integrity_findings, integrity_report
from node.service.index_handle import IndexHandle
from node.service.members import Members
from node.service.reading import Reader
from node.service.tree_cache import TreeCache
from node.service.verified_import import (
    Held,
    StoredGroup,
    VerifiedGroup,
    held,
    import_verified,
    store_verified,
)
from node.service.witnessing import AbsorbReport, Witness
from node.store.rows import PeerHealthRow, StoredCheckpoint
from node.store.store import Store

log = logging.getLogger("hashfed.node")

# A sync's groups reach the match index in bulk: once the rows not yet indexed are as many as
# those indexed, between these bounds (MatchIndex.refresh_when_behind).
INDEX_CATCH_UP_MIN_ROWS = 65_536
INDEX_CATCH_UP_MAX_ROWS = 1_000_000


class Importer:
    """Stores verified entries of other origins, cosigns them, and keeps what syncs found."""

    def __init__(
        self,
        store: Store,
        home: Path,
        origin: str,
        *,
        is_auditor: bool,
        index: IndexHandle,
        trees: TreeCache,
        witness: Witness,
        members: Members,
        reader: Reader,
    ) -> None:
        self._store = store
        self._home = home
        self._origin = origin
        self._is_auditor = is_auditor
        self._index = index
        self._trees = trees
        self._witness = witness
        self._members = members
        self._reader = reader

    def held(self, origin: str) -> Held:
        """What we hold of ``origin``: size and frontier (up to its verified head), the newest
        stored checkpoint and the head."""
        return held(self._store, origin)

    def store_verified(self, group: VerifiedGroup, target: SignedCheckpoint) -> StoredGroup:
        """Store entries of another origin already proven into its signed ``target`` tree (see
        :func:`node.service.verified_import.store_verified`); cosign ``target`` once it is
        reached."""
        if group.origin == self._origin:
            raise InvalidInputError("a node never imports its own origin from others")
        index = self._index.loaded
        stored = store_verified(self._store, group, target, index)
        if index is not None and stored.result is not None and stored.checkpoint:
            index.hold(stored.result.appended)
        if stored.checkpoint or index is None:
            self._index.follow()
        else:
            # Mid-stream the index catches up as its backlog doubles (MatchIndex docstring),
            # from the rows in memory; every match still sees every stored entry (it
            # refreshes first).
            if stored.result is not None:
                index.hold(stored.result.appended)
            index.refresh_when_behind(INDEX_CATCH_UP_MIN_ROWS, INDEX_CATCH_UP_MAX_ROWS)
        if stored.checkpoint:
            self.cosign_latest(group.origin)
        return stored

    def import_verified(
        self, origin: str, checkpoint: SignedCheckpoint, bodies: Sequence[bytes]
    ) -> int:
        """Append another origin's entries, only if they reproduce its signed root, then cosign
        the checkpoint as a witness.

        ``checkpoint`` must already be verified with the origin's key. The entries extend our
        verified frontier; if the new root differs from the signed one, :class:`ProofError` is
        raised and nothing changes. Otherwise entries, checkpoint and index update become
        visible together. Returns the number of entries imported.
        """
        if origin == self._origin:
            raise InvalidInputError("a node never imports its own origin from others")
        count = import_verified(self._store, origin, checkpoint, bodies, self._index.loaded)
        self._index.follow()  # reads what was not applied: new rows, then their retractions
        self.cosign_latest(origin)
        return count

    def cosign_latest(self, origin: str) -> None:
        """Cosign our newest verified checkpoint of ``origin`` (never our own), if not done."""
        if self._is_auditor or origin == self._origin:
            return
        self._witness.cosign_latest(origin)

    def batch_proofs(self, origin: str, sizes: Sequence[int], end: int) -> list[list[bytes]]:
        """Consistency proofs from each of ``sizes`` to ``end`` (empty where equal): what each
        streamed batch of ``origin`` carries."""
        served = self._reader.served_size(origin)
        if not 0 < end <= served or not all(0 < n <= end for n in sizes):
            raise InvalidInputError(
                f"batch proofs of {origin} to size {end} requested; this node serves [0, {served}]"
            )
        tree = self._trees.get(origin, end)
        signed = self._store.log.checkpoint_at(origin, end)
        if signed is not None and tree.root(end) != signed.root:
            # Stored leaves that no longer make the signed root: every proof would fail at the
            # peer, which would count it against us.
            damage = integrity_report.Damage(
                origin,
                "root",
                f"the stored leaves give root {tree.root(end).hex()} at size {end}, not the "
                f"signed {signed.root.hex()}",
                integrity_report.repair_advice(origin, self._origin, "root"),
                checkpoint_size=end,
            )
            self._trees.forget(origin)
            integrity_findings.record_damage(self._home, damage, "serve")
            raise DamageError(
                f"refusing to serve {origin}: {damage.detail} (run `hashfed check --origin "
                f"{origin}`). Repair: {damage.repair}"
            )
        return [[] if n == end else tree.consistency_proof(n, end) for n in sizes]

    # -- what syncs found ----------------------------------------------------------------------

    def record_evidence(
        self,
        origin: str,
        kind: str,
        first_note: str,
        second_note: str,
        detail: str,
        peer: str | None = None,
    ) -> int:
        """Keep proof that ``origin`` signed two checkpoints that cannot both be true; stop
        importing it. The proof is checked first as ``scripts/verify_evidence.py`` checks it;
        one that does not hold is our own damage
        (:class:`~node.service.integrity_report.OwnDamageError`),
        never kept, never halting anyone."""
        self._check_evidence(origin, kind, first_note, second_note, detail)
        with self._store.transaction():
            return self._store.audit.add_evidence(
                origin, kind, first_note, second_note, detail, peer
            )

    def _check_evidence(
        self, origin: str, kind: str, first_note: str, second_note: str, detail: str
    ) -> None:
        key = self._members.origin_key(origin)
        try:
            first = SignedCheckpoint.open(first_note, key).checkpoint
            second = SignedCheckpoint.open(second_note, key).checkpoint
            doc = json.loads(detail)
            if first.origin != origin or second.origin != origin:
                raise ProofError("a checkpoint names another origin")
            if kind == "same-size-different-roots":
                if first.size != second.size or first.root == second.root:
                    raise ProofError("not two roots for one size")
                return
            smaller, larger = sorted((first, second), key=lambda c: c.size)
            if not 0 < smaller.size < larger.size:
                raise ProofError("needs two non-empty trees of different sizes")
            prefix = bytes.fromhex(doc["prefix_root"])
            proof = [bytes.fromhex(h) for h in doc["consistency_proof"]]
            verify_consistency(smaller.size, larger.size, proof, prefix, larger.root)
            if prefix == smaller.root:
                raise ProofError("the larger tree begins with the smaller one")
        except (VerificationError, ValueError, KeyError, TypeError) as exc:
            raise self._own_damage(
                origin,
                max(_note_size(first_note), _note_size(second_note)),
                f"evidence ({kind}) built from our store does not prove itself ({exc})",
            ) from None

    def halted_origins(self) -> set[str]:
        return self._store.audit.halted_origins()

    def record_peer_result(
        self,
        peer: str,
        *,
        received: int = 0,
        rejected: int = 0,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        with self._store.transaction():
            self._store.members.record_peer(
                peer, received=received, rejected=rejected, error=error, reason=reason
            )

    def peer_health(self) -> dict[str, PeerHealthRow]:
        """How each peer's latest sync round ended and when its next one is due."""
        return self._store.members.peer_health()

    def record_peer_health(self, row: PeerHealthRow) -> None:
        with self._store.transaction():
            self._store.members.put_peer_health(row)

    def absorb_cosigned(self, origin: str, notes: Sequence[str], peer: str) -> AbsorbReport:
        """Keep the valid cosignatures a peer relayed on checkpoints of ``origin``; a relayed
        origin-signed checkpoint that contradicts ours becomes evidence (origin halted)."""
        if origin in self._store.audit.halted_origins():
            return AbsorbReport(ignored=len(notes))
        key = self._members.origin_key(origin)
        report, conflicts = self._witness.absorb(origin, key, list(notes), peer)
        for stored, signed in conflicts:
            try:
                kind, detail = self.conflict_detail(stored, signed)
                detail_json = json.dumps(detail, sort_keys=True)
                evidence_id = self.record_evidence(
                    origin, kind, stored.note, signed.text(), detail_json, peer
                )
            except integrity_report.OwnDamageError:
                continue  # our store is wrong, not the origin: recorded as a finding, logged
            report.evidence_ids.append(evidence_id)
            break  # one piece of evidence halts the origin; the rest add nothing
        return report

    def conflict_detail(
        self, ours: StoredCheckpoint, signed: SignedCheckpoint
    ) -> tuple[str, dict[str, object]]:
        """(evidence kind, detail) for an origin-signed checkpoint of a size we hold, or smaller,
        whose root is not ours: same size, or a smaller tree our log does not begin with (then
        with the consistency proof from its size to ours that shows it).

        Every root comes from a signed note, never from a stored column, and the proof is
        checked as ``scripts/verify_evidence.py`` would before it is returned: a flipped byte in
        our own leaves or roots must never become evidence against an honest origin. When it
        does not hold, our store is damaged: the finding is recorded beside the store and
        :class:`~node.service.integrity_report.OwnDamageError` raised."""
        origin = ours.origin
        their = signed.checkpoint
        mine = self.stored_note(ours)
        if their.size == mine.size:
            if their.root == mine.root:
                # The same tree: only our stored root column (which the caller compared) is
                # wrong.
                raise self._own_damage(
                    origin,
                    mine.size,
                    f"the stored root of checkpoint {mine.size} differs from its signed note",
                )
            detail: dict[str, object] = {
                "size": their.size,
                "first_root": mine.root.hex(),
                "second_root": their.root.hex(),
                "explanation": (
                    f"two checkpoints of size {their.size}, both signed by {their.origin}, "
                    "with different roots"
                ),
            }
            return "same-size-different-roots", detail
        assert 0 < their.size < mine.size
        tree = self._trees.get(origin, mine.size)
        prefix = tree.root(their.size)
        proof = tree.consistency_proof(their.size, mine.size)
        try:
            verify_consistency(their.size, mine.size, proof, prefix, mine.root)
        except ProofError:
            raise self._own_damage(
                origin,
                mine.size,
                f"the stored leaves [0, {mine.size}) do not rebuild the signed root of "
                f"checkpoint {mine.size} (a checkpoint of size {their.size} was offered)",
            ) from None
        if prefix == their.root:
            # Our leaves agree with the offered tree: a stored root at that size is wrong.
            raise self._own_damage(
                origin,
                their.size,
                f"the stored root at size {their.size} differs from the root its leaves give",
            )
        detail = {
            "smaller_size": their.size,
            "smaller_root": their.root.hex(),
            "larger_size": mine.size,
            "larger_root": mine.root.hex(),
            "prefix_root": prefix.hex(),
            "consistency_proof": [h.hex() for h in proof],
            "explanation": (
                f"the consistency proof shows that the signed tree of size {mine.size} has "
                f"root {prefix.hex()} at size {their.size}, but {their.origin} also signed "
                f"root {their.root.hex()} for size {their.size}"
            ),
        }
        return "inconsistent-smaller", detail

    def stored_note(self, stored: StoredCheckpoint) -> Checkpoint:
        """The checkpoint our stored note signs, verified again with the origin's key (it was
        when stored; a changed byte since then is our damage, not the origin's word)."""
        try:
            mine = SignedCheckpoint.open(
                stored.note, self._members.origin_key(stored.origin)
            ).checkpoint
        except VerificationError as exc:
            raise self._own_damage(
                stored.origin,
                stored.size,
                f"the stored note of checkpoint {stored.size} does not verify: {exc}",
            ) from None
        if mine.origin != stored.origin or mine.size != stored.size:
            raise self._own_damage(
                stored.origin,
                stored.size,
                f"the stored note of checkpoint {stored.size} signs {mine.origin} at size "
                f"{mine.size}",
            )
        return mine

    def _own_damage(self, origin: str, size: int, detail: str) -> integrity_report.OwnDamageError:
        """Record a finding about our own store met outside a check (``hashfed status`` shows
        the store unhealthy until a check comes back clean); the error to raise."""
        damage = integrity_report.Damage(
            origin, "root", detail, integrity_report.own_damage_repair(origin), checkpoint_size=size
        )
        integrity_findings.record_damage(self._home, damage, "sync")
        log.error("own store damaged: %s", damage.line())
        return integrity_report.OwnDamageError(damage)

    def head_damage(self, origin: str) -> integrity_report.Damage | None:
        """Why our verified head of ``origin`` cannot be trusted (recorded as a finding), or
        None when its leaves rebuild its frontier and its target note verifies."""
        damage = integrity_check.head_damage(self._store, origin, self._members.origin_key(origin))
        if damage is not None:
            integrity_findings.record_damage(self._home, damage, "sync")
            log.error("own store damaged: %s", damage.line())
        return damage


def _note_size(note: str) -> int:
    """The size a note states (unverified; only to name where damage is), or 0."""
    try:
        return Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size
    except VerificationError:
        return 0
