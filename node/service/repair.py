"""``hashfed check --repair --peer NAME``: fetch damaged entries again from a peer.

Every entry a node holds is signed and held by others. For each entry a check found damaged
(its body, its leaf, its decoding or its derived rows), the peer's ``GetInclusionProof`` gives
the entry's bytes with an audit path and the peer's signed checkpoint. The entry is accepted
only if the checkpoint verifies with the origin's key as stored here and the path ties the
entry's leaf to that signed root; it is then written back (body, leaf, kind, signal values in
their existing rows) and the whole origin is checked again **inside the same write
transaction**: unless every checkpoint this node holds verifies again, nothing is kept. So a
peer can make a repair fail, never make it wrong.

A damaged verified head (its frontier does not rebuild from the stored leaves, or its target
note does not verify) is dropped: the head row and the entries beyond the origin's newest stored
checkpoint go, with their signal rows, retractions and opinions; no signed checkpoint covers
them, and the next sync fetches them again, proven afresh. Nothing is fetched for them here.

Other findings without an entry index (a root, a frontier, a note, SQLite's structure) and missing
entries are not repaired here: for this node's own log `hashfed recover --peer NAME` rebuilds
it; otherwise a backup. A repair that changed signal values drops the saved index snapshot,
so the next start rebuilds the match index from the repaired rows (run it while ``serve`` is
stopped, or restart ``serve`` after it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core import Node
from node.errors import HashfedError, VerificationError
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.keys import VerifierKey
from node.log.merkle import leaf_hash
from node.log.proof_verification import verify_inclusion
from node.service.entry_rows import entry_row
from node.service.index_snapshot import FOLDER_NAME, MANIFEST
from node.service.integrity_check import check_origins, run_check
from node.service.integrity_report import ENTRY_KINDS, CheckReport, Scope
from node.store.rows import DroppedHead
from node.sync.client import PeerClient, PeerTarget

REPAIRABLE = ENTRY_KINDS


@dataclass
class RepairReport:
    peer: str
    repaired: list[tuple[str, int]] = field(default_factory=list)
    failed: list[tuple[str, int, str]] = field(default_factory=list)  # origin, index, why
    dropped_heads: list[DroppedHead] = field(default_factory=list)
    after: CheckReport | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "repaired": [{"origin": o, "index": i} for o, i in self.repaired],
            "failed": [{"origin": o, "index": i, "reason": r} for o, i, r in self.failed],
            "dropped_heads": [
                {"origin": d.origin, "kept": d.kept, "entries": d.entries}
                for d in self.dropped_heads
            ],
            "after": None if self.after is None else self.after.to_dict(),
        }


async def repair_from_peer(node: Node, peer: str, report: CheckReport) -> RepairReport:
    """Drop every damaged verified head of ``report``, re-fetch every repairable damaged entry
    from ``peer``; check again."""
    own = None if node.is_auditor else node.origin
    result = RepairReport(peer)
    # Heads first: an entry finding beyond the newest checkpoint is gone with its head.
    for origin in sorted({d.origin for d in report.damage if d.kind == "head"} - {own}):
        result.dropped_heads.append(_drop_head(node, origin))
    kept = {d.origin: d.kept for d in result.dropped_heads}
    wanted: dict[str, set[int]] = {}
    for d in report.damage:
        if d.kind not in REPAIRABLE or d.index is None:
            continue
        if d.origin in kept and d.index >= kept[d.origin]:
            continue  # dropped with its head
        wanted.setdefault(d.origin, set()).add(d.index)
    if wanted:
        target = PeerTarget.load(node, peer)
        async with PeerClient(target) as client:
            for origin in sorted(wanted):
                fetched: dict[int, bytes] = {}
                for idx in sorted(wanted[origin]):
                    try:
                        entry, path, note = await client.inclusion_proof(origin, idx)
                        fetched[idx] = _proven(node, origin, idx, entry, path, note)
                    except HashfedError as exc:
                        result.failed.append((origin, idx, str(exc)))
                _write_back(node, origin, own, fetched, report, result)
    result.after = run_check(node.store, node.paths.root, own)
    return result


def _drop_head(node: Node, origin: str) -> DroppedHead:
    with node.store.transaction():
        dropped = node.store.integrity.drop_verified_head_entries(origin)
    node.trees.forget(origin)  # may hold leaves that are gone now
    if dropped.signal_rows:
        # Rows were removed and renumbered: a saved index would match the wrong entries.
        (node.paths.root / FOLDER_NAME / MANIFEST).unlink(missing_ok=True)
    return dropped


def _proven(node: Node, origin: str, idx: int, entry: bytes, path: list[bytes], note: str) -> bytes:
    key = VerifierKey.parse(node.store.members.origin(origin).verifier_key)
    try:
        signed = SignedCheckpoint.open(note, key).checkpoint
        verify_inclusion(leaf_hash(entry), idx, signed.size, path, signed.root)
        if decode_entry(entry).origin != origin:
            raise VerificationError(f"it is not an entry of {origin}")
    except VerificationError as exc:
        raise VerificationError(
            f"the peer's copy does not verify against {origin}'s signed checkpoint: {exc}"
        ) from exc
    return entry


def _write_back(
    node: Node,
    origin: str,
    own: str | None,
    fetched: dict[int, bytes],
    before: CheckReport,
    result: RepairReport,
) -> None:
    if not fetched:
        return
    store = node.store
    # Where damage was known: a finding elsewhere after the repair would be new damage. (A
    # known one may change kind: with entry 2 fixed, entry 1's "entry" becomes "body".)
    known = {(d.index, d.checkpoint_size) for d in before.damage if d.origin == origin}
    signals_changed = False
    done: list[int] = []
    try:
        with store.transaction():
            for idx, body in sorted(fetched.items()):
                entry = decode_entry(body)
                row = entry_row(idx, body, leaf_hash(body), entry.statement, entry.create_time_ms)
                values = [(s.type, s.value, s.quality) for s in row.signals]
                old = {
                    (t, v)
                    for _, t, v, _, _ in store.integrity.signals_between(origin, idx, idx + 1)
                }
                if not store.integrity.replace_entry(origin, idx, body, row.leaf, row.kind, values):
                    result.failed.append(
                        (origin, idx, "its stored signal rows cannot take the peer's signals")
                    )
                    continue
                signals_changed |= old != {(t, v) for t, v, _ in values}
                done.append(idx)
            # Still inside the transaction: the repaired entries must be clean and nothing new
            # may be wrong (every signed checkpoint held verifies as before), or nothing is kept.
            after = check_origins(store, own, [origin], Scope())
            bad = [
                d
                for d in after.damage
                if d.index in done or (d.index, d.checkpoint_size) not in known
            ]
            if bad:
                raise _RepairRejectedError("; ".join(d.line() for d in bad[:3]))
    except _RepairRejectedError as undo:
        result.failed.extend(
            (origin, idx, f"the repaired log would not verify, nothing kept: {undo}")
            for idx in done
        )
        return
    result.repaired.extend((origin, idx) for idx in done)
    if signals_changed:
        (node.paths.root / FOLDER_NAME / MANIFEST).unlink(missing_ok=True)


class _RepairRejectedError(Exception):
    """Ends the repair transaction (rolled back) when the result would not verify."""
