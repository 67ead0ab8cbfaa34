"""Finding damage in a node's store: recompute what can be recomputed and compare it with what
its origin signed.

SQLite's own checks (``PRAGMA integrity_check``) see only the file's structure: one flipped byte
inside an entry body leaves a well-formed page, so they say "ok". Every entry, though, is bound to
a signed root: its leaf is ``SHA-256(0x00 || body)`` and the leaves fold into the root of each
checkpoint the origin signed. :func:`check_store` walks each origin's log in bounded chunks and
reports, for each finding, the origin, the entry (or checkpoint) and what differs:

``body``        the body no longer hashes to its stored leaf, and the stored leaves still fold
                to the signed root: the body changed (the leaf says what it was)
``leaf``        the body hashes to what the signed root needs, but the stored leaf column changed
``entry``       a body and its leaf disagree and neither folds to the signed root, or a body no
                longer parses as an entry of its origin
``root``        leaves of a range fold to another root than the signed checkpoint: some entry in
                that range changed together with its leaf
``missing``     an index below a checkpoint's size has no entry
``checkpoint``  a stored note that does not verify with the origin's key, or whose size or root
                differs from the columns stored beside it
``frontier``    the stored Merkle frontier of a checkpoint is not the one its leaves give (the
                next append would extend a wrong tree)
``signals``     the signal rows of an entry (what matching uses) differ from the signals in its
                body, or its kind or retraction mark is wrong
``database``    ``PRAGMA quick_check`` found the file's structure damaged
``head``        the verified head (entries held beyond the newest checkpoint) is not what its
                leaves give, or its target note does not verify or is not larger

A finding also says how to repair it: this node's own log is rebuilt from a peer
(``hashfed recover --peer NAME``); another origin's log is held, signed, by every peer that
relays it.

Findings persist in ``HOME/integrity.json`` (a file, not the database: a damaged or read-only
database must not hide them) so that ``hashfed status`` reports the store unhealthy until a full
check comes back clean.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node.entry_rows import entry_row, rows_of
from node.errors import (
    DamageError,
    HashfedError,
    MalformedError,
    NotFoundError,
    StoreError,
    VerificationError,
)
from node.log.bundle import Bundle
from node.log.checkpoint import SignedCheckpoint
from node.log.entry import decode_entry
from node.log.keys import VerifierKey
from node.log.merkle import Frontier, leaf_hash
from node.store.rows import EntryRow
from node.store.store import Store

log = logging.getLogger("hashfed.integrity")

FINDINGS_FILE = "integrity.json"
FINDINGS_FORMAT = "hashfed-integrity/v1"
ENTRY_CHUNK = 2_000  # entries read at once: at most 2,000 x 64 KiB bodies in memory
LEAF_CHUNK = 50_000  # leaves only (32 bytes each), for the part whose bodies are not checked
CHECKPOINT_CHUNK = 1_000
LOW_DISK_BYTES = 8 * 1024 * 1024
# Findings about one entry, which `hashfed check --repair` can fetch again from a peer.
ENTRY_KINDS = frozenset({"body", "leaf", "entry", "signals"})


@dataclass(frozen=True)
class Damage:
    origin: str
    kind: str  # see the module docstring
    detail: str
    repair: str
    index: int | None = None  # the damaged entry, when one is known
    checkpoint_size: int | None = None  # the checkpoint concerned, for root/checkpoint/frontier

    def key(self) -> tuple[str, str, int | None, int | None]:
        return (self.origin, self.kind, self.index, self.checkpoint_size)

    def line(self) -> str:
        where = (
            f"entry {self.index}"
            if self.index is not None
            else f"checkpoint {self.checkpoint_size}"
            if self.checkpoint_size is not None
            else "database"
        )
        return f"{self.origin} {where}: {self.detail}. Repair: {self.repair}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, object]) -> Damage:
        index, size = doc.get("index"), doc.get("checkpoint_size")
        return cls(
            origin=str(doc["origin"]),
            kind=str(doc["kind"]),
            detail=str(doc["detail"]),
            repair=str(doc["repair"]),
            index=index if isinstance(index, int) else None,
            checkpoint_size=size if isinstance(size, int) else None,
        )


@dataclass
class OriginCheck:
    origin: str
    size: int = 0  # newest checkpoint's size
    entries: int = 0  # entries whose leaves were folded
    bodies: int = 0  # of those, entries whose bodies were rehashed and decoded
    checkpoints: int = 0  # checkpoints whose roots were compared
    notes_verified: int = 0  # of those, notes whose signature was verified
    complete: bool = True


@dataclass
class CheckReport:
    scope: str  # "full", "startup" or "bundle"
    origins: list[OriginCheck] = field(default_factory=list)
    damage: list[Damage] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str | None = None  # why the check ended before covering everything

    @property
    def clean(self) -> bool:
        return not self.damage

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "clean": self.clean,
            "seconds": round(self.seconds, 3),
            "stopped": self.stopped,
            "origins": [asdict(o) for o in self.origins],
            "damage": [d.to_dict() for d in self.damage],
        }


@dataclass(frozen=True)
class Scope:
    """How much of a log a check covers. The full check covers everything; the start-up check
    rehashes only the newest ``bodies`` entries' bodies and verifies only the newest
    checkpoint's signature, but still folds every leaf against every checkpoint's root."""

    bodies: int | None = None  # newest entries whose bodies are checked; None: all
    all_signatures: bool = True
    deadline: float | None = None  # time.monotonic() value at which to stop


def repair_advice(origin: str, own_origin: str | None, kind: str = "body") -> str:
    if kind not in ENTRY_KINDS:
        if origin == own_origin:
            return (
                "rebuild this node's own log from a peer that holds it: `hashfed recover "
                "--peer NAME`"
            )
        return (
            f"restore hashfed.db from a backup, or copy {origin}'s log again from a peer into "
            "a fresh node home (`hashfed init`, `hashfed peer add`, `hashfed sync`)"
        )
    if origin == own_origin:
        return (
            "rebuild this node's own log from a peer that holds it: `hashfed recover --peer "
            "NAME` (or fetch just the damaged entries: `hashfed check --repair --peer NAME`)"
        )
    return f"fetch it again from a peer that relays {origin}: `hashfed check --repair --peer NAME`"


# -- the check ---------------------------------------------------------------------------------


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
        checker = _OriginChecker(store, name, key, own_origin, scope, result)
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


class _OriginChecker:
    """One pass over one origin's entries and checkpoints, in index order."""

    def __init__(
        self,
        store: Store,
        origin: str,
        key: VerifierKey | None,
        own_origin: str | None,
        scope: Scope,
        result: OriginCheck,
    ) -> None:
        self.store = store
        self.origin = origin
        self.key = key
        self.scope = scope
        self.result = result
        self.own_origin = own_origin
        self.damage: list[Damage] = []
        # Two folds: the stored leaves, and the leaves recomputed from the bodies. They are the
        # same object until a body and its leaf disagree; the next checkpoint then tells which
        # one the origin signed.
        self.stored = self.recomputed = Frontier.empty()
        self.unresolved: list[int] = []  # entries whose body and leaf disagree, not yet judged
        self.roots_usable = True  # False once the fold cannot be trusted any more
        self.last_good = 0  # size of the newest checkpoint whose root the leaves gave
        self.position = 0  # next entry to read

    def found(self, kind: str, detail: str, **where: int | None) -> None:
        repair = repair_advice(self.origin, self.own_origin, kind)
        self.damage.append(Damage(self.origin, kind, detail, repair, **where))

    def run(self) -> list[Damage]:
        latest = self.store.log.latest_checkpoint(self.origin)
        size = 0 if latest is None else latest.size
        self.result.size = size
        _, end = self.store.integrity.entry_count(self.origin)
        first_body = 0 if self.scope.bodies is None else max(0, size - self.scope.bodies)
        checkpoints = self._checkpoints()
        pending = next(checkpoints, None)
        while pending is not None and pending[0] == 0:
            self._at_checkpoint(*pending, newest=size == 0)
            pending = next(checkpoints, None)
        position = self.position = 0
        while position < max(end, size):
            if self._late():
                self.result.complete = False
                return self.damage
            with_bodies = position >= first_body
            limit = ENTRY_CHUNK if with_bodies else min(LEAF_CHUNK, first_body - position)
            rows = self.store.integrity.entry_chunk(
                self.origin, position, limit, bodies=with_bodies
            )
            if not rows or rows[0][0] != position:
                self._missing(position, rows[0][0] if rows else size)
                break
            rows = self._contiguous(rows)
            leaves = [leaf for _, leaf, _, _ in rows]
            fixed = leaves if not with_bodies else [leaf_hash(b or b"") for _, _, b, _ in rows]
            if with_bodies:
                self._check_bodies(rows, fixed)
            # Fold up to each checkpoint inside this chunk, compare, go on.
            done = 0
            while done < len(rows):
                stop = len(rows)
                if pending is not None and pending[0] <= position + len(rows):
                    stop = pending[0] - position
                self._fold(position + done, leaves[done:stop], fixed[done:stop])
                done = stop
                if pending is not None and pending[0] == position + done:
                    self._at_checkpoint(*pending, newest=pending[0] == size)
                    pending = next(checkpoints, None)
            position = self.position = position + len(rows)
            if len(rows) < limit and position < size:
                self._missing(position, size)
                break
        for idx in self.unresolved:
            # Entries beyond the newest checkpoint: no signed root to judge them by.
            self.found(
                "entry",
                "its body does not hash to its stored leaf (no signed checkpoint covers it "
                "yet, so which of the two changed is unknown)",
                index=idx,
            )
        return self.damage

    def _late(self) -> bool:
        return self.scope.deadline is not None and time.monotonic() > self.scope.deadline

    def _checkpoints(self) -> Iterator[tuple[int, bytes, str, bytes]]:
        start = 0
        while chunk := self.store.integrity.checkpoint_chunk(self.origin, start, CHECKPOINT_CHUNK):
            yield from chunk
            start = chunk[-1][0] + 1

    def _missing(self, start: int, stop: int) -> None:
        if stop > start:
            self.found(
                "missing",
                f"entries {start}..{stop - 1} are not stored, yet a signed checkpoint covers them",
                index=start,
            )
        self.roots_usable = False

    def _contiguous(
        self, rows: list[tuple[int, bytes, bytes | None, str]]
    ) -> list[tuple[int, bytes, bytes | None, str]]:
        for offset, row in enumerate(rows):
            want = rows[0][0] + offset
            if row[0] != want:
                self._missing(want, row[0])
                return rows[:offset]
        return rows

    def _fold(self, first: int, leaves: list[bytes], fixed: list[bytes]) -> None:
        self.result.entries += len(leaves)
        if leaves == fixed and self.stored is self.recomputed:
            self.stored = self.recomputed = self.stored.extend(leaves)
            return
        self.unresolved.extend(
            first + i for i, (a, b) in enumerate(zip(leaves, fixed, strict=True)) if a != b
        )
        self.stored = self.stored.extend(leaves)
        self.recomputed = self.recomputed.extend(fixed)

    def _at_checkpoint(
        self, size: int, root: bytes, note: str, frontier: bytes, newest: bool
    ) -> None:
        self.result.checkpoints += 1
        signed_root = root
        if self.key is not None and (self.scope.all_signatures or newest):
            self.result.notes_verified += 1
            try:
                signed = SignedCheckpoint.open(note, self.key).checkpoint
            except VerificationError as exc:
                self.found(
                    "checkpoint",
                    f"its stored note does not verify with {self.origin}'s key: {exc}",
                    checkpoint_size=size,
                )
                signed = None
            if signed is not None:
                signed_root = signed.root
                if (signed.size, signed.root) != (size, root):
                    self.found(
                        "checkpoint",
                        f"the stored size/root ({size}, {root.hex()[:16]}…) differ from its "
                        f"signed note ({signed.size}, {signed.root.hex()[:16]}…)",
                        checkpoint_size=size,
                    )
        if not self.roots_usable:
            return
        stored_ok = self.stored.root() == signed_root
        recomputed_ok = self.recomputed.root() == signed_root
        first = self.unresolved[0] if self.unresolved else self.last_good
        for idx in self.unresolved:
            if stored_ok:
                self.found(
                    "body",
                    "its body does not hash to its stored leaf, and the stored leaves fold to "
                    "the signed root: the body changed",
                    index=idx,
                )
            elif recomputed_ok:
                self.found(
                    "leaf",
                    "its stored leaf is not the hash of its body, and the body is what the "
                    "signed root needs: the stored leaf changed",
                    index=idx,
                )
            else:
                self.found(
                    "entry",
                    "its body does not hash to its stored leaf, and neither folds to the "
                    f"signed root of checkpoint {size}",
                    index=idx,
                )
        self.unresolved = []
        good = self.stored if stored_ok else self.recomputed if recomputed_ok else None
        if good is None:
            self.found(
                "root",
                f"the leaves of entries up to {size - 1} fold to {self.stored.root().hex()[:16]}…"
                f", not to the signed root {signed_root.hex()[:16]}…: an entry below {size} "
                f"(at or after {first}) changed together with its leaf",
                checkpoint_size=size,
            )
            # Continue from the stored frontier if it is the signed one, else stop folding.
            try:
                resync = Frontier.from_bytes(size, frontier)
            except VerificationError:
                resync = None
            if resync is None or resync.root() != signed_root:
                self.roots_usable = False
                return
            self.stored = self.recomputed = resync
            return
        self.stored = self.recomputed = good
        self.last_good = size
        if good.to_bytes() != frontier:
            self.found(
                "frontier",
                "its stored Merkle frontier is not the one its leaves give; the next append "
                "would extend a wrong tree",
                checkpoint_size=size,
            )

    def _check_bodies(
        self, rows: Sequence[tuple[int, bytes, bytes | None, str]], fixed: Sequence[bytes]
    ) -> None:
        """Each body parses as an entry of this origin, and its derived rows (kind, signal
        values, retraction marks) are the ones stored. A body that does not hash to its leaf
        is judged by the fold instead: comparing rows with it would blame the rows."""
        self.result.bodies += len(rows)
        undecodable: set[int] = set()
        changed = {row[0] for row, new in zip(rows, fixed, strict=True) if row[1] != new}

        def slow(idx: int, body: bytes, leaf: bytes) -> EntryRow:
            try:
                entry = decode_entry(body)
            except HashfedError as exc:
                undecodable.add(idx)
                if idx not in changed:  # else the fold reports the changed body
                    self.found("entry", f"its body does not parse as an entry: {exc}", index=idx)
                return EntryRow(idx, leaf, body, "?", 0)
            if entry.origin != self.origin:
                undecodable.add(idx)
                if idx not in changed:
                    self.found("entry", f"its body is an entry of {entry.origin!r}", index=idx)
            return entry_row(idx, body, leaf, entry.statement, entry.create_time_ms)

        first = rows[0][0]
        stop = rows[-1][0] + 1
        bodies = [b or b"" for _, _, b, _ in rows]
        leaves = [leaf for _, leaf, _, _ in rows]
        entries, signals, _ = rows_of(self.origin, first, bodies, leaves, slow)
        skip = undecodable | changed
        stored_rows = self.store.integrity.signals_between(self.origin, first, stop)
        retracted_targets = self.store.integrity.retracted_between(self.origin, first, stop)
        # One comparison per chunk; only a chunk that differs is looked at entry by entry.
        kinds_differ = [r[3] for r in rows if r[0] not in skip] != [
            e[3] for e in entries if e[0] not in skip
        ]
        expected = sorted(s for s in signals if s[0] not in skip)
        stored = sorted((i, t, v, q) for i, t, v, q, _ in stored_rows if i not in skip)
        marked = {i for i, _, _, _, r in stored_rows if r and i not in skip}
        should = {i for i, *_ in stored_rows if i in retracted_targets and i not in skip}
        if not kinds_differ and expected == stored and marked == should:
            return
        want: dict[int, list[tuple[str, bytes, int | None]]] = {}
        for idx, signal_type, value, quality in expected:
            want.setdefault(idx, []).append((signal_type, value, quality))
        have: dict[int, list[tuple[str, bytes, int | None]]] = {}
        for idx, signal_type, value, quality in stored:
            have.setdefault(idx, []).append((signal_type, value, quality))
        for (idx, _, _, stored_kind), (_, _, _, kind, _) in zip(rows, entries, strict=True):
            if idx in skip:
                continue
            if kind != stored_kind:
                self.found(
                    "signals", f"its stored kind is {stored_kind}, its body is a {kind}", index=idx
                )
            if want.get(idx, []) != have.get(idx, []):
                self.found(
                    "signals",
                    f"its signal rows ({_signals_text(have.get(idx, []))}) differ from the "
                    f"signals in its body ({_signals_text(want.get(idx, []))}); matching uses "
                    "the rows",
                    index=idx,
                )
            if (idx in marked) != (idx in should):
                self.found(
                    "signals",
                    "its signal rows are marked "
                    + ("live" if idx in should else "retracted")
                    + ", but this origin "
                    + ("retracted it" if idx in should else "never retracted it"),
                    index=idx,
                )


def _signals_text(signals: Sequence[tuple[str, bytes, int | None]]) -> str:
    if not signals:
        return "none"
    return ", ".join(f"{t}:{v.hex()[:16]}{'…' if len(v) > 8 else ''}" for t, v, _ in signals)


# -- before an entry leaves the node -----------------------------------------------------------


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


def refuse(damage: Damage) -> DamageError:
    return DamageError(
        f"refusing to serve {damage.origin} entry {damage.index}: {damage.detail} "
        f"(run `hashfed check --origin {damage.origin}`). Repair: {damage.repair}"
    )


# -- findings kept beside the database ---------------------------------------------------------


def findings_path(home: Path) -> Path:
    return home / FINDINGS_FILE


def load_findings(home: Path) -> dict[str, object] | None:
    """The persisted findings, or None when no check has recorded any."""
    path = findings_path(home)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"unreadable": f"{path} cannot be read: {exc}"}
    return doc if isinstance(doc, dict) else {"unreadable": f"{path} is not a JSON object"}


def known_damage(home: Path) -> list[Damage]:
    doc = load_findings(home) or {}
    items = doc.get("damage")
    if not isinstance(items, list):
        return []
    return [Damage.from_dict(d) for d in items if isinstance(d, dict)]


def record(home: Path, report: CheckReport) -> bool:
    """Persist what ``report`` found. A full check replaces earlier findings (a clean one clears
    them), a check of one origin replaces that origin's; other checks (start-up, before a
    bundle) only add to them. Returns False when the file cannot be
    written (a full or read-only disk): the findings are then only logged."""
    doc = load_findings(home) or {}
    damage = [] if report.scope == "full" else known_damage(home)
    if report.scope == "origin":  # a complete check of some origins replaces what they had
        checked = {o.origin for o in report.origins if o.complete}
        damage = [d for d in damage if d.origin not in checked]
    seen = {d.key() for d in damage}
    damage.extend(d for d in report.damage if d.key() not in seen)
    now = time.time_ns() // 1_000_000
    doc = {
        "format": FINDINGS_FORMAT,
        "updated_ms": now,
        "last_full_check_ms": now if report.scope == "full" else doc.get("last_full_check_ms"),
        "last_check": {
            "scope": report.scope,
            "at_ms": now,
            "clean": report.clean,
            "seconds": round(report.seconds, 3),
            "stopped": report.stopped,
        },
        "damage": [d.to_dict() for d in damage],
    }
    path = findings_path(home)
    temp = path.with_name(path.name + ".tmp")
    try:
        with open(temp, "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except OSError as exc:
        log.error("cannot record integrity findings in %s: %s", path, exc.strerror or exc)
        temp.unlink(missing_ok=True)
        return False
    return True


def record_damage(home: Path, damage: Damage, scope: str) -> None:
    """Persist one finding made outside a check (a bundle refused, a damaged match), once
    per place (a check may already have named it, with a finer kind)."""
    where = (damage.origin, damage.index, damage.checkpoint_size)
    if where in {(d.origin, d.index, d.checkpoint_size) for d in known_damage(home)}:
        return
    # INFO: the caller raises or reports it as well; a CLI prints exactly one line.
    log.info("damaged entry found (%s): %s", scope, damage.line())
    record(home, CheckReport(scope=scope, damage=[damage]))


# -- the store section of `hashfed status` -----------------------------------------------------


def store_health(home: Path, database: Path) -> dict[str, object]:
    """ok, and the reasons when not: damage found by a check, a read-only file or file system,
    a nearly full disk."""
    reasons: list[str] = []
    doc = load_findings(home) or {}
    if "unreadable" in doc:
        reasons.append(str(doc["unreadable"]))
    damage = known_damage(home)
    reasons.extend(d.line() for d in damage)
    folder = database.parent
    read_only = not os.access(folder, os.W_OK) or (
        database.exists() and not os.access(database, os.W_OK)
    )
    if read_only:
        reasons.append(
            f"{database} or its folder is read-only: nothing can be published, synced or "
            "recorded; make them writable (or remount the file system read-write)"
        )
    free: int | None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < LOW_DISK_BYTES:
        reasons.append(
            f"only {free // 1024} KiB free on the disk holding {folder}: writes will fail with "
            "'database or disk is full'; free space there"
        )
    last = doc.get("last_check")
    return {
        "ok": not reasons,
        "path": str(database),
        "reasons": reasons,
        "damage": [d.to_dict() for d in damage],
        "read_only": read_only,
        "free_bytes": free,
        "last_check": last if isinstance(last, dict) else None,
        "last_full_check_ms": doc.get("last_full_check_ms"),
    }


# -- our own damage met during a sync ----------------------------------------------------------


class OwnDamageError(DamageError):
    """A sync found that our own store, not a peer or an origin, is wrong: a stored leaf,
    frontier or root no longer matches what the origin signed. Never evidence against anyone;
    ``damage`` is the finding (already recorded beside the store)."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(damage.line())
        self.damage = damage


def own_damage_repair(origin: str) -> str:
    return (
        f"run `hashfed check --origin {origin}` to find the damaged entry, then fetch it again "
        "from a peer: `hashfed check --repair --peer NAME`"
    )


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
            # Dropping the head row and the entries beyond the newest checkpoint is safe (the
            # next sync fetches them again) but `check --repair` does not do it yet.
            repair_advice(origin, None, "head"),
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
