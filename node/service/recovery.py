"""``hashfed recover --peer NAME``: rebuild this node's own log from a peer that holds it,
verified against the node's own key and never behind the signed-state file
(node.service.signed_head)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.errors import (
    MalformedError,
    NotFoundError,
    ProofError,
    SignedStateError,
    StoreError,
    VerificationError,
)
from node.log.checkpoint import SignedCheckpoint
from node.log.merkle import Frontier
from node.service.entry_rows import rows_of
from node.service.own_log_check import confirm_from_database, signed_state_problem, state
from node.service.signed_head import advance, current_text, read_head
from node.service.verified_import import _slow_rows
from node.store.rows import StoredCheckpoint

if TYPE_CHECKING:
    from node.core import Node
    from node.sync.client import PeerClient

log = logging.getLogger("hashfed.own_log")


@dataclass(frozen=True)
class RecoverReport:
    peer: str
    size_before: int
    size_after: int
    fetched: int
    root_hex: str
    signed_size: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "fetched": self.fetched,
            "root": self.root_hex,
            "signed_size": self.signed_size,
        }


async def recover(node: Node, peer: str) -> RecoverReport:
    """Rebuild this node's own log from ``peer``: entries verified against our own key and the
    peer's newest checkpoint of our origin, which must not be behind the signed-state file.

    All or nothing: one durable transaction (:meth:`Store.exclusive`); each batch verified as
    it arrives with the sync's own check (sizes, then its consistency proof into the signed
    checkpoint) and only then inserted, so memory and disk are bounded by what is proven;
    committed only when the fold gives the signed root. Then the file is updated and the own
    origin re-checked for integrity (so stale findings leave ``status``).

    With the file missing and the peer holding a prefix of the database's log, nothing is
    fetched: that offer is the confirmation the own-log check waits for (a missing file with
    peers, node.service.own_log_check).
    """
    from node.sync.client import PeerClient, PeerTarget

    node._require_member("recover its log")
    target = PeerTarget.load(node, peer)
    origin = node.origin
    with node.store.exclusive():
        try:
            text, head = read_head(node.paths, node.verifier)
        except SignedStateError as exc:
            # What it held is lost either way; the peer's checkpoint, signed by our own key,
            # is then the best lower bound there is.
            log.warning("%s; recovering without it", exc)
            text, head = current_text(node.paths), None
        latest = node.store.log.latest_checkpoint(origin)
        have = 0 if latest is None else latest.size
        async with PeerClient(target) as client:
            signed = await _offered_checkpoint(node, client, peer)
            cp = signed.checkpoint
            if head is not None:
                _refuse_short_or_forked(peer, origin, signed, head)
            same_size_other_root = latest is not None and cp.size == have and cp.root != latest.root
            if (
                head is None
                and text is None
                and latest is not None
                and cp.size < have
                and node.reader.root_at(origin, cp.size) == cp.root
            ):
                # The file is missing and the peer holds a prefix of the database's log: that
                # is the confirmation publishing waits for (own_log_check); nothing to fetch.
                confirm_from_database(node, peer, cp.size)
                node.trees.forget(origin)
                return RecoverReport(peer, have, have, 0, latest.root.hex(), have)
            if cp.size < have or same_size_other_root:
                raise SignedStateError(
                    f"the database holds {origin}'s log up to size {have}, and peer {peer} "
                    f"offers size {cp.size} with {'another root' if cp.size == have else 'less'}"
                    "; nothing to recover from it"
                )
            frontier = (
                Frontier.empty()
                if latest is None
                else Frontier.from_bytes(latest.size, latest.frontier)
            )
            fetched = 0
            if cp.size > have:
                frontier, fetched = await _fetch(node, client, peer, frontier, signed, head)
            if frontier.size != cp.size or frontier.root() != cp.root:
                raise ProofError(
                    f"the database's log of {origin} (size {have}) and the entries {peer} sent "
                    f"give root {frontier.root().hex()} at size {frontier.size}, but the signed "
                    f"checkpoint says {cp.root.hex()} at {cp.size}: the database does not hold "
                    "a prefix of the signed log; nothing stored"
                )
            if cp.size > have:
                now = time.time_ns() // 1_000_000
                node.store.log.put_checkpoint(
                    StoredCheckpoint(
                        origin, cp.size, cp.root, signed.text(), frontier.to_bytes(), now
                    )
                )
            # The whole log against the file, before anything commits (e.g. a database that
            # is ahead of the file but forked below it).
            newest = head if head is not None and head.checkpoint.size >= cp.size else signed
            try:
                problem = signed_state_problem(
                    node, node.store.log.latest_checkpoint(origin), newest
                )
            finally:
                node.trees.forget(origin)  # may hold leaves that a rollback removes
            if problem is not None:
                raise SignedStateError(problem)
    if head is None or head.checkpoint.size < cp.size:
        try:
            advance(node.paths, text, signed.text())
        except OSError as exc:
            raise StoreError(
                f"recovered {origin}'s log from {peer} up to size {cp.size}, but cannot write "
                f"the signed-state file {node.paths.signed_head}: {exc.strerror or exc}. Free "
                "space on that disk or make the folder writable, then run recover again"
            ) from None
    # Findings about our own origin recorded before (a damaged entry) are stale now: check the
    # rebuilt log once, so `hashfed status` is right without a full `hashfed check`.
    from node.service.integrity_check import run_check

    run_check(node.store, node.paths.root, origin, origin=origin)
    after = state(node)
    log.info("recovered %s from %s: size %d -> %d", origin, peer, have, cp.size)
    return RecoverReport(peer, have, cp.size, fetched, cp.root.hex(), after.signed_size)


async def _offered_checkpoint(node: Node, client: PeerClient, peer: str) -> SignedCheckpoint:
    """The peer's newest checkpoint of our origin, verified with our own key."""
    origin = node.origin
    offered = dict(await client.list_origins())
    if origin not in offered:
        raise NotFoundError(f"peer {peer} does not hold {origin}'s log; try another peer")
    try:
        return SignedCheckpoint.open(offered[origin], node.verifier)
    except VerificationError as exc:
        raise VerificationError(
            f"peer {peer}'s checkpoint of {origin} does not verify with this node's own key: {exc}"
        ) from None


def _refuse_short_or_forked(
    peer: str, origin: str, signed: SignedCheckpoint, head: SignedCheckpoint
) -> None:
    """A peer's checkpoint behind the signed-state file's ``head``, or another root at its
    size, cannot restore what this node signed: :class:`SignedStateError`."""
    cp = signed.checkpoint
    if cp.size < head.checkpoint.size:
        raise SignedStateError(
            f"peer {peer} holds {origin}'s log only up to size {cp.size}, but this node "
            f"signed size {head.checkpoint.size}; recovering from it would still leave "
            "the log behind. Try a peer that holds the newest checkpoint"
        )
    if cp.size == head.checkpoint.size and cp.root != (head.checkpoint.root):
        raise SignedStateError(
            f"peer {peer} holds a checkpoint of size {cp.size} with root "
            f"{cp.root.hex()}, but this node signed root {head.checkpoint.root.hex()} "
            "for that size: this node's log forked; recover cannot choose a history"
        )


async def _fetch(
    node: Node,
    client: PeerClient,
    peer: str,
    frontier: Frontier,
    signed: SignedCheckpoint,
    head: SignedCheckpoint | None,
) -> tuple[Frontier, int]:
    """Stream ``[frontier.size, signed size)`` of our origin from ``peer``, verify each batch
    against ``signed`` and insert it (inside the caller's transaction); check the
    signed-state file's root on the way."""
    size = signed.checkpoint.size
    # Imported when used, as PeerClient in recover: the sync engine and grpc are loaded only
    # by a command that talks to a peer.
    from node.sync.engine import BatchRefusedError, verify_batch

    origin = node.origin
    slow = _slow_rows(origin)
    position = frontier.size
    fetched = 0
    # Each batch is checked as it arrives, as the sync checks it (sizes, then its consistency
    # proof into the signed tree): a lying peer's first bad batch ends the recovery before it
    # is inserted, so it cannot grow the transaction's WAL up to the signed size first.
    async for start, batch, proof in client.stream_entries(origin, position, size):
        try:
            extended, leaves = verify_batch(start, batch, proof, frontier, signed)
        except BatchRefusedError as exc:
            raise ProofError(
                f"peer {peer} sent a batch of {origin}'s log that does not verify: {exc}; "
                "nothing stored"
            ) from None
        try:
            entries, signals, special = rows_of(origin, start, batch, leaves, slow)
        except MalformedError as exc:
            raise MalformedError(
                f"peer {peer} sent an entry that is not one of {origin}'s: {exc}; nothing stored"
            ) from None
        if head is not None and position < head.checkpoint.size <= position + len(batch):
            cut = head.checkpoint.size - position
            at_head = frontier.extend(leaves[:cut])
            if at_head.root() != head.checkpoint.root:
                raise ProofError(
                    f"the log {peer} sent has root {at_head.root().hex()} at size "
                    f"{head.checkpoint.size}, but this node signed {head.checkpoint.root.hex()} "
                    "for that size; nothing stored"
                )
        frontier = extended
        node.store.log.append_chunk(origin, entries, signals, special, indexed=False)
        position += len(batch)
        fetched += len(batch)
    if position != size:
        raise ProofError(
            f"peer {peer} ended the stream of {origin} at index {position}, before {size}; "
            "nothing stored"
        )
    return frontier, fetched
