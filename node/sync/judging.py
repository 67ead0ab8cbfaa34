"""Whose fault a batch that does not prove is: the relaying peer's bytes, our own damage, or
the origin's contradiction (mixed into the origin sync of node/sync/engine.py)."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import TYPE_CHECKING

from node.core import Node
from node.errors import ProofError, SyncError
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.merkle import EMPTY_ROOT, leaf_hash
from node.log.proof_verification import verify_consistency
from node.service.integrity_report import Damage, OwnDamageError, repair_advice
from node.service.runner import NodeRunner
from node.service.verified_import import Held
from node.store.rows import StoredCheckpoint
from node.sync.batches import BatchRefusedError, check_batch
from node.sync.client import PeerClient, PeerError
from node.sync.fault import (
    MAX_FULL_LOG_ENTRIES,
    PEER_FAULT_REASON,
    Culprit,
    FullLogCheck,
    Verdict,
)
from node.sync.reports import EVIDENCE, FAILED, IMPORTED, UP_TO_DATE, OriginSyncReport

log = logging.getLogger("hashfed.sync")


class Judging:
    """The judging half of ``_OriginSync`` (node/sync/engine.py), which provides the rest."""

    runner: NodeRunner
    node: Node
    client: PeerClient
    peer: str
    origin: str
    report: OriginSyncReport

    if TYPE_CHECKING:

        async def _reject(self, count: int, reason: str, detail: str = "") -> OriginSyncReport: ...

        async def _fetch(
            self, signed: SignedCheckpoint, held: Held, *, retried: bool
        ) -> OriginSyncReport: ...

    async def _evidence(
        self, kind: str, first_note: str, second_note: str, detail: dict[str, object]
    ) -> OriginSyncReport:
        r = self.report
        try:
            r.evidence_id = await self.runner.call(
                self.node.importer.record_evidence,
                self.origin,
                kind,
                first_note,
                second_note,
                json.dumps(detail, sort_keys=True),
                self.peer,
            )
        except OwnDamageError as exc:  # the evidence did not prove itself: built from damage
            return self._damaged(exc.damage)
        r.status = EVIDENCE
        r.reason = (
            f"{self.origin} signed two checkpoints that cannot both be true ({kind}); "
            f"evidence #{r.evidence_id} kept, import from {self.origin} stopped"
        )
        log.error("EQUIVOCATION by %s (relayed by %s): %s", self.origin, self.peer, r.reason)
        return r

    def _damaged(self, damage: Damage) -> OriginSyncReport:
        """Our own store is wrong (recorded as an integrity finding): no evidence, no halt, no
        count against the peer; the operator repairs it."""
        r = self.report
        r.status = FAILED
        r.own_damage = True
        r.reason = (
            f"this node's copy of {self.origin} is damaged ({damage.detail}); nobody is "
            f"blamed, no evidence kept. Repair: {damage.repair}"
        )
        log.error("sync %s: %s: %s", self.peer, self.origin, r.reason)
        return r

    def _contradiction(self, held: Held, what: str) -> OriginSyncReport:
        """A signed tree that contradicts the entries held beyond our newest checkpoint, which
        were proven into another checkpoint the origin signed: the origin's doing, not the
        peer's. The evidence format needs a checkpoint held in full (the one those entries were
        proven into), so evidence is recorded once the sync reaches it."""
        r = self.report
        r.status = FAILED
        r.reason = (
            f"{what} the {held.size} entries we hold (verified against its checkpoint of size "
            f"{_note_size(held)}); not the peer's fault; evidence is recorded once that "
            "checkpoint is reached"
        )
        log.error("sync %s: %s: %s", self.peer, self.origin, r.reason)
        return r

    async def _judge(
        self, signed: SignedCheckpoint, held: Held, refused: BatchRefusedError, *, retried: bool
    ) -> OriginSyncReport:
        """The first batch after our ``held.size`` entries did not prove into the signed tree:
        the peer's fault, unless the origin is proven to have signed two incompatible trees."""
        r = self.report
        their = signed.checkpoint
        m = held.size
        failure = refused.detail
        now = await self.runner.call(self.node.importer.held, self.origin)
        if now.size != m:
            # Another sync (another peer, another process) stored entries meanwhile: nobody's
            # fault, the next round continues from there.
            r.status = UP_TO_DATE
            r.reason = "our log of this origin changed during the sync; next round continues"
            return r
        if retried:
            # Judged a moment ago: our tree is a prefix of the signed one, so again the bytes.
            return await self._reject(refused.count, PEER_FAULT_REASON, failure)
        log.info(
            "sync %s: %s: the batch after %d does not prove into the tree of size %d (%s); "
            "deciding whose fault",
            self.peer,
            self.origin,
            m,
            their.size,
            failure,
        )
        cleared = m == 0  # every tree extends the empty one: only the bytes can be wrong
        if m > 0:
            try:
                proof = await self.client.consistency(self.origin, m, their.size)
                verify_consistency(m, their.size, proof, held.frontier.root(), their.root)
                cleared = True  # the peer's own proof shows our tree is a prefix of the signed one
            except (PeerError, ProofError) as exc:
                log.info(
                    "sync %s: %s: consistency %d -> %d: %s",
                    self.peer,
                    self.origin,
                    m,
                    their.size,
                    exc,
                )
        latest = held.latest
        verdict = None
        if not cleared and their.size <= MAX_FULL_LOG_ENTRIES:
            try:
                verdict, check = await self._full_log_verdict(signed, latest)
            except OwnDamageError as exc:  # our newest checkpoint's note no longer verifies
                return self._damaged(exc.damage)
            if verdict is not None and verdict.culprit is Culprit.ORIGIN:
                assert latest is not None  # a prefix of size 0 cannot differ
                return await self._evidence(
                    "inconsistent-larger", latest.note, signed.text(), verdict.detail
                )
            if (
                verdict is not None
                and verdict.culprit is Culprit.NOBODY
                and held.head is not None
                and check.root_at(m) != held.frontier.root()
            ):
                damage = await self.runner.call(self.node.importer.head_damage, self.origin)
                target = Checkpoint.parse(held.head.target_note.split("\n\n", 1)[0] + "\n")
                if damage is None and (target.size, target.root) == (their.size, their.root):
                    # Our head was proven into this very tree, yet the full log that
                    # reproduces it does not give our head: our leaves changed since.
                    damage = Damage(
                        self.origin,
                        "head",
                        f"the {m} entries held beyond the newest checkpoint are not the "
                        f"first {m} of the signed tree of size {their.size} they were proven "
                        "into",
                        repair_advice(self.origin, None, "head"),
                        checkpoint_size=m,
                    )
                if damage is not None:
                    return self._damaged(damage)
                # The signed tree of n extends our newest checkpoint but not the entries held
                # beyond it.
                return self._contradiction(
                    held, f"{self.origin}'s signed tree of size {their.size} does not extend"
                )
        await self._reject(refused.count, PEER_FAULT_REASON, failure)
        if not (cleared or (verdict is not None and verdict.culprit is Culprit.NOBODY)):
            return r
        # Our tree is a prefix of the signed one, so only the bytes were wrong: one more try in
        # this round (a peer that lied once may send them intact now); a second failure is
        # only counted.
        reason = r.reason
        result = await self._fetch(signed, held, retried=True)
        if result.status == IMPORTED and result.reason is None:
            result.reason = f"{reason}; received again intact"
        return result

    async def _full_log_verdict(
        self, signed: SignedCheckpoint, latest: StoredCheckpoint | None
    ) -> tuple[Verdict | None, FullLogCheck]:
        """Fetch the whole log again (leaf hashes only) and judge it against our newest signed
        checkpoint (if any) and the relayed one (node/sync/fault.py)."""
        their = signed.checkpoint
        if latest is None:
            check = FullLogCheck(0, EMPTY_ROOT, their.size, their.root)
        else:
            # The root from our signed note, not the stored column: a changed byte there would
            # make the honest full log look like the origin's contradiction.
            mine = await self.runner.call(self.node.importer.stored_note, latest)
            check = FullLogCheck(mine.size, mine.root, their.size, their.root)
        try:
            stream = self.client.stream_entries(self.origin, 0, their.size)
            async with contextlib.aclosing(stream):
                async for start, batch, _proof in stream:
                    try:
                        check_batch(start, batch, check.size, their.size)
                    except BatchRefusedError:
                        break
                    check.add(leaf_hash(b) for b in batch)
            return check.verdict(), check
        except SyncError as exc:
            log.info("sync %s: %s: full log unavailable: %s", self.peer, self.origin, exc)
            return None, check


def _note_size(held: Held) -> int:
    """Size of the checkpoint our head was proven against (signed, verified when stored)."""
    assert held.head is not None
    return Checkpoint.parse(held.head.target_note.split("\n\n", 1)[0] + "\n").size
