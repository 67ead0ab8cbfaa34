"""Finding damage in a node's store: recompute what can be recomputed and compare it with what
its origin signed (``hashfed check``, the start-up check of ``hashfed serve``, and the check of
each bundle before it leaves the node).

SQLite's own checks (``PRAGMA integrity_check``) see only the file's structure: one flipped byte
inside an entry body leaves a well-formed page, so they say "ok". Every entry, though, is bound to
a signed root: its leaf is ``SHA-256(0x00 || body)`` and the leaves fold into the root of each
checkpoint the origin signed. :func:`check_store` walks each origin's log in bounded chunks
(node.service.origin_check) and reports, for each finding, the origin, the entry (or checkpoint)
and what differs (the kinds: node.service.integrity_report). Findings are recorded in
``HOME/integrity.json`` (node.service.integrity_findings).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from node.errors import MalformedError, NotFoundError, StoreError, VerificationError
from node.log.bundle import Bundle
from node.log.checkpoint import SignedCheckpoint
from node.log.keys import VerifierKey
from node.log.merkle import Frontier, leaf_hash
from node.service.integrity_findings import record
from node.service.integrity_report import CheckReport, Damage, OriginCheck, Scope, repair_advice
from node.service.origin_check import LEAF_CHUNK, OriginChecker
from node.store.store import Store

log = logging.getLogger("hashfed.integrity")

HEAD_REPAIR = (
    "drop the head and the entries beyond the newest checkpoint, which the next sync fetches "
    "again: `hashfed check --repair --peer NAME`, then `hashfed sync`"
)


def check_store(store: Store, own_origin: str | None, scope: Scope | None = None) -> CheckReport:
    """Check every origin held (own origin first), then SQLite's structure (full scope)."""
    scope = scope or Scope()
    started = time.monotonic()
    names = sorted(o.name for o in store.members.origins())
    if own_origin in names:
        names.remove(own_origin)
        names.insert(0, own_origin)
    report = check_origins(store, own_origin, names, scope)
    if scope.bodies is None and report.stopped is None:
        report.damage.extend(_database_damage(store, own_origin))
    report.scope = "full" if scope.bodies is None else "startup"
    report.seconds = time.monotonic() - started
    return report


def check_origins(
    store: Store, own_origin: str | None, names: Sequence[str], scope: Scope
) -> CheckReport:
    report = CheckReport(scope="full" if scope.bodies is None else "startup")
    keys = {o.name: o.verifier_key for o in store.members.origins()}
    for name in names:
        if name not in keys:
            raise NotFoundError(f"origin {name!r} is not held by this node (see `hashfed status`)")
        result = OriginCheck(name)
        report.origins.append(result)
        try:
            key: VerifierKey | None = VerifierKey.parse(keys[name])
        except VerificationError as exc:
            key = None
            report.damage.append(
                Damage(
                    name,
                    "checkpoint",
                    f"the origin's stored verifier key does not parse ({exc}), so no note can "
                    "be verified",
                    repair_advice(name, own_origin),
                )
            )
        checker = OriginChecker(store, name, key, own_origin, scope, result)
        try:
            with store.transaction_read():
                checker.run()
                # The head is checked apart from the log: the fold above stops at what the
                # checkpoints cover, and a wrong head frontier blames the next honest tree.
                found = head_damage(store, name, key, from_checkpoint=True)
                if found is not None:
                    checker.damage.append(found)
        except StoreError as exc:  # a damaged page: report it, check the other origins
            result.complete = False
            cause = exc.__cause__ or exc
            checker.found(
                "database",
                f"reading its log from entry {checker.position} on failed: {cause}",
                index=checker.position,
            )
            report.damage.extend(checker.damage)
            continue
        report.damage.extend(checker.damage)
        if not result.complete:
            report.stopped = (
                f"time limit reached while checking {name} (after {result.entries} of its "
                f"{result.size} entries)"
            )
            break
    return report


def run_check(
    store: Store, home: Path, own_origin: str | None, origin: str | None = None
) -> CheckReport:
    """``hashfed check``: every origin (or one), everything, then recorded beside the store."""
    started = time.monotonic()
    if origin is None:
        report = check_store(store, own_origin)
    else:
        report = check_origins(store, own_origin, [origin], Scope())
        report.scope = "origin"
    report.seconds = time.monotonic() - started
    record(home, report)
    return report


def startup_check(
    store: Store, home: Path, own_origin: str | None, entries: int, seconds: float
) -> CheckReport | None:
    """The bounded check ``hashfed serve`` runs before it listens (``startup_check_entries``,
    ``startup_check_seconds``): every checkpoint's root from the stored leaves, the newest
    checkpoint's signature, and the bodies and derived rows of the newest ``entries`` entries
    of each origin, stopping after ``seconds``. None when disabled (``entries == 0``)."""
    if entries <= 0:
        return None
    scope = Scope(bodies=entries, all_signatures=False, deadline=time.monotonic() + seconds)
    report = check_store(store, own_origin, scope)
    if report.damage:
        for damage in report.damage:
            log.error("start-up check: %s", damage.line())
        record(home, report)
    else:
        log.info(
            "start-up check: no damage in %d origins (%.2f s%s)",
            len(report.origins),
            report.seconds,
            f"; {report.stopped}" if report.stopped else "",
        )
    return report


def _database_damage(store: Store, own_origin: str | None) -> list[Damage]:
    try:
        lines = store.integrity.quick_check()
    except StoreError as exc:
        lines = [str(exc.__cause__ or exc)]
    if not lines:
        return []
    return [
        Damage(
            own_origin or "",
            "database",
            "SQLite's quick_check reports: " + "; ".join(lines),
            "restore hashfed.db from a backup; this node's own log can be rebuilt from a peer "
            "with `hashfed recover --peer NAME`",
        )
    ]


def bundle_damage(store: Store, bundle: Bundle, own_origin: str | None) -> Damage | None:
    """Why ``bundle`` must not be served (its body is not its stored leaf, or it does not verify
    with the origin's stored key as ``scripts/verify_bundle.py`` would check it), or None."""
    origin, idx = bundle.origin, bundle.entry_index
    repair = repair_advice(origin, own_origin)
    _, leaf = store.log.entry(origin, idx)
    if leaf_hash(bundle.entry) != leaf:
        return Damage(
            origin, "entry", "its stored body does not hash to its stored leaf", repair, idx
        )
    try:
        bundle.verify(VerifierKey.parse(store.members.origin(origin).verifier_key))
    except VerificationError as exc:
        return Damage(
            origin,
            "entry",
            f"its provenance bundle does not verify against the signed checkpoint: {exc}",
            repair,
            idx,
        )
    return None


def head_damage(
    store: Store, origin: str, key: VerifierKey | None, *, from_checkpoint: bool = False
) -> Damage | None:
    """Why the ``verified_heads`` row of ``origin`` cannot be trusted, or None.

    The head's entries were proven into the origin's signed ``target_note`` batch by batch; what
    is stored of that must still hold: the frontier is the one the stored leaves [0, size)
    give, and the target note verifies with the origin's key and is larger than ``size``. A
    head that fails this would make the next sync blame whoever offers the honest tree.

    ``from_checkpoint``: start from the newest checkpoint's stored frontier instead of leaf 0,
    for a check that verifies the leaves and frontier up to that checkpoint anyway (a log of
    10^8 entries is not read twice)."""
    head = store.log.verified_head(origin)
    if head is None:
        return None

    def found(detail: str) -> Damage:
        return Damage(
            origin,
            "head",
            detail,
            # Dropping the head row and the entries beyond the newest checkpoint is safe: no
            # checkpoint covers them, and the next sync fetches them again, proven afresh.
            HEAD_REPAIR,
            checkpoint_size=head.size,
        )

    if key is None:
        return found(
            "the origin's stored verifier key does not parse, so the head's target note "
            "cannot be verified"
        )
    try:
        target = SignedCheckpoint.open(head.target_note, key).checkpoint
    except VerificationError as exc:
        return found(f"the verified head's target note does not verify: {exc}")
    if target.origin != origin or target.size <= head.size:
        return found(
            f"the verified head of {head.size} entries names a target checkpoint of size "
            f"{target.size} of {target.origin!r}; it must be a larger tree of {origin}"
        )
    frontier = Frontier.empty()
    latest = store.log.latest_checkpoint(origin) if from_checkpoint else None
    if latest is not None and latest.size < head.size:
        # A malformed checkpoint frontier is the check's own finding; start from leaf 0 then.
        with contextlib.suppress(MalformedError):
            frontier = Frontier.from_bytes(latest.size, latest.frontier)
    position = frontier.size
    while position < head.size:
        rows = store.integrity.entry_chunk(
            origin, position, min(LEAF_CHUNK, head.size - position), bodies=False
        )
        if not rows or rows[0][0] != position:
            return found(f"entry {position} of the {head.size} the verified head covers is missing")
        for idx, leaf, _, _ in rows:
            if idx != position:
                return found(
                    f"entry {position} of the {head.size} the verified head covers is missing"
                )
            frontier = frontier.append(leaf)
            position += 1
    if frontier.to_bytes() != head.frontier:
        return found(
            f"the stored frontier of the verified head (size {head.size}) is not the one the "
            f"stored leaves give"
        )
    return None
