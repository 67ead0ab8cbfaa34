"""Sync: pull other members' logs from peers, verify them against their origins' signatures.

For each peer (``hashfed sync``, or every ``sync_interval_s`` inside ``hashfed serve``):

1. **ListOrigins** over mutual TLS. Our own origin is skipped; **origins outside the trust set
   are not stored** (not even staged: they are only counted as skipped in the report); halted
   origins (equivocation evidence recorded) are skipped. Each checkpoint is opened with the
   origin's key from *our* member card; one that does not verify is counted against the peer.
2. **Compare** with our newest verified checkpoint of that origin (size ``m``, root ``r_m``):

   * theirs is smaller (size ``k < m``): our root at ``k`` must equal theirs, else evidence
     ``inconsistent-smaller`` (both notes plus a consistency proof from ``k`` to ``m``);
   * same size, different root: evidence ``same-size-different-roots``;
   * theirs is larger (size ``n > m``): fetch ``[m, n)`` (step 3).

3. **Fetch, staging the unverified rows.** Entries arrive with **StreamEntries** in batches of at
   most 1,000; they are staged in groups of about 8,000 entries, one ``staged_groups`` row per
   group keyed by (origin, peer, first index), the bodies end to end (one transaction each,
   written while the next group arrives; everything received is written when the stream breaks
   off, and the last group is not staged when the import follows at once, so a SIGKILL costs at
   most one group refetched). The ``staged_entries`` view lists them one (origin, peer, index)
   row per entry. While the stream goes on, each batch's leaf hashes and store rows are also
   computed in memory (:class:`~node.verified_import.PreparedBodies`), so the import does not
   decode again; they are derived from the very bodies that are verified, and nothing of them
   is visible before the import commits.
   Staged rows are invisible to everything else: matching, the index, serving,
   proofs and status only ever read the verified tables. When all of ``[m, n)`` is there, the
   entries extend our Merkle frontier and ``import_verified`` requires the resulting root to
   equal the signed root of size ``n``; only then, in one transaction, do entries, checkpoint
   and derived rows (signals, retractions, opinions) become visible, the staged rows are
   deleted, and the index follows. A sync interrupted at any point (even SIGKILL) therefore
   leaves either the old verified state or the new one, never a mix, and the next run asks
   the same peer only for what comes after the contiguous run of rows it already staged from
   it (``fetched`` and ``reused`` in the report say how many of each).

   Why staging rather than verifying each message with subtree proofs: the signed root already
   authenticates the whole range, so the only extra cost is writing the rows twice; the server
   needs no per-batch proofs (no extra round trips, no interior nodes to keep), and a resumed
   run is verified exactly like a fresh one. The price is that an interrupted range is only
   verified once it is complete, which is fine for a pull that resumes where it stopped.

4. **Whose fault** (:mod:`node.sync.fault`). If the entries do not make the signed root, the
   peer is blamed unless the origin provably equivocated: we ask the peer for the origin's full
   log ``[0, n)`` (at most 2,000,000 entries). If those leaves reproduce the signed root of size
   ``n`` while their first ``m`` do *not* reproduce our verified root, the origin signed two
   inconsistent trees: evidence ``inconsistent-larger`` is kept (both notes, sizes, roots, leaf
   count) and import from that origin stops. In every other case the peer is at fault: its
   staged rows are discarded, the entries are counted as rejected against it with the reason
   "entries do not reproduce the origin's signed root", and another peer supplies them. The
   origin is never blamed for a peer's bytes.

Connection failures are explained in words (:mod:`node.sync.diagnosis`): which side refused
which certificate, or that nothing listens at the address; never a bare ``UNAVAILABLE``.

Every facade call goes through the node's :class:`~node.server.runner.NodeRunner`.
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
from node.sync.peer_check import HeldOrigin, PeerCheckReport, check_peer

__all__ = [
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
