"""The own-log check: the database's own log against the signed-state file
(node.service.signed_head), and against what peers offer of it.

**The check** (on open, and under the write lock before every publish): the database's own
log must be at least as large as the file's checkpoint, and its root at the file's size must
be the file's root. Otherwise publishing is refused with :class:`SignedStateError`, read-only
commands go on working, and ``hashfed status`` shows why. ``hashfed recover --peer NAME``
(node.service.recovery) rebuilds the own log from a peer that holds it.

**Peers** are the second memory: a peer offering our own origin (ListOrigins) at a larger size
than our database holds, or at a size we hold with another root, proves we signed more than we
hold (:func:`check_offer`, called by the sync engine). That note is written to the file, so
the same check refuses to publish, across restarts, until recovery.

A missing file on a node whose log is not empty is either a home made before this file existed
or a lost file beside a restored database. With no peers configured it is written from the
database once (with a warning: nothing else could tell). With peers, publishing waits until a
peer's offer of our origin was compared with the database (:func:`offered`, during a sync) or
``hashfed recover`` confirmed it; then the file is written from the database. A missing file
with an empty log is a node that never signed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.errors import HashfedError, SignedStateError
from node.log.checkpoint import SignedCheckpoint
from node.service.signed_head import (
    RECOVER_ADVICE,
    UNCONFIRMED_ADVICE,
    advance,
    current_text,
    file_error,
    overwrite,
    read_head,
)
from node.store.rows import StoredCheckpoint

if TYPE_CHECKING:
    from node.core import Node

log = logging.getLogger("hashfed.own_log")


@dataclass(frozen=True)
class OwnLogState:
    """The own log in the database against the signed-state file."""

    store_size: int
    signed_size: int | None  # None: no file yet
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "store_size": self.store_size,
            "signed_size": self.signed_size,
            "problem": self.problem,
        }


def signed_state_problem(
    node: Node, latest: StoredCheckpoint | None, head: SignedCheckpoint | None
) -> str | None:
    """Why the database's own log (newest checkpoint ``latest``) is behind or beside the
    signed checkpoint ``head``, or None when it holds ``head`` as a prefix."""
    if head is None:
        return None
    have = 0 if latest is None else latest.size
    cp = head.checkpoint
    where = node.paths.signed_head
    if cp.size > have:
        return (
            f"refusing to sign for {node.origin}: the database holds its log up to size {have}, "
            f"but this node has signed a checkpoint of size {cp.size} (in {where}). Signing "
            f"now would fork the log: peers hold the signed one and would record equivocation "
            f"against {node.origin}. The database lost committed entries (a deleted "
            f"hashfed.db-wal or an older copy restored?); {RECOVER_ADVICE}"
        )
    if cp.size > 0 and node.reader.root_at(node.origin, cp.size) != cp.root:
        ours = node.reader.root_at(node.origin, cp.size).hex()
        return (
            f"refusing to sign for {node.origin}: the database's log has root {ours} at size "
            f"{cp.size}, but this node signed root {cp.root.hex()} for that size (in {where}). "
            f"The database holds a different history than the one this node signed; signing "
            f"on would fork the log further. Restore the database that matches, or "
            f"{RECOVER_ADVICE}"
        )
    return None


def state(node: Node) -> OwnLogState:
    """Read-only: how the database's own log compares with the signed-state file."""
    try:
        _, head = read_head(node.paths, node.verifier)
    except SignedStateError as exc:
        latest = node.store.log.latest_checkpoint(node.origin)
        return OwnLogState(0 if latest is None else latest.size, None, str(exc))
    # The file first, then the database: the log only grows, so a publish in another process
    # between the two reads cannot make the database look behind.
    latest = node.store.log.latest_checkpoint(node.origin)
    return OwnLogState(
        0 if latest is None else latest.size,
        None if head is None else head.checkpoint.size,
        signed_state_problem(node, latest, head) or _unconfirmed(node, latest, head),
    )


def _unconfirmed(
    node: Node, latest: StoredCheckpoint | None, head: SignedCheckpoint | None
) -> str | None:
    """The file is missing, the log is not empty and peers exist: the database may be an old
    copy, and only a peer can tell. Signing before one did could fork a log peers hold."""
    if head is not None or latest is None or current_text(node.paths) is not None:
        return None
    if not node.store.members.peers():
        return None
    return (
        f"refusing to sign for {node.origin}: the database holds its log up to size "
        f"{latest.size}, but {UNCONFIRMED_ADVICE}"
    )


def on_open(node: Node) -> OwnLogState:
    """The check at start-up; also writes the file for an upgraded home, or catches it up."""
    text, head = None, None
    try:
        text, head = read_head(node.paths, node.verifier)
    except SignedStateError as exc:
        log.error("%s", exc)
        return state(node)
    latest = node.store.log.latest_checkpoint(node.origin)
    problem = signed_state_problem(node, latest, head)
    if problem is not None:
        log.error("%s", problem)
    elif (unconfirmed := _unconfirmed(node, latest, head)) is not None:
        log.warning("%s", unconfirmed)
    elif latest is not None and (head is None or head.checkpoint.size < latest.size):
        try:
            written = advance(node.paths, text, latest.note)
        except OSError as exc:
            # A read-only home still serves reads; the next publish writes it (or says why).
            log.warning("cannot write %s: %s", node.paths.signed_head, exc)
            written = False
        if written and head is None:
            log.warning(
                "wrote %s from the database (size %d): this home predates the signed-state file",
                node.paths.signed_head,
                latest.size,
            )
    return state(node)


def guard(node: Node, latest: StoredCheckpoint | None) -> str | None:
    """Before signing, under the write transaction: raise :class:`SignedStateError` if the
    database is behind or beside what this node signed; else the file's text (for
    :func:`advance` after the commit)."""
    text, head = read_head(node.paths, node.verifier)
    if (problem := _unconfirmed(node, latest, head)) is not None:
        raise SignedStateError(problem)
    if head is None and latest is not None:
        # An upgraded home without peers that has not been opened through on_open.
        try:
            advance(node.paths, None, latest.note)
        except OSError as exc:
            raise file_error(node.paths, exc, "write") from None
        text = latest.note
    if (problem := signed_state_problem(node, latest, head)) is not None:
        raise SignedStateError(problem)
    return text


def check_offer(node: Node, note: str, peer: str) -> str | None:
    """:func:`offered`, for the sync engine: never raises for our own problems (a busy
    database), which must not end the sync of the peer's other origins; it logs them."""
    try:
        return offered(node, note, peer)
    except HashfedError as exc:
        log.warning("could not check %s's checkpoint of %s: %s", peer, node.origin, exc)
        return f"could not check this node's own log against {peer}'s: {exc}"


def offered(node: Node, note: str, peer: str) -> str | None:
    """A peer offers our own origin: refuse to publish from now on if it proves we signed more
    than the database holds, or another root at a size it holds. Returns the problem, or None.

    Called by the sync engine where it skips the own origin. The note is written to the
    signed-state file, so every later publish, in any process, is refused by :func:`guard`.
    """
    if node.is_auditor:
        return None
    try:
        signed = SignedCheckpoint.open(note, node.verifier)
    except HashfedError as exc:
        # Not our signature: the peer relays junk for our name. Nothing it says binds us.
        log.warning("%s offers a checkpoint of %s that does not verify: %s", peer, node.origin, exc)
        return None
    cp = signed.checkpoint

    def holds() -> tuple[bool, int]:
        latest = node.store.log.latest_checkpoint(node.origin)
        have = 0 if latest is None else latest.size
        ok = cp.size <= have and (
            cp.size == 0 or node.reader.root_at(node.origin, cp.size) == cp.root
        )
        return ok, have

    if holds()[0] and (
        current_text(node.paths) is not None
        or node.store.log.latest_checkpoint(node.origin) is None
    ):
        return None  # the usual case, without taking the write lock every round
    with node.store.transaction():  # serialised with publishes of every process
        ok, have = holds()
        if ok:
            confirm_from_database(node, peer, cp.size)
            return None
        latest = node.store.log.latest_checkpoint(node.origin)
        try:
            _, head = read_head(node.paths, node.verifier)
        except SignedStateError:
            head = None  # damaged: the peer's note, signed by us, is better than nothing
        covered = (
            head is not None
            and head.checkpoint.size >= cp.size
            and cp.size > have
            and signed_state_problem(node, latest, head) is not None
        )
        if not covered:
            try:
                overwrite(node.paths, signed.text())
            except OSError as exc:
                raise file_error(node.paths, exc, "record a peer's checkpoint in") from None
    if cp.size > have:
        problem = (
            f"peer {peer} holds a checkpoint of {node.origin} of size {cp.size}, signed by this "
            f"node's key, but the database holds its log only up to size {have}: publishing is "
            f"refused (it would fork the log); {RECOVER_ADVICE}"
        )
    else:
        problem = (
            f"peer {peer} holds a checkpoint of {node.origin} of size {cp.size}, signed by this "
            f"node's key, with root {cp.root.hex()}, but the database's log has another root at "
            f"that size: this node's history forked; publishing is refused"
        )
    log.error("%s", problem)
    return problem


def confirm_from_database(node: Node, peer: str, size: int) -> None:
    """A peer's checkpoint of our origin (``size``) is a prefix of the database's log: if the
    file is missing, write it from the database, which lets publishing go on (see
    :func:`_unconfirmed`). Under the caller's write transaction."""
    latest = node.store.log.latest_checkpoint(node.origin)
    if latest is None or current_text(node.paths) is not None:
        return
    try:
        written = advance(node.paths, None, latest.note)
    except OSError as exc:
        raise file_error(node.paths, exc, "write") from None
    if written:
        log.warning(
            "wrote %s from the database (size %d): it was missing, and peer %s holds this "
            "node's log at size %d, a prefix of it",
            node.paths.signed_head,
            latest.size,
            peer,
            size,
        )
