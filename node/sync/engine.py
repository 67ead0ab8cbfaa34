"""Pulling one peer: compare checkpoints, fetch what is missing, verify, import or blame.

See the package docstring for the protocol; every facade call goes through the node's
:class:`~node.server.runner.NodeRunner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from node.core import Node
from node.errors import (
    EquivocationError,
    HashfedError,
    InvalidInputError,
    MalformedError,
    ProofError,
    SyncError,
)
from node.integrity import Damage, OwnDamageError, repair_advice
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import MAX_ENTRY_BYTES
from node.log.keys import VerifierKey
from node.log.merkle import EMPTY_ROOT, Frontier, leaf_hash, leaf_hashes
from node.log.proof_verification import verify_consistency
from node.own_log import check_offer
from node.server.limits import MAX_BATCH_BYTES, MAX_BATCH_ENTRIES
from node.server.runner import NodeRunner
from node.store.store import StoredCheckpoint
from node.sync.client import PeerClient, PeerError, PeerTarget
from node.sync.fault import (
    MAX_FULL_LOG_ENTRIES,
    PEER_FAULT_REASON,
    Culprit,
    FullLogCheck,
    Verdict,
)
from node.text import shown
from node.verified_import import Held, StoredGroup, VerifiedGroup

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
PEER_OUTDATED = "peer-outdated"
"""The peer runs a hashfed older than batch proofs (docs/protocol.md §8): a failure to back off
from and report to its operator, never a lie counted against it."""

# Statistics keys (``peer_stats.reasons``) of batches refused before or at verification.
OUT_OF_RANGE_REASON = "entries sent out of the range asked for"
OVERSIZED_REASON = "entry larger than the protocol allows"
BATCH_FAULT_REASON = PEER_FAULT_REASON
NO_BATCH_PROOF_REASON = "peer sent no batch proof"
"""``BatchRefusedError.reason`` of a batch ending before the signed size without a proof: what a
hashfed older than batch proofs sends (the package is still ``hashfed.v1``)."""

MAX_BATCH_BYTES_RECEIVED = MAX_BATCH_BYTES + MAX_ENTRY_BYTES
"""Most entry bytes accepted in one batch: the protocol's 1 MiB, which one entry (at most
``MAX_ENTRY_BYTES``) may overrun."""

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
    """Entries already held beyond our newest checkpoint (verified and stored by an earlier,
    interrupted run), not fetched again."""
    imported: int = 0
    rejected: int = 0
    reason: str | None = None
    evidence_id: int | None = None
    own_damage: bool = False
    """The failure is our own store's damage (recorded as an integrity finding): nobody else's."""

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
            f"{self.reused} held from an earlier run",
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
    held: Held | None
    max_origin_entries: int
    max_fetch_per_round: int


def _plan(node: Node, origin: str) -> _Plan:
    bounds = (node.config.max_origin_entries, node.config.max_fetch_per_round)
    if origin == node.origin:
        return _Plan(True, None, False, None, *bounds)
    key = node.trusted_keys().get(origin)
    if key is None:
        return _Plan(False, None, False, None, *bounds)
    return _Plan(False, key, origin in node.halted_origins(), node.held(origin), *bounds)


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


class BatchRefusedError(Exception):
    """A batch failed a check before or at verification; ends the stream (internal)."""

    def __init__(self, reason: str, detail: str, count: int, *, proof: bool = False) -> None:
        super().__init__(f"{reason} ({detail})")
        self.reason = reason
        self.detail = detail
        self.count = count
        self.proof = proof
        """Whether the batch was well-formed but did not prove into the signed tree."""


def check_batch(start: int, batch: Sequence[bytes], position: int, end: int) -> None:
    """Raise :class:`BatchRefusedError` unless ``batch`` is a well-formed next batch of ``[position,
    end)``: at ``position``, 1..1,000 entries, none beyond ``end``, each entry and the whole
    batch within the protocol's sizes. Checked before any hashing."""
    count = len(batch)
    if start != position or not 0 < count <= min(MAX_BATCH_ENTRIES, end - position):
        raise BatchRefusedError(
            OUT_OF_RANGE_REASON,
            f"{count} entries at index {start} when at most {MAX_BATCH_ENTRIES} of "
            f"{position}..{end - 1} were asked for",
            max(count, 1),
        )
    sizes = list(map(len, batch))
    largest = max(sizes)
    if largest > MAX_ENTRY_BYTES:
        raise BatchRefusedError(
            OVERSIZED_REASON,
            f"an entry of {largest} bytes; entries are at most {MAX_ENTRY_BYTES}",
            count,
        )
    if sum(sizes) > MAX_BATCH_BYTES_RECEIVED:
        raise BatchRefusedError(
            OVERSIZED_REASON,
            f"a batch of {sum(sizes)} bytes of entries; batches are at most {MAX_BATCH_BYTES} "
            f"(one entry may overrun it)",
            count,
        )


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
        self.max_fetch = 0

    async def run(self) -> OriginSyncReport:
        r = self.report
        plan = await self.runner.call(_plan, self.node, self.origin)
        if plan.own:
            r.status = OWN
            # A peer holding more of our own log than we do stops us signing (node/own_log.py).
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
        our_root = await self.runner.call(self.node.root_at, self.origin, their.size)
        if our_root == their.root:
            r.status = UP_TO_DATE if their.size == r.our_size_before else PEER_BEHIND
            return r
        try:
            # Roots from the signed notes, the proof checked: our stored leaves or roots alone
            # never convict anyone.
            kind, detail = await self.runner.call(self.node.conflict_detail, latest, signed)
        except OwnDamageError as exc:
            return self._damaged(exc.damage)
        return await self._evidence(kind, latest.note, signed.text(), detail)

    async def _compare_head(self, signed: SignedCheckpoint, held: Held) -> OriginSyncReport:
        """The peer's tree ends within the entries we hold beyond our newest checkpoint."""
        r = self.report
        their = signed.checkpoint
        our_root = await self.runner.call(self.node.root_at, self.origin, their.size)
        if our_root == their.root:
            r.status = UP_TO_DATE if their.size == held.size else PEER_BEHIND
            return r
        damage = await self.runner.call(self.node.head_damage, self.origin)
        if damage is not None:
            # Our head no longer is what was proven: the differing root is our damage.
            return self._damaged(damage)
        return self._contradiction(
            held, f"{self.origin} signed a tree of size {their.size} whose root differs from"
        )

    async def _evidence(
        self, kind: str, first_note: str, second_note: str, detail: dict[str, object]
    ) -> OriginSyncReport:
        r = self.report
        try:
            r.evidence_id = await self.runner.call(
                self.node.record_evidence,
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

    def _outdated(self, refused: BatchRefusedError) -> OriginSyncReport:
        r = self.report
        r.status = PEER_OUTDATED
        r.reason = (
            f"peer {self.peer} sent no batch proof: it runs a hashfed without batch proofs "
            f"(older than this protocol); upgrade it ({refused.detail})"
        )
        log.warning("sync %s: %s: %s", self.peer, self.origin, r.reason)
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
        writer = _Writer(self.runner, self.origin, signed, position, frontier)
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

    def _stored(self, writer: _Writer) -> None:
        self.report.imported += writer.appended
        self.report.our_size_after = max(self.report.our_size_after, writer.size)

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
        now = await self.runner.call(self.node.held, self.origin)
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
                damage = await self.runner.call(self.node.head_damage, self.origin)
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
            mine = await self.runner.call(self.node.stored_note, latest)
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


def verify_batch(
    start: int,
    batch: Sequence[bytes],
    proof: Sequence[bytes],
    frontier: Frontier,
    signed: SignedCheckpoint,
) -> tuple[Frontier, list[bytes]]:
    """Check one streamed batch; return the frontier after it and the batch's leaf hashes, or
    raise :class:`BatchRefusedError`.

    ``frontier`` is our verified tree so far (its size is where the batch must start). The
    batch is folded into it, and ``proof`` must be the RFC 9162 consistency proof from that
    new size to the signed size, against the new root and the signed root: then the batch's
    entries are provably the origin's, whoever relayed them.
    """
    cp = signed.checkpoint
    check_batch(start, batch, frontier.size, cp.size)
    leaves = leaf_hashes(batch)
    extended = frontier.extend(leaves)
    if not proof and extended.size < cp.size:
        # What a hashfed older than batch proofs sends: outdated, not lying (nothing counted).
        raise BatchRefusedError(
            NO_BATCH_PROOF_REASON,
            f"entries {start}..{extended.size - 1} end before {cp.size} without a proof",
            0,
        )
    try:
        verify_consistency(extended.size, cp.size, proof, extended.root(), cp.root)
    except ProofError as exc:
        raise BatchRefusedError(
            BATCH_FAULT_REASON,
            f"entries {start}..{extended.size - 1}: {exc}",
            len(batch),
            proof=True,
        ) from None
    return extended, leaves


GROUP_ENTRIES = 8_192
GROUP_BYTES = 4 * 1024 * 1024
"""Verified entries are stored in groups of up to this many entries or bytes of bodies, one
transaction each, while the next batches arrive. At most one group is being written and one
filling, so a stream holds at most ~2 x 4 MiB of bodies (plus their rows) awaiting the disk."""


class _Writer:
    """Stores verified batches in groups, one group writing while the next fills."""

    def __init__(
        self,
        runner: NodeRunner,
        origin: str,
        signed: SignedCheckpoint,
        start: int,
        frontier: Frontier,
    ) -> None:
        self.runner = runner
        self.origin = origin
        self.signed = signed
        self.appended = 0
        self.size = start
        self._group = VerifiedGroup(origin, start, frontier)
        self._writing: asyncio.Task[StoredGroup] | None = None

    async def add(self, batch: Sequence[bytes], leaves: list[bytes], frontier: Frontier) -> None:
        self._group.add(batch, leaves, frontier)
        if len(self._group.bodies) >= GROUP_ENTRIES or self._group.nbytes >= GROUP_BYTES:
            await self._write()

    async def finish(self) -> None:
        """Store what is left and wait for every write."""
        await self._write()
        await self._settle()

    async def finish_verified(self) -> None:
        """Like :meth:`finish`, for a stream that ended in error: what was verified is stored
        unless storing fails too (then the caller's error is the one reported)."""
        try:
            await self.finish()
        except HashfedError as exc:
            log.warning("sync: %s: verified entries not stored: %s", self.origin, exc)

    async def finish_quietly(self) -> None:
        """Wait for the group being written (its error, if any, is dropped: the caller is
        already handling one); the group filling is dropped."""
        self._group = VerifiedGroup(self.origin, self._group.end, self._group.frontier)
        with contextlib.suppress(HashfedError):
            await self._settle()

    async def _settle(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            stored = await writing
            self.appended += stored.appended
            self.size = max(self.size, stored.size)

    async def _write(self) -> None:
        await self._settle()
        group = self._group
        if not group.bodies:
            return
        self._group = VerifiedGroup(self.origin, group.end, group.frontier)
        node = self.runner.node
        self._writing = asyncio.ensure_future(
            self.runner.call(node.store_verified, group, self.signed)
        )
