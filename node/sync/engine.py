"""Pulling one peer: compare checkpoints, fetch what is missing, verify, import or blame.

See the package docstring for the protocol; every facade call goes through the node's
:class:`~node.service.runner.NodeRunner`.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from node.core import Node
from node.errors import (
    EquivocationError,
    HashfedError,
    InvalidInputError,
    MalformedError,
    ProofError,
    SyncError,
)
from node.log.checkpoint import SignedCheckpoint
from node.log.keys import VerifierKey
from node.service.integrity_report import OwnDamageError
from node.service.own_log_check import check_offer
from node.service.runner import NodeRunner
from node.service.verified_import import Held
from node.store.rows import StoredCheckpoint
from node.sync.batches import (
    BATCH_FAULT_REASON,
    NO_BATCH_PROOF_REASON,
    OUT_OF_RANGE_REASON,
    OVERSIZED_REASON,
    BatchRefusedError,
    verify_batch,
)
from node.sync.client import PeerClient, PeerError, PeerTarget
from node.sync.groups import GroupWriter
from node.sync.judging import Judging
from node.sync.reports import (
    FAILED,
    HALTED,
    IMPORTED,
    OWN,
    PEER_BEHIND,
    PEER_OUTDATED,
    REJECTED,
    UNTRUSTED,
    UP_TO_DATE,
    OriginSyncReport,
    PeerSyncReport,
    ProgressFn,
    SyncProgress,
)
from node.text import shown

# Moved to node/sync/{batches,reports}.py; still importable from here, where callers look.
__all__ = [
    "BATCH_FAULT_REASON",
    "FAILED",
    "NO_BATCH_PROOF_REASON",
    "OUT_OF_RANGE_REASON",
    "OVERSIZED_REASON",
    "OWN",
    "PEER_OUTDATED",
    "BatchRefusedError",
    "OriginSyncReport",
    "PeerSyncReport",
    "ProgressFn",
    "SyncProgress",
    "sync_peer",
    "verify_batch",
]

log = logging.getLogger("hashfed.sync")
# A library logs; the program decides where it goes (``hashfed serve`` configures logging, the
# ``sync`` command prints its own report instead).
log.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class _Plan:
    """Our side of one origin, read in one node-thread call."""

    own: bool
    key: VerifierKey | None
    halted: bool
    held: Held | None
    max_origin_entries: int
    max_fetch_per_round: int


def _plan(node: Node, origin: str) -> _Plan:
    bounds = (node.config.max_origin_entries, node.config.max_fetch_per_round)
    if origin == node.origin:
        return _Plan(True, None, False, None, *bounds)
    key = node.members.trusted_keys().get(origin)
    if key is None:
        return _Plan(False, None, False, None, *bounds)
    return _Plan(
        False, key, origin in node.importer.halted_origins(), node.importer.held(origin), *bounds
    )


async def sync_peer(
    runner: NodeRunner, peer: str, progress: ProgressFn | None = None
) -> PeerSyncReport:
    """Pull every trusted origin ``peer`` holds at a larger size than ours.

    Never raises for the peer's failures: they are in the report (and in the node's peer
    statistics). Raises only for our own problems (``peer`` unknown, database unusable).
    """
    target = await runner.call(PeerTarget.load, runner.node, peer)
    report = PeerSyncReport(peer, target.address)
    async with PeerClient(target) as client:
        try:
            offered = await client.list_origins()
        except PeerError as exc:
            report.error = str(exc)
            await runner.call(runner.node.importer.record_peer_result, peer, error=report.error)
            log.warning("%s", shown(report.summary()))
            return report
        for origin, note in offered:
            session = _OriginSync(runner, client, peer, origin, note, progress)
            try:
                result = await session.run()
            except PeerError as exc:
                # Connection lost mid-stream: every verified group that arrived is stored; the
                # next run continues from there.
                result = session.report
                result.status = FAILED
                result.reason = str(exc)
            report.origins.append(result)
            if result.fetched:
                # This origin's stream is over, whatever stopped it: the loop's rate watch
                # stops timing it here, so later whose-fault work is never "too slow".
                session._tell(result.fetched, result.fetched)
    # Our own damage is not the peer's failure: it is in the integrity findings instead.
    failures = [o for o in report.origins if not o.ok and o.status != REJECTED and not o.own_damage]
    if failures:
        # Rejections were recorded (with their reason) as they happened.
        await runner.call(
            runner.node.importer.record_peer_result,
            peer,
            received=report.received,
            error="; ".join(f"{o.origin}: {o.reason}" for o in failures),
        )
    elif report.received or report.ok:
        await runner.call(runner.node.importer.record_peer_result, peer, received=report.received)
    # Quiet rounds (nothing new) at DEBUG: the loop runs every few seconds.
    level = (
        logging.WARNING if not report.ok else (logging.INFO if report.received else logging.DEBUG)
    )
    log.log(level, "%s", shown(report.summary()))
    return report


class _OriginSync(Judging):
    """One origin offered by one peer."""

    def __init__(
        self,
        runner: NodeRunner,
        client: PeerClient,
        peer: str,
        origin: str,
        note: str,
        progress: ProgressFn | None,
    ) -> None:
        self.runner = runner
        self.node = runner.node  # only to name facade methods for runner.call
        self.client = client
        self.peer = peer
        self.origin = origin
        self.note = note
        self.progress = progress
        self.report = OriginSyncReport(origin, FAILED)
        self.max_fetch = 0

    async def run(self) -> OriginSyncReport:
        r = self.report
        plan = await self.runner.call(_plan, self.node, self.origin)
        if plan.own:
            r.status = OWN
            # A peer holding more of our own log than we do stops us signing (own_log_check).
            r.reason = await self.runner.call(check_offer, self.node, self.note, self.peer)
            return r
        if plan.key is None:
            # Origins outside our trust set are not stored, not even looked at.
            r.status = UNTRUSTED
            r.reason = "not a trusted member here; nothing stored"
            return r
        if plan.halted:
            r.status = HALTED
            r.reason = "import stopped: equivocation evidence is recorded"
            return r
        assert plan.held is not None
        held = plan.held
        try:
            signed = SignedCheckpoint.open(self.note, plan.key)
        except HashfedError as exc:
            return await self._reject(
                1, "checkpoint does not verify with the origin's key", str(exc)
            )
        their = signed.checkpoint
        latest = held.latest
        signed_size = 0 if latest is None else latest.size
        ours = held.size
        r.their_size = their.size
        r.our_size_before = r.our_size_after = ours
        if their.size == 0:
            r.status = UP_TO_DATE if ours == 0 else PEER_BEHIND
            return r
        if their.size > plan.max_origin_entries:
            # Refused on the signed claim alone: a log this large is not fetched, whoever
            # signed it (the origin did: the peer only relays it, so nothing is counted).
            return await self._reject(
                0,
                "checkpoint larger than this node accepts",
                f"{self.origin} signed a tree of {their.size} entries; max_origin_entries is "
                f"{plan.max_origin_entries}",
            )
        # From here n > 0, and c <= m (signed_size <= ours): exactly one of n <= c, c < n <= m,
        # n > m holds (docs/protocol.md §9.1 step 2); n = m is one of the first two.
        if their.size <= signed_size:
            assert latest is not None  # n > 0, so c > 0: a checkpoint is stored
            return await self._compare(signed, latest)
        if their.size <= ours:
            return await self._compare_head(signed, held)
        self.max_fetch = plan.max_fetch_per_round
        r.reused = ours - signed_size
        return await self._fetch(signed, held, retried=False)

    async def _compare(
        self, signed: SignedCheckpoint, latest: StoredCheckpoint
    ) -> OriginSyncReport:
        """The peer's tree is not larger than ours: it must be a prefix of what we verified."""
        r = self.report
        their = signed.checkpoint
        # run() returns before this for a tree of size 0, which every log extends.
        our_root = await self.runner.call(self.node.reader.root_at, self.origin, their.size)
        if our_root == their.root:
            r.status = UP_TO_DATE if their.size == r.our_size_before else PEER_BEHIND
            return r
        try:
            # Roots from the signed notes, the proof checked: our stored leaves or roots alone
            # never convict anyone.
            kind, detail = await self.runner.call(
                self.node.importer.conflict_detail, latest, signed
            )
        except OwnDamageError as exc:
            return self._damaged(exc.damage)
        return await self._evidence(kind, latest.note, signed.text(), detail)

    async def _compare_head(self, signed: SignedCheckpoint, held: Held) -> OriginSyncReport:
        """The peer's tree ends within the entries we hold beyond our newest checkpoint."""
        r = self.report
        their = signed.checkpoint
        our_root = await self.runner.call(self.node.reader.root_at, self.origin, their.size)
        if our_root == their.root:
            r.status = UP_TO_DATE if their.size == held.size else PEER_BEHIND
            return r
        damage = await self.runner.call(self.node.importer.head_damage, self.origin)
        if damage is not None:
            # Our head no longer is what was proven: the differing root is our damage.
            return self._damaged(damage)
        return self._contradiction(
            held, f"{self.origin} signed a tree of size {their.size} whose root differs from"
        )

    def _outdated(self, refused: BatchRefusedError) -> OriginSyncReport:
        r = self.report
        r.status = PEER_OUTDATED
        r.reason = (
            f"peer {self.peer} sent no batch proof: it runs a hashfed without batch proofs "
            f"(older than this protocol); upgrade it ({refused.detail})"
        )
        log.warning("sync %s: %s: %s", self.peer, self.origin, r.reason)
        return r

    async def _reject(self, count: int, reason: str, detail: str = "") -> OriginSyncReport:
        """Count ``count`` entries against the peer; ``reason`` is the statistics key."""
        r = self.report
        r.status = REJECTED
        r.rejected += count
        r.reason = f"{reason} ({detail})" if detail else reason
        await self.runner.call(
            self.node.importer.record_peer_result,
            self.peer,
            rejected=count,
            reason=reason,
            error=f"{self.origin}: {r.reason}",
        )
        log.warning("sync %s: %s: rejected %d entries: %s", self.peer, self.origin, count, r.reason)
        return r

    def _tell(self, received: int, total: int) -> None:
        if self.progress is not None:
            self.progress(SyncProgress(self.peer, self.origin, received, total))

    async def _fetch(
        self, signed: SignedCheckpoint, held: Held, *, retried: bool
    ) -> OriginSyncReport:
        """Stream ``[held.size, n)``, verify every batch against the signed tree of size ``n``
        as it arrives and store it, in groups, while the next ones arrive."""
        r = self.report
        their = signed.checkpoint
        position = held.size
        frontier = held.frontier
        limit = min(their.size, held.size + self.max_fetch)
        need = their.size - r.our_size_before
        writer = GroupWriter(self.runner, self.origin, signed, position, frontier)
        refused: BatchRefusedError | None = None
        try:
            stream = self.client.stream_entries(self.origin, position, their.size)
            async with contextlib.aclosing(stream):
                async for start, batch, proof in stream:
                    try:
                        frontier, leaves = verify_batch(start, batch, proof, frontier, signed)
                    except BatchRefusedError as exc:
                        refused = exc
                        break
                    await writer.add(batch, leaves, frontier)
                    position = frontier.size
                    r.fetched += len(batch)
                    self._tell(position - r.our_size_before, need)
                    if position >= limit:
                        break
            await writer.finish()
        except PeerError:
            # Everything verified before the connection broke is kept: the next run resumes
            # from it.
            await writer.finish_verified()
            self._stored(writer)
            raise
        except MalformedError as exc:
            # Proven into the signed tree, so signed by the origin: not the relay's doing, and
            # not equivocation either. What came before it is kept; the operator reads why.
            await writer.finish_verified()
            self._stored(writer)
            r.status = FAILED
            r.reason = f"{self.origin} signed an entry this node cannot read: {exc}"
            log.error("sync %s: %s: %s", self.peer, self.origin, r.reason)
            return r
        except EquivocationError as exc:
            await writer.finish_quietly()
            self._stored(writer)
            r.status = HALTED
            r.reason = str(exc)
            return r
        except (ProofError, SyncError, InvalidInputError) as exc:
            # Raised while storing: held entries that differ from proven ones, or the origin
            # no longer trusted. Nothing of the group is stored.
            await writer.finish_quietly()
            self._stored(writer)
            r.status = FAILED
            r.reason = str(exc)
            log.error("sync %s: %s: %s", self.peer, self.origin, r.reason)
            return r
        self._stored(writer)
        if refused is not None:
            # The stream is over: a report with received == total tells the loop's rate watch
            # to stop timing it before the whose-fault work below (a consistency call, perhaps
            # a full-log fetch), which is verification, not streaming (§9.7).
            got = position - r.our_size_before
            self._tell(got, got)
            if refused.reason == NO_BATCH_PROOF_REASON:
                return self._outdated(refused)
            if refused.proof and position == held.size:
                # The very first batch after what we hold: our tree or the peer's bytes?
                return await self._judge(signed, held, refused, retried=retried)
            return await self._reject(refused.count, refused.reason, refused.detail)
        if position < limit:
            kept = position - held.size
            raise PeerError(
                f"{self.peer} ended the stream of {self.origin} at index {position}, before "
                f"{their.size}"
                + (f"; the {kept} verified entries it sent are kept" if kept else "")
            )
        r.status = IMPORTED
        if position < their.size:
            r.reason = (
                f"fetched {position - held.size} entries (max_fetch_per_round); "
                f"{their.size - position} more next round"
            )
        return r

    def _stored(self, writer: GroupWriter) -> None:
        self.report.imported += writer.appended
        self.report.our_size_after = max(self.report.our_size_after, writer.size)
