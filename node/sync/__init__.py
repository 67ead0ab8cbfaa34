"""Sync: pull other members' logs from peers, verify them against their origins' signatures.

For each peer (``hashfed sync``, or every ``sync_interval_s`` inside ``hashfed serve``):

1. **ListOrigins** over mutual TLS. Our own origin is skipped; **origins outside the trust set
   are not stored** (only counted as skipped in the report); halted origins (equivocation
   evidence recorded) are skipped. Each checkpoint is opened with the origin's key from *our*
   member card; one that does not verify is counted against the peer; one larger than
   ``max_origin_entries`` is refused before anything is fetched.
2. **Compare** with what we hold of that origin: ``m`` entries (up to its verified head, beyond
   our newest stored checkpoint, or that checkpoint), frontier ``F_m``:

   * theirs is not larger: our root at its size must equal theirs, else evidence
     (``inconsistent-smaller`` / ``same-size-different-roots``, against a stored checkpoint);
   * theirs is larger (size ``n > m``): fetch ``[m, n)`` (step 3).

3. **Fetch, verifying each batch** (docs/protocol.md §9.1). **StreamEntries** ``(m, n)``: each
   batch carries the RFC 9162 consistency proof from the size after it to ``n``. The batch is
   checked (position, count, sizes), folded into our frontier, and the proof must verify
   against that root and the signed root of ``n``: then its entries are provably the origin's.
   Verified batches are stored in groups (one transaction each, on the node thread, while the
   next batches arrive; :func:`~node.service.verified_import.store_verified`): entries, signals,
   retractions and opinions at once, plus the verified head, or the signed checkpoint when the
   group reaches ``n``. Nothing unverified is stored; a SIGKILL leaves whole groups, and the
   next run starts at the head. Two streams of one origin may race (peers in parallel, or
   ``hashfed sync`` beside ``serve``): what one stored is skipped by the other after its leaves
   are compared. ``max_fetch_per_round`` bounds one round.

4. **Whose fault** (:mod:`node.sync.fault`). A failing batch is the peer's fault, counted
   against it with the reason "batch does not prove into the origin's signed tree". Only the
   first batch after ``m`` can be the origin's doing: we ask the peer for
   ``GetConsistencyProof(m, n)``; if it does not show our tree to be a prefix of the signed
   one, the peer's full log ``[0, n)`` (at most 2,000,000 entries) decides: if it reproduces
   the signed root of ``n`` while its prefix does *not* reproduce our newest signed checkpoint,
   the origin signed two inconsistent trees (evidence ``inconsistent-larger``, import stopped).
   The origin is never blamed for a peer's bytes.

Connection failures are explained in words (:mod:`node.sync.diagnosis`): which side refused
which certificate, or that nothing listens at the address; never a bare ``UNAVAILABLE``.

Every facade call goes through the node's :class:`~node.service.runner.NodeRunner`.

The names exported here are this package's entry point: ``node.server`` (which runs the sync
loop beside its servers) and ``node.cli`` import them from ``node.sync`` only, never from its
modules (docs/architecture.md).
"""

from __future__ import annotations

from node.sync.client import PROTOCOL_VERSION, PeerClient, PeerError, PeerTarget, probe
from node.sync.diagnosis import Diagnosis, TlsObservation, diagnose, observe_tls
from node.sync.engine import (
    OriginSyncReport,
    PeerSyncReport,
    ProgressFn,
    SyncProgress,
    sync_peer,
)
from node.sync.fault import Culprit, FullLogCheck, Verdict, judge
from node.sync.loop import run_sync_loop, sync_all
from node.sync.outcome import OK_OUTCOMES, SyncOutcome
from node.sync.peer_check import HeldOrigin, PeerCheckReport, check_peer

__all__ = [
    "OK_OUTCOMES",
    "PROTOCOL_VERSION",
    "Culprit",
    "Diagnosis",
    "FullLogCheck",
    "HeldOrigin",
    "OriginSyncReport",
    "PeerCheckReport",
    "PeerClient",
    "PeerError",
    "PeerSyncReport",
    "PeerTarget",
    "ProgressFn",
    "SyncOutcome",
    "SyncProgress",
    "TlsObservation",
    "Verdict",
    "check_peer",
    "diagnose",
    "judge",
    "observe_tls",
    "probe",
    "run_sync_loop",
    "sync_all",
    "sync_peer",
]
