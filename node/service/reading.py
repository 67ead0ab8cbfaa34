"""Reading logs and proving things about them: to the operator (log, checkpoint, bundle) and
to peers (served checkpoints, entry bodies, inclusion and consistency proofs).

Nothing damaged is ever handed out: a body or bundle that no longer verifies is recorded
(``hashfed status``) and refused by name (node.service.integrity_check)."""

from __future__ import annotations

from pathlib import Path

from node.errors import InvalidInputError, NotFoundError
from node.log.bundle import Bundle
from node.log.entry import decode_entry
from node.log.merkle import leaf_hash
from node.results import Witnessing
from node.service import integrity_check, integrity_findings, integrity_report
from node.service.entry_rows import ignored_because
from node.service.log_lines import LogLine, summary
from node.service.tree_cache import TreeCache
from node.service.verified_import import held
from node.service.witnessing import Witness
from node.store.rows import StoredCheckpoint
from node.store.store import Store


class Reader:
    """Read access to every log this node holds, and the proofs it serves."""

    def __init__(
        self, store: Store, home: Path, origin: str, trees: TreeCache, witness: Witness
    ) -> None:
        self._store = store
        self._home = home
        self._origin = origin
        self._trees = trees
        self._witness = witness

    # -- the operator's view -------------------------------------------------------------------

    def log(self, origin: str | None = None) -> list[LogLine]:
        origin = origin or self._origin
        self._store.members.origin(origin)
        lines = []
        for row in self._store.log.entries(origin):
            entry = decode_entry(row.body)
            lines.append(
                LogLine(
                    origin,
                    row.idx,
                    row.kind,
                    row.create_ms,
                    summary(entry),
                    row.kind == "ADD" and self._store.log.is_retracted(origin, row.idx),
                    row.leaf,
                    row.body,
                    entry,
                    ignored_because(self._store, origin, row.idx, entry, row.body),
                )
            )
        return lines

    def checkpoint(self, origin: str | None = None) -> StoredCheckpoint:
        origin = origin or self._origin
        latest = self._store.log.latest_checkpoint(origin)
        if latest is None:
            self._store.members.origin(origin)
            raise NotFoundError(f"origin {origin!r} has no checkpoint yet (its log is empty)")
        return latest

    def bundle(self, origin: str, entry_index: int) -> Bundle:
        """A provenance bundle for one entry: against the smallest witnessed checkpoint that
        covers it, with its cosignatures, or else against the newest checkpoint."""
        if not origin:
            # checkpoint() reads "" as this node's own origin; every lookup below would not.
            raise InvalidInputError("origin is missing: name the origin whose entry to prove")
        ahead = held(self._store, origin)
        if ahead.latest is None or entry_index >= ahead.latest.size:
            signed = 0 if ahead.latest is None else ahead.latest.size
            if signed <= entry_index < ahead.size:
                # Verified batch by batch, but no signed checkpoint of ours covers it: a bundle
                # needs one, and inventing one is not ours to do.
                raise NotFoundError(
                    f"entry {entry_index} of {origin!r} is held (verified up to {ahead.size}), "
                    f"but no signed checkpoint covers it yet (newest: size {signed}); a bundle "
                    "is available once the sync reaches the checkpoint it was proven against"
                )
            latest = self.checkpoint(origin)
            raise NotFoundError(
                f"origin {origin!r} has no entry {entry_index} (log size {latest.size})"
            )
        latest = ahead.latest
        size = self._witness.status(origin, entry_index).checkpoint_size or latest.size
        checkpoint = self._store.log.checkpoint_at(origin, size)
        assert checkpoint is not None  # witnessed sizes are sizes of stored checkpoints
        body, _ = self._store.log.entry(origin, entry_index)
        proof = self._trees.get(origin, size).inclusion_proof(entry_index, size)
        bundle = Bundle(origin, entry_index, body, tuple(proof), self._witness.note(checkpoint))
        return self._undamaged(bundle)

    def _undamaged(self, bundle: Bundle) -> Bundle:
        """``bundle``, if it verifies as scripts/verify_bundle.py would check it; else the
        damage is recorded (``status``) and refused by name (node.service.integrity_check)."""
        if (damage := integrity_check.bundle_damage(self._store, bundle, self._origin)) is not None:
            integrity_findings.record_damage(self._home, damage, "bundle")
            raise integrity_report.refuse(damage)
        return bundle

    def witness_status(self, origin: str, entry_index: int) -> Witnessing:
        """Whether ``entry_index`` of ``origin`` is covered by a witnessed checkpoint."""
        self._store.members.origin(origin)
        return self._witness.status(origin, entry_index)

    def root_at(self, origin: str, size: int) -> bytes:
        """Root of our verified copy of ``origin`` at ``size`` (at most what we hold)."""
        stored = self._store.log.checkpoint_at(origin, size)
        if stored is not None:
            return stored.root
        return self._trees.get(origin, size).root(size)

    # -- what peers read -----------------------------------------------------------------------

    def served_checkpoints(self) -> list[StoredCheckpoint]:
        """Newest checkpoint of every origin this node serves: itself and trusted members."""
        served = [self._origin, *(m.origin for m in self._store.members.members() if m.trusted)]
        latest = [self._store.log.latest_checkpoint(o) for o in served]
        return [c for c in latest if c is not None]

    def served_size(self, origin: str) -> int:
        """The size of ``origin`` this node serves; NotFoundError if it serves none."""
        if origin != self._origin and not self._store.members.is_trusted(origin):
            raise NotFoundError(f"this node does not serve origin {origin!r}")
        latest = self._store.log.latest_checkpoint(origin)
        return 0 if latest is None else latest.size

    def entry_bodies(self, origin: str, start: int, end: int) -> list[bytes]:
        size = self.served_size(origin)
        if not 0 <= start <= end <= size:
            raise InvalidInputError(
                f"entries [{start}, {end}) of {origin} requested; this node serves [0, {size})"
            )
        bodies = self._store.log.bodies(origin, start, end)
        self._serve_undamaged(origin, start, bodies, size)
        return bodies

    def _serve_undamaged(self, origin: str, start: int, bodies: list[bytes], size: int) -> None:
        """Refuse, by name, a body that no longer hashes to its stored leaf: the peer verifies
        every batch against the origin's signed root, so sending it would only make this node
        look like a lying relay (and the peer would fetch it elsewhere anyway)."""
        stored = self._trees.get(origin, size).leaf_bytes(start, start + len(bodies))
        for offset, body in enumerate(bodies):
            if leaf_hash(body) != stored[32 * offset : 32 * offset + 32]:
                damage = integrity_report.Damage(
                    origin,
                    "body",
                    "its stored body does not hash to its stored leaf",
                    integrity_report.repair_advice(origin, self._origin),
                    index=start + offset,
                )
                integrity_findings.record_damage(self._home, damage, "serve")
                raise integrity_report.refuse(damage)

    def inclusion(
        self, origin: str, entry_index: int, tree_size: int = 0
    ) -> tuple[bytes, list[bytes], str]:
        """(entry bytes, audit path, signed checkpoint of exactly ``tree_size``)."""
        size = self.served_size(origin)
        tree_size = tree_size or size
        checkpoint = self._store.log.checkpoint_at(origin, tree_size)
        if checkpoint is None:
            raise NotFoundError(f"this node holds no checkpoint of {origin} at size {tree_size}")
        if entry_index >= tree_size:
            raise InvalidInputError(f"entry {entry_index} is not in a tree of size {tree_size}")
        body, _ = self._store.log.entry(origin, entry_index)
        proof = self._trees.get(origin, tree_size).inclusion_proof(entry_index, tree_size)
        # As for bundles: a damaged entry is refused by name, never sent with a proof.
        self._undamaged(Bundle(origin, entry_index, body, tuple(proof), checkpoint.note))
        return body, proof, checkpoint.note

    def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes]:
        size = self.served_size(origin)
        if not 0 < old_size <= new_size <= size:
            raise InvalidInputError(
                f"consistency {old_size} -> {new_size} of {origin} requested; sizes must satisfy "
                f"0 < old <= new <= {size}"
            )
        return self._trees.get(origin, new_size).consistency_proof(old_size, new_size)

    def checkpoint_notes(
        self, origin: str, min_size: int = 0, cosigned_only: bool = False, limit: int = 100
    ) -> list[tuple[int, str]]:
        """Up to ``limit`` checkpoints of a served origin from ``min_size`` on, as (size, note
        with our cosignatures)."""
        self.served_size(origin)
        return self._witness.notes(origin, min_size, cosigned_only, limit)
