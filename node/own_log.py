"""What this node has signed for its own origin, kept where the database cannot silently lose it.

A node that lost committed transactions (``hashfed.db-wal`` deleted after a crash, an older
copy of ``hashfed.db`` restored) would otherwise start at the older state and sign a second
history under the same key; its peers would then hold two validly signed checkpoints that
cannot both be true, and record equivocation evidence against an honest member.

**The signed-state file** ``HOME/signed-head`` holds the newest checkpoint this node signed
for its own origin: the C2SP signed note exactly as signed (size and root, verifiable with
the node's own key; nothing else is trusted in it). It is replaced atomically (temporary file,
fsync, rename, fsync of the folder) right *after* each publish commits. The crash windows:

- killed before the commit: database and file both hold the previous state;
- killed after the commit, before the rename: the file lags the database by that one append.
  The check below passes (the database's tree at the file's size has the file's root) and
  the next open or publish catches the file up;
- killed while writing the temporary file: the rename did not happen, the old file is whole.

So the file can only lag the database by the last append, never lead it: when it is ahead of
the database (or names another root at its size), the database lost what this node signed.
Power loss too: publishes commit with ``synchronous = FULL`` (:meth:`Store.durable`), so the
commit is on disk before the file is written. Only a disk that lies about fsync can leave the
file ahead of the database; that is refused as well (peers may hold what it lost).

**The check** (on open, and under the write lock before every publish): the database's own
log must be at least as large as the file's checkpoint, and its root at the file's size must
be the file's root. Otherwise publishing is refused with :class:`SignedStateError`, read-only
commands go on working, and ``hashfed status`` shows why. ``hashfed recover --peer NAME``
(:func:`recover`) rebuilds the own log from a peer that holds it.

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

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node.entry_rows import rows_of
from node.errors import (
    HashfedError,
    MalformedError,
    NotFoundError,
    ProofError,
    SignedStateError,
    StoreError,
    VerificationError,
)
from node.home import HomePaths
from node.log.checkpoint import SignedCheckpoint
from node.log.keys import VerifierKey
from node.log.merkle import Frontier
from node.store.rows import StoredCheckpoint
from node.verified_import import _slow_rows

if TYPE_CHECKING:
    from node.core import Node
    from node.sync.client import PeerClient

log = logging.getLogger("hashfed.own_log")

RECOVER_ADVICE = "run `hashfed recover --peer NAME` to rebuild it from a peer that holds it"

UNCONFIRMED_ADVICE = (
    "signed-head is missing; run `hashfed sync` once so a peer confirms this node's newest "
    "checkpoint (or `hashfed recover --peer NAME`)"
)


def _file_error(paths: HomePaths, exc: OSError, doing: str) -> StoreError:
    """One line for a signed-state file that cannot be written (full or read-only disk)."""
    return StoreError(
        f"cannot {doing} the signed-state file {paths.signed_head}: "
        f"{exc.strerror or exc}; nothing was signed. Free space on that disk or make "
        f"{paths.signed_head.parent} writable by this user, then retry"
    )


# -- the file ----------------------------------------------------------------------------------


def read_head(paths: HomePaths, key: VerifierKey) -> tuple[str | None, SignedCheckpoint | None]:
    """(exact text, verified checkpoint) of the signed-state file, or (None, None) if absent.

    A file that does not verify with our own key is :class:`SignedStateError`: it is not
    something this node wrote, and guessing would risk exactly the fork it exists to prevent.
    """
    try:
        text = paths.signed_head.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        raise SignedStateError(
            f"cannot read the signed-state file {paths.signed_head}: {exc}"
        ) from None
    try:
        signed = SignedCheckpoint.open(text, key)
    except VerificationError as exc:
        raise SignedStateError(
            f"the signed-state file {paths.signed_head} does not hold a checkpoint signed by "
            f"this node's key {key} ({exc}); expected the newest checkpoint this node signed. "
            f"Restore it from a backup, or {RECOVER_ADVICE}"
        ) from None
    return text, signed


@contextmanager
def _file_lock(paths: HomePaths) -> Iterator[None]:
    """Serialise writers of the file across processes (a publish and a sync hook, say)."""
    fd = os.open(paths.signed_head_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself must survive a power loss
    finally:
        os.close(folder)


def _current_text(paths: HomePaths) -> str | None:
    try:
        return paths.signed_head.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def advance(paths: HomePaths, before: str | None, note: str) -> bool:
    """Replace the file with ``note`` if it still holds ``before`` (None: still absent).

    Compare-and-swap, so that a slower writer never overwrites what another wrote meanwhile:
    a newer publish from another process, or a peer's note that blocks publishing.
    """
    with _file_lock(paths):
        if _current_text(paths) != before:
            return False
        _write_atomic(paths.signed_head, note)
        return True


def after_publish(paths: HomePaths, before: str | None, note: str) -> None:
    """:func:`advance` once a publish committed. A file that cannot be written (disk full, a
    read-only folder) does not undo the publish: the file lags, which is safe, and the log
    says so, since it then protects only up to the size it still holds."""
    try:
        advance(paths, before, note)
    except OSError as exc:
        log.error(
            "published, but cannot update the signed-state file %s (%s); it protects this "
            "node's log only up to the size it holds until it can be written",
            paths.signed_head,
            exc,
        )


def _replace(paths: HomePaths, note: str) -> None:
    with _file_lock(paths):
        _write_atomic(paths.signed_head, note)


# -- the check ---------------------------------------------------------------------------------


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


def _problem(
    node: Node, latest: StoredCheckpoint | None, head: SignedCheckpoint | None
) -> str | None:
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
        _problem(node, latest, head) or _unconfirmed(node, latest, head),
    )


def _unconfirmed(
    node: Node, latest: StoredCheckpoint | None, head: SignedCheckpoint | None
) -> str | None:
    """The file is missing, the log is not empty and peers exist: the database may be an old
    copy, and only a peer can tell. Signing before one did could fork a log peers hold."""
    if head is not None or latest is None or _current_text(node.paths) is not None:
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
    problem = _problem(node, latest, head)
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
            raise _file_error(node.paths, exc, "write") from None
        text = latest.note
    if (problem := _problem(node, latest, head)) is not None:
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
        _current_text(node.paths) is not None
        or node.store.log.latest_checkpoint(node.origin) is None
    ):
        return None  # the usual case, without taking the write lock every round
    with node.store.transaction():  # serialised with publishes of every process
        ok, have = holds()
        if ok:
            _confirmed(node, peer, cp.size)
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
            and _problem(node, latest, head) is not None
        )
        if not covered:
            try:
                _replace(node.paths, signed.text())
            except OSError as exc:
                raise _file_error(node.paths, exc, "record a peer's checkpoint in") from None
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


def _confirmed(node: Node, peer: str, size: int) -> None:
    """A peer's checkpoint of our origin (``size``) is a prefix of the database's log: if the
    file is missing, write it from the database, which lets publishing go on (see
    :func:`_unconfirmed`). Under the caller's write transaction."""
    latest = node.store.log.latest_checkpoint(node.origin)
    if latest is None or _current_text(node.paths) is not None:
        return
    try:
        written = advance(node.paths, None, latest.note)
    except OSError as exc:
        raise _file_error(node.paths, exc, "write") from None
    if written:
        log.warning(
            "wrote %s from the database (size %d): it was missing, and peer %s holds this "
            "node's log at size %d, a prefix of it",
            node.paths.signed_head,
            latest.size,
            peer,
            size,
        )


# -- recovery ----------------------------------------------------------------------------------


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
    fetched: that offer is the confirmation :func:`_unconfirmed` waits for.
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
            text, head = _current_text(node.paths), None
        latest = node.store.log.latest_checkpoint(origin)
        have = 0 if latest is None else latest.size
        async with PeerClient(target) as client:
            offered = dict(await client.list_origins())
            if origin not in offered:
                raise NotFoundError(f"peer {peer} does not hold {origin}'s log; try another peer")
            try:
                signed = SignedCheckpoint.open(offered[origin], node.verifier)
            except VerificationError as exc:
                raise VerificationError(
                    f"peer {peer}'s checkpoint of {origin} does not verify with this node's own "
                    f"key: {exc}"
                ) from None
            cp = signed.checkpoint
            if head is not None and cp.size < head.checkpoint.size:
                raise SignedStateError(
                    f"peer {peer} holds {origin}'s log only up to size {cp.size}, but this node "
                    f"signed size {head.checkpoint.size}; recovering from it would still leave "
                    "the log behind. Try a peer that holds the newest checkpoint"
                )
            if (
                head is not None
                and cp.size == head.checkpoint.size
                and cp.root != (head.checkpoint.root)
            ):
                raise SignedStateError(
                    f"peer {peer} holds a checkpoint of size {cp.size} with root "
                    f"{cp.root.hex()}, but this node signed root {head.checkpoint.root.hex()} "
                    "for that size: this node's log forked; recover cannot choose a history"
                )
            same_size_other_root = latest is not None and cp.size == have and cp.root != latest.root
            if (
                head is None
                and text is None
                and latest is not None
                and cp.size < have
                and node.reader.root_at(origin, cp.size) == cp.root
            ):
                # The file is missing and the peer holds a prefix of the database's log: that
                # is the confirmation publishing waits for (_unconfirmed); nothing to fetch.
                _confirmed(node, peer, cp.size)
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
                problem = _problem(node, node.store.log.latest_checkpoint(origin), newest)
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
    from node import integrity

    integrity.run_check(node.store, node.paths.root, origin, origin=origin)
    after = state(node)
    log.info("recovered %s from %s: size %d -> %d", origin, peer, have, cp.size)
    return RecoverReport(peer, have, cp.size, fetched, cp.root.hex(), after.signed_size)


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
    # Imported here: the sync engine imports this module (check_offer).
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
