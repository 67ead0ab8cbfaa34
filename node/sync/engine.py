"""Pulling one peer: compare checkpoints, fetch what is missing, verify, import or blame.

See the package docstring for the protocol; every facade call goes through the node's
:class:`~node.server.runner.NodeRunner`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from node.core import Node
from node.errors import (
    EquivocationError,
    HashfedError,
    MalformedError,
    ProofError,
    SyncError,
)
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import MAX_ENTRY_BYTES
from node.log.keys import VerifierKey
from node.log.merkle import leaf_hash
from node.own_log import check_offer
from node.server.runner import NodeRunner
from node.store.store import StoredCheckpoint
from node.sync.client import PeerClient, PeerError, PeerTarget
from node.sync.fault import MAX_FULL_LOG_ENTRIES, PEER_FAULT_REASON, Culprit, FullLogCheck
from node.text import shown
from node.verified_import import PreparedBodies

log = logging.getLogger("hashfed.sync")
# A library logs; the program decides where it goes (``hashfed serve`` configures logging, the
# ``sync`` command prints its own report instead).
log.addHandler(logging.NullHandler())

# What happened to one origin a peer offered (``OriginSyncReport.status``).
IMPORTED = "imported"
UP_TO_DATE = "up-to-date"
PEER_BEHIND = "peer-behind"
OWN = "own-origin"
UNTRUSTED = "untrusted-skipped"
HALTED = "halted"
REJECTED = "rejected"
EVIDENCE = "evidence"
FAILED = "failed"

OK_STATUSES = frozenset({IMPORTED, UP_TO_DATE, PEER_BEHIND, OWN, UNTRUSTED, HALTED, EVIDENCE})


@dataclass(frozen=True)
class SyncProgress:
    """Reported while entries arrive: ``received`` of ``total`` missing entries of ``origin``."""

    peer: str
    origin: str
    received: int
    total: int


ProgressFn = Callable[[SyncProgress], None]


@dataclass
class OriginSyncReport:
    origin: str
    status: str
    their_size: int = 0
    our_size_before: int = 0
    our_size_after: int = 0
    fetched: int = 0
    """Entries received from the peer in this run."""
    reused: int = 0
    """Entries staged from this peer by an earlier, interrupted run, not fetched again."""
    imported: int = 0
    rejected: int = 0
    reason: str | None = None
    evidence_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "status": self.status,
            "their_size": self.their_size,
            "our_size_before": self.our_size_before,
            "our_size_after": self.our_size_after,
            "fetched": self.fetched,
            "reused": self.reused,
            "received": self.imported,
            "rejected": self.rejected,
            "reason": self.reason,
            "evidence_id": self.evidence_id,
        }


@dataclass
class PeerSyncReport:
    peer: str
    address: str = ""
    origins: list[OriginSyncReport] = field(default_factory=list)
    error: str | None = None
    """Why the peer could not be synced at all (unreachable, certificate refused, …)."""

    @property
    def ok(self) -> bool:
        return self.error is None and all(o.ok for o in self.origins)

    @property
    def received(self) -> int:
        return sum(o.imported for o in self.origins)

    @property
    def rejected(self) -> int:
        return sum(o.rejected for o in self.origins)

    @property
    def fetched(self) -> int:
        return sum(o.fetched for o in self.origins)

    @property
    def reused(self) -> int:
        return sum(o.reused for o in self.origins)

    @property
    def untrusted_skipped(self) -> list[str]:
        return [o.origin for o in self.origins if o.status == UNTRUSTED]

    @property
    def evidence(self) -> list[OriginSyncReport]:
        return [o for o in self.origins if o.status == EVIDENCE]

    def problems(self) -> list[str]:
        """What went wrong, in words, one item per failure."""
        out = [] if self.error is None else [self.error]
        out.extend(f"{self.peer}: {o.origin}: {o.reason}" for o in self.origins if not o.ok)
        return out

    def summary(self) -> str:
        """One log line."""
        if self.error is not None:
            return f"sync {self.peer}: failed: {self.error}"
        parts = [
            f"{self.received} entries received",
            f"{self.fetched} fetched",
            f"{self.reused} reused from staging",
            f"{self.rejected} rejected",
        ]
        if self.untrusted_skipped:
            parts.append(f"{len(self.untrusted_skipped)} untrusted origin(s) skipped")
        if self.evidence:
            parts.append(f"EVIDENCE against {', '.join(o.origin for o in self.evidence)}")
        text = f"sync {self.peer}: " + ", ".join(parts)
        if not self.ok:
            text += "; " + "; ".join(self.problems())
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "address": self.address,
            "ok": self.ok,
            "error": self.error,
            "received": self.received,
            "fetched": self.fetched,
            "reused": self.reused,
            "rejected": self.rejected,
            "untrusted_origins_skipped": self.untrusted_skipped,
            "origins": [o.to_dict() for o in self.origins],
        }


@dataclass(frozen=True)
class _Plan:
    """Our side of one origin, read in one node-thread call."""

    own: bool
    key: VerifierKey | None
    halted: bool
    latest: StoredCheckpoint | None


def _plan(node: Node, origin: str) -> _Plan:
    if origin == node.origin:
        return _Plan(True, None, False, None)
    key = node.trusted_keys().get(origin)
    if key is None:
        return _Plan(False, None, False, None)
    return _Plan(False, key, origin in node.halted_origins(), node.latest(origin))


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
            await runner.call(runner.node.record_peer_result, peer, error=report.error)
            log.warning("%s", shown(report.summary()))
            return report
        for origin, note in offered:
            session = _OriginSync(runner, client, peer, origin, note, progress)
            try:
                result = await session.run()
            except PeerError as exc:
                # Connection lost mid-stream: what arrived stays staged for the next run.
                result = session.report
                result.status = FAILED
                result.reason = str(exc)
            report.origins.append(result)
    failures = [o for o in report.origins if not o.ok and o.status != REJECTED]
    if failures:
        # Rejections were recorded (with their reason) as they happened.
        await runner.call(
            runner.node.record_peer_result,
            peer,
            received=report.received,
            error="; ".join(f"{o.origin}: {o.reason}" for o in failures),
        )
    elif report.received or report.ok:
        await runner.call(runner.node.record_peer_result, peer, received=report.received)
    # Quiet rounds (nothing new) at DEBUG: the loop runs every few seconds.
    level = (
        logging.WARNING if not report.ok else (logging.INFO if report.received else logging.DEBUG)
    )
    log.log(level, "%s", shown(report.summary()))
    return report


class _OriginSync:
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

    async def run(self) -> OriginSyncReport:
        r = self.report
        plan = await self.runner.call(_plan, self.node, self.origin)
        if plan.own:
            r.status = OWN
            # A peer holding more of our own log than we do stops us signing (node/own_log.py).
            r.reason = await self.runner.call(check_offer, self.node, self.note, self.peer)
            return r
        if plan.key is None:
            # Origins outside our trust set are not stored, not even staged.
            r.status = UNTRUSTED
            r.reason = "not a trusted member here; nothing stored"
            return r
        if plan.halted:
            r.status = HALTED
            r.reason = "import stopped: equivocation evidence is recorded"
            return r
        try:
            signed = SignedCheckpoint.open(self.note, plan.key)
        except HashfedError as exc:
            return await self._reject(
                1, "checkpoint does not verify with the origin's key", str(exc)
            )
        their = signed.checkpoint
        latest = plan.latest
        ours = 0 if latest is None else latest.size
        r.their_size = their.size
        r.our_size_before = r.our_size_after = ours
        if their.size < ours or (their.size == ours and ours > 0):
            assert latest is not None
            return await self._compare(signed, latest)
        if their.size == ours:
            r.status = UP_TO_DATE
            return r
        return await self._fetch_and_import(signed, latest)

    async def _compare(
        self, signed: SignedCheckpoint, latest: StoredCheckpoint
    ) -> OriginSyncReport:
        """The peer's tree is not larger than ours: it must be a prefix of what we verified."""
        r = self.report
        their = signed.checkpoint
        if their.size == 0:
            r.status = PEER_BEHIND
            return r
        our_root = await self.runner.call(self.node.root_at, self.origin, their.size)
        if our_root == their.root:
            r.status = UP_TO_DATE if their.size == latest.size else PEER_BEHIND
            return r
        kind, detail = await self.runner.call(self.node.conflict_detail, latest, signed)
        return await self._evidence(kind, latest.note, signed.text(), detail)

    async def _evidence(
        self, kind: str, first_note: str, second_note: str, detail: dict[str, object]
    ) -> OriginSyncReport:
        r = self.report
        r.evidence_id = await self.runner.call(
            self.node.record_evidence,
            self.origin,
            kind,
            first_note,
            second_note,
            json.dumps(detail, sort_keys=True),
            self.peer,
        )
        await self.runner.call(self.node.discard_staged, self.origin)
        r.status = EVIDENCE
        r.reason = (
            f"{self.origin} signed two checkpoints that cannot both be true ({kind}); "
            f"evidence #{r.evidence_id} kept, import from {self.origin} stopped"
        )
        log.error("EQUIVOCATION by %s (relayed by %s): %s", self.origin, self.peer, r.reason)
        return r

    async def _reject(self, count: int, reason: str, detail: str = "") -> OriginSyncReport:
        """Count ``count`` entries against the peer; ``reason`` is the statistics key."""
        r = self.report
        r.status = REJECTED
        r.rejected += count
        r.reason = f"{reason} ({detail})" if detail else reason
        await self.runner.call(
            self.node.record_peer_result,
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

    async def _fetch_and_import(
        self, signed: SignedCheckpoint, latest: StoredCheckpoint | None
    ) -> OriginSyncReport:
        r = self.report
        their = signed.checkpoint
        ours = r.our_size_before
        need = their.size - ours
        staged = await self.runner.call(self.node.staged, self.origin, self.peer)
        # Leaf hashes and store rows are computed while the stream goes on, so the import only
        # checks the root and inserts. Each batch is prepared on the event loop as it arrives
        # (~8 ms per 1,000 entries; measured faster than a worker thread, which contends for
        # the GIL); what was reused from staging, possibly a whole log, in a worker thread.
        bodies = PreparedBodies(self.origin, ours)
        reused = staged[:need]
        del staged
        await asyncio.to_thread(bodies.add, reused)
        r.reused = len(reused)
        self._tell(r.reused, need)
        position = ours + r.reused
        if position < their.size:
            staging = _Staging(self.runner, self.origin, self.peer)
            try:
                async for start, batch in self.client.stream_entries(
                    self.origin, position, their.size
                ):
                    if start != position or not 0 < len(batch) <= their.size - position:
                        # A peer that answers outside the range asked for is not trusted with
                        # any of it: nothing of the batch is staged, its earlier rows are
                        # dropped.
                        await staging.drop()
                        await self.runner.call(self.node.discard_staged, self.origin, self.peer)
                        return await self._reject(
                            need,
                            "entries sent out of the range asked for",
                            f"{len(batch)} entries at index {start} when {position}.."
                            f"{their.size - 1} were asked for",
                        )
                    oversized = next((b for b in batch if len(b) > MAX_ENTRY_BYTES), None)
                    if oversized is not None:
                        # Refused before staging: otherwise a pinned peer could fill our disk
                        # with bytes that can never verify.
                        await staging.drop()
                        await self.runner.call(self.node.discard_staged, self.origin, self.peer)
                        return await self._reject(
                            need,
                            "entry larger than the protocol allows",
                            f"an entry of {len(oversized)} bytes; entries are at most "
                            f"{MAX_ENTRY_BYTES}",
                        )
                    await staging.add(start, batch)
                    bodies.add(batch)
                    position += len(batch)
                    r.fetched += len(batch)
                    self._tell(r.reused + r.fetched, need)
            except PeerError:
                # Connection lost mid-stream: what arrived stays staged for the next run.
                await staging.flush()
                raise
            if position < their.size:
                await staging.flush()
                raise PeerError(
                    f"{self.peer} ended the stream of {self.origin} at index {position}, "
                    f"before {their.size}; what arrived is staged for the next sync"
                )
            # The last group is not staged: the import right after deletes staged rows anyway,
            # and a sync killed during the import refetches at most that one group.
            await staging.settle()
        try:
            r.imported = await self.runner.call(
                self.node.import_verified, self.origin, signed, bodies
            )
        except EquivocationError as exc:
            r.status = HALTED
            r.reason = str(exc)
            return r
        except (ProofError, MalformedError) as exc:
            return await self._judge(signed, latest, len(bodies), str(exc))
        r.status = IMPORTED
        r.our_size_after = their.size
        return r

    async def _judge(
        self,
        signed: SignedCheckpoint,
        latest: StoredCheckpoint | None,
        tried: int,
        failure: str,
    ) -> OriginSyncReport:
        """The entries did not make the signed tree: the peer's fault, unless proven otherwise."""
        r = self.report
        their = signed.checkpoint
        ours = r.our_size_before
        now = await self.runner.call(self.node.latest, self.origin)
        if (0 if now is None else now.size) != ours:
            # Another sync (another process) imported meanwhile: nobody's fault, retry later.
            await self.runner.call(self.node.discard_staged, self.origin, self.peer)
            r.status = UP_TO_DATE
            r.reason = "our log of this origin changed during the sync; next round continues"
            return r
        log.info(
            "sync %s: %s: entries %d..%d failed verification (%s); checking the full log",
            self.peer,
            self.origin,
            ours,
            their.size - 1,
            failure,
        )
        verdict = None
        tail: list[bytes] = []
        if their.size <= MAX_FULL_LOG_ENTRIES:
            our_root = await self.runner.call(self.node.root_at, self.origin, ours)
            check = FullLogCheck(ours, our_root, their.size, their.root)
            try:
                async for start, batch in self.client.stream_entries(self.origin, 0, their.size):
                    if start != check.size:
                        break
                    check.add(leaf_hash(b) for b in batch)
                    if start + len(batch) > ours:
                        tail.extend(batch[max(0, ours - start) :])
                verdict = check.verdict()
            except SyncError as exc:
                log.info("sync %s: %s: full log unavailable: %s", self.peer, self.origin, exc)
        if verdict is not None and verdict.culprit is Culprit.ORIGIN:
            assert latest is not None  # ours > 0, or the prefix would be the empty tree
            return await self._evidence(
                "inconsistent-larger", latest.note, signed.text(), verdict.detail
            )
        await self.runner.call(self.node.discard_staged, self.origin, self.peer)
        if verdict is not None and verdict.culprit is Culprit.NOBODY:
            return await self._import_refetched(signed, tail, tried, failure)
        return await self._reject(tried, PEER_FAULT_REASON, failure)

    async def _import_refetched(
        self, signed: SignedCheckpoint, tail: list[bytes], tried: int, failure: str
    ) -> OriginSyncReport:
        """The full log reproduces both roots: import its tail; blame whoever is to blame."""
        r = self.report
        try:
            r.imported = await self.runner.call(
                self.node.import_verified, self.origin, signed, tail
            )
        except MalformedError as exc:
            # The origin's own signed entries do not decode: not the peer's doing, and not
            # equivocation either. Nothing is imported; the operator reads why.
            r.status = FAILED
            r.reason = f"{self.origin} signed an entry this node cannot read: {exc}"
            log.error("sync %s: %s: %s", self.peer, self.origin, r.reason)
            return r
        except HashfedError as exc:
            return await self._reject(tried, PEER_FAULT_REASON, f"{failure}; then: {exc}")
        # The entries tried first were wrong, the ones received again are right.
        imported = r.imported
        await self._reject(tried, PEER_FAULT_REASON, f"{failure}; received again intact")
        r.status = IMPORTED
        r.imported = imported
        r.our_size_after = signed.checkpoint.size
        return r


# Entries are staged in groups of about this many, one transaction each, while the stream goes
# on: a sync killed at any instant refetches at most one group (and what was in flight).
STAGE_GROUP_ENTRIES = 8_192


class _Staging:
    """Stages received batches in groups, one group writing while the next arrives."""

    def __init__(self, runner: NodeRunner, origin: str, peer: str) -> None:
        self.runner = runner
        self.origin = origin
        self.peer = peer
        self._start = 0
        self._pending: list[bytes] = []
        self._writing: asyncio.Task[None] | None = None

    async def add(self, start: int, batch: list[bytes]) -> None:
        if not self._pending:
            self._start = start
        self._pending.extend(batch)
        if len(self._pending) >= STAGE_GROUP_ENTRIES:
            await self._write(background=True)

    async def flush(self) -> None:
        """Stage everything received so far and wait until it is written."""
        await self._write(background=False)
        await self.settle()

    async def settle(self) -> None:
        """Wait for the group being written (the unwritten rest stays in memory)."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing

    async def drop(self) -> None:
        """Forget the unwritten rest; wait for the group being written."""
        self._pending = []
        await self.settle()

    async def _write(self, *, background: bool) -> None:
        await self.settle()
        if not self._pending:
            return
        group, start, self._pending = self._pending, self._start, []
        node = self.runner.node
        call = self.runner.call(node.stage, self.origin, self.peer, start, group)
        if background:
            self._writing = asyncio.ensure_future(call)
        else:
            await call
