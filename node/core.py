"""The node facade: the one object the CLI and the servers drive.

Every flow of DESIGN.md starts here: hash, publish (ADD, RETRACT, OPINION), match, prove. The
facade validates everything before it opens a write transaction, so refused input stores nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from node import integrity, own_log
from node.audit_export import (
    OriginExport,
    entry_records,
    evidence_document,
    prepare_folder,
    write_lines,
    write_manifest,
)
from node.bulk import parse_hash_list
from node.cards import CARD_FORMAT, MemberCard
from node.entry_rows import entry_row, ignored_because
from node.errors import (
    DamageError,
    IdentityError,
    InvalidInputError,
    LowQualityError,
    MalformedError,
    NotFoundError,
    ProofError,
    VerificationError,
)
from node.hashing import (
    MIN_PUBLISH_QUALITY,
    ComputedSignal,
    Signal,
    hash_media,
)
from node.home import Config, HomePaths, check_secret_mode, max_file_bytes, write_secret
from node.index_snapshot import FOLDER_NAME as SNAPSHOT_FOLDER
from node.log.bundle import Bundle
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.cosignature import CosignerKey, WitnessKey
from node.log.entry import (
    Add,
    Entry,
    EntryRef,
    Labels,
    Opinion,
    Retract,
    Statement,
    Verdict,
    decode_entry,
    encode_entry,
)
from node.log.keys import SignerKey, VerifierKey
from node.log.merkle import Frontier, leaf_hash
from node.log.proof_verification import verify_consistency
from node.log.tree_levels import TreeLevels
from node.matching import MatchIndex, TypedHit
from node.own_log import OwnLogState
from node.results import (
    FileHashes,
    Match,
    OpinionSummary,
    Published,
    PublishReport,
    QueryResult,
    SignalDistance,
    Skipped,
    Witnessing,
)
from node.store.audit import AuditorRow, AuditReadRow, OperatorLogRow
from node.store.federation import EvidenceRow, MemberRow, PeerHealthRow, PeerRow, now_ms
from node.store.store import Store, StoredCheckpoint
from node.tls import certificate_fingerprint, generate_tls_identity
from node.verified_import import (
    Held,
    StoredGroup,
    VerifiedGroup,
    held,
    import_verified,
    store_verified,
)
from node.witnessing import AbsorbReport, Witness

log = logging.getLogger("hashfed.node")

# Merkle levels kept for proofs: ~64 bytes per leaf (1M entries: 64 MB); beyond this the least
# recently proved origin is dropped (it is rebuilt from the store when asked again).
TREE_CACHE_BYTES = 512 * 1024 * 1024
TREE_READ_CHUNK = 100_000
# A sync's groups reach the match index in bulk: once the rows not yet indexed are as many as
# those indexed, between these bounds (MatchIndex.refresh_when_behind).
INDEX_CATCH_UP_MIN_ROWS = 65_536
INDEX_CATCH_UP_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class LogLine:
    origin: str
    entry_index: int
    kind: str
    create_time_ms: int
    summary: str
    retracted: bool
    leaf_hash: bytes
    body: bytes
    entry: Entry
    # Why the entry, stored as signed, has no effect here (node.entry_rows.ignored_because).
    ignored: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "entry_index": self.entry_index,
            "kind": self.kind,
            "create_time_ms": self.create_time_ms,
            "summary": self.summary,
            "retracted": self.retracted,
            "leaf_hash": self.leaf_hash.hex(),
            "entry": base64.b64encode(self.body).decode(),
            "statement": _statement_dict(self.entry.statement),
            "ignored": self.ignored,
        }


class Node:
    """One member's node, opened on its home folder."""

    def __init__(
        self,
        paths: HomePaths,
        config: Config,
        signer: SignerKey,
        cosigner: CosignerKey,
        store: Store,
    ) -> None:
        self.paths = paths
        self.config = config
        self.signer = signer
        self.cosigner = cosigner
        self.store = store
        self.witness = Witness(store, config.origin, cosigner, config)
        self._index: MatchIndex | None = None
        # Interior hashes of logs we were asked to prove things about, most recently used last.
        self._trees: dict[str, TreeLevels] = {}

    # -- life cycle ----------------------------------------------------------------------------

    @classmethod
    def init(
        cls, home: Path, origin: str, *, peer_address: str | None = None, auditor: bool = False
    ) -> Node:
        """Create a new identity in ``home``; refuse if any part of one exists already.

        ``auditor=True`` makes a read-only identity (docs/audit.md): its card grants read
        access to a node's federation service; it never publishes, and nothing it signs is
        ever stored as an entry by anyone.
        """
        paths = HomePaths(home)
        if existing := [p for p in paths.identity_files() if p.exists()]:
            raise IdentityError(
                f"{home} already holds a node identity ({', '.join(p.name for p in existing)}); "
                "refusing to overwrite it. Use another --home, or remove it yourself"
            )
        _check_origin_name(origin)
        signer = SignerKey.generate(origin)
        cosigner = CosignerKey.generate(origin)
        config = Config(
            origin=origin,
            peer_address=peer_address or Config.peer_address,
            local_token=secrets.token_urlsafe(32),
            role="auditor" if auditor else "member",
        )
        tls_key, tls_cert = generate_tls_identity(origin)
        write_secret(paths.signing_key, (str(signer) + "\n").encode())
        write_secret(paths.witness_key, (str(cosigner) + "\n").encode())
        write_secret(paths.tls_key, tls_key)
        paths.tls_cert.write_bytes(tls_cert)
        store = Store(paths.database, create=True)
        with store.transaction():
            store.add_origin(origin, str(signer.verifier()), is_self=True)
            store.index_own_signals(origin)
            store.set_witness_key(origin, str(cosigner.verifier()))
        # The config is written last: its presence is what marks a home as initialised.
        paths.config.write_text(config.to_toml(), encoding="utf-8")
        return cls(paths, config, signer, cosigner, store)

    @classmethod
    def open(cls, home: Path) -> Node:
        paths = HomePaths(home)
        config = paths.load_config()
        max_file_bytes(config)  # a bad value fails here, not at the first file
        # Before any key is read: a key others can read or write is refused, as OpenSSH does.
        for key_file in (paths.signing_key, paths.witness_key, paths.tls_key):
            check_secret_mode(key_file)
        try:
            signer = SignerKey.parse(paths.signing_key.read_text(encoding="utf-8").strip())
        except FileNotFoundError as exc:
            raise IdentityError(f"signing key {paths.signing_key} is missing") from exc
        if signer.name != config.origin:
            raise IdentityError(
                f"signing key is for {signer.name!r} but config says origin {config.origin!r}"
            )
        store = Store(paths.database)
        own = [o for o in store.origins() if o.is_self]
        if [o.verifier_key for o in own] != [str(signer.verifier())]:
            store.close()
            raise IdentityError(
                f"the database in {home} belongs to {[o.name for o in own]}, not to the signing "
                f"key {signer.verifier()}; refusing to sign into another node's log"
            )
        cosigner = _load_cosigner(paths, config.origin, store)
        node = cls(paths, config, signer, cosigner, store)
        if not node.is_auditor:
            # Never raises: read-only commands must work on a node that may not publish.
            own_log.on_open(node)
        return node

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def origin(self) -> str:
        return self.config.origin

    @property
    def verifier(self) -> VerifierKey:
        return self.signer.verifier()

    @property
    def witness_key(self) -> WitnessKey:
        return self.cosigner.verifier()

    @property
    def is_auditor(self) -> bool:
        return self.config.role == "auditor"

    def _require_member(self, what: str) -> None:
        if self.is_auditor:
            raise IdentityError(
                f"{self.origin} is an auditor identity: it cannot {what} (auditors only read; "
                "see docs/audit.md)"
            )

    @property
    def index(self) -> MatchIndex:
        if self._index is None:
            self._index = MatchIndex(self.store, self.paths.root / SNAPSHOT_FOLDER)
        return self._index

    def identity_card(self) -> dict[str, str]:
        """What another member needs to trust this origin and to peer with this node."""
        cert = self.paths.tls_cert.read_bytes()
        return {
            "format": CARD_FORMAT,
            "origin": self.origin,
            "role": self.config.role,
            "verifier_key": str(self.verifier),
            "witness_key": str(self.witness_key),
            "tls_certificate": cert.decode(),
            "tls_fingerprint_sha256": certificate_fingerprint(cert),
            "address": "" if self.is_auditor else self.config.peer_address,
        }

    # -- hashing -------------------------------------------------------------------------------

    def hash_file(self, path: Path) -> FileHashes:
        """Every signal of one file, read once (``node.hashing.hash_path``: regular files of at
        most ``max_file_bytes``, refused if the file changed while it was read)."""
        from node.hashing import hash_path

        kwargs = {} if self.config.max_pixels is None else {"max_pixels": self.config.max_pixels}
        limit = max_file_bytes(self.config)
        return FileHashes(str(path), tuple(hash_path(path, max_bytes=limit, **kwargs)))

    def hash_files(self, paths: Sequence[Path]) -> list[FileHashes]:
        """``[self.hash_file(p) for p in paths]`` on every core (``node.hashing.hash_paths``):
        same signals, same order, and the first bad file's MediaError, as the loop would."""
        from node.hashing import hash_paths

        kwargs = {} if self.config.max_pixels is None else {"max_pixels": self.config.max_pixels}
        hashed = hash_paths(paths, max_bytes=max_file_bytes(self.config), **kwargs)
        return [FileHashes(str(p), tuple(s)) for p, s in zip(paths, hashed, strict=True)]

    # -- publishing ----------------------------------------------------------------------------

    def publish_files(self, paths: Sequence[Path], labels: Labels, note: str = "") -> PublishReport:
        hashed = self.hash_files(paths)  # every file first: one bad file, no entries
        items = [(h.name, Add(_publishable(h.signals, h.name), labels, note)) for h in hashed]
        return self._append(items)

    def publish_signals(
        self, signals: Sequence[ComputedSignal], labels: Labels, note: str = ""
    ) -> PublishReport:
        """One ADD carrying the given signals (the hashes of one item of media)."""
        source = " ".join(str(s.signal) for s in signals)
        return self._append([(source, Add(_publishable(signals, source), labels, note))])

    def import_hash_list(
        self, lines: Iterable[str], labels: Labels, note: str = ""
    ) -> PublishReport:
        """One ADD per line, all under one signed checkpoint; any bad line publishes nothing."""
        items: list[tuple[str, Statement]] = []
        for item in parse_hash_list(lines):
            source = f"line {item.line}"  # _publishable names it in any refusal
            items.append((source, Add(_publishable([item.signal], source), labels, note)))
        return self._append(items)

    def retract(self, entry_index: int, reason: str = "") -> PublishReport:
        return self._append([(f"retract {entry_index}", Retract(entry_index, reason))])

    def opinion(
        self, origin: str, entry_index: int, verdict: Verdict, *, agrees_with_labels: bool
    ) -> PublishReport:
        body, leaf = self.store.entry(origin, entry_index)
        if decode_entry(body).kind != "ADD":
            raise InvalidInputError(
                f"{origin} entry {entry_index} is not an ADD; opinions are about shared hashes"
            )
        target = EntryRef(origin, entry_index, leaf)
        statement = Opinion(target, verdict, agrees_with_labels)
        return self._append([(f"opinion on {origin}/{entry_index}", statement)])

    def _append(self, items: Sequence[tuple[str, Statement]]) -> PublishReport:
        self._require_member("publish")
        if not items:
            raise InvalidInputError("nothing to publish")
        now = time.time_ns() // 1_000_000
        given = items
        # What is already published is looked up first, without the lock, so a re-run import
        # encodes nothing; under the lock it is looked up again only if the log moved since.
        with self.store.transaction_read():
            planned = self.store.latest_checkpoint(self.origin)
            keep, skipped = self._already_published(given, planned)
        items = [given[i] for i in keep]
        # Encoding and leaf hashing need no lock (an entry does not contain its own index), so
        # they happen before the write transaction, which other writers wait for.
        encoded = [encode_entry(Entry(self.origin, now, statement)) for _, statement in items]
        leaves = [leaf_hash(body) for body in encoded]
        # durable(): the commit is on disk before the fsync'd signed-state file names it, so a
        # power cut cannot leave the file ahead of the database (node/own_log.py).
        with self.store.durable(), self.store.transaction():
            latest = self.store.latest_checkpoint(self.origin)
            # Refuses (SignedStateError) when the database is behind what this node signed.
            head_before = own_log.guard(self, latest)
            if _size(latest) != _size(planned):
                # Another process appended meanwhile (a RETRACT too changes the size).
                keep, skipped = self._already_published(given, latest)
                items = [given[i] for i in keep]
                encoded = [encode_entry(Entry(self.origin, now, st)) for _, st in items]
                leaves = [leaf_hash(body) for body in encoded]
            frontier = (
                Frontier.empty()
                if latest is None
                else Frontier.from_bytes(latest.size, latest.frontier)
            )
            self._check_retractions(items, frontier.size)
            if not items:
                assert latest is not None  # something to be a duplicate of
                return PublishReport((), latest.size, latest.root.hex(), skipped)
            rows = [
                entry_row(frontier.size + offset, body, leaf, statement, now)
                for offset, (body, leaf, (_, statement)) in enumerate(
                    zip(encoded, leaves, items, strict=True)
                )
            ]
            frontier = frontier.extend(leaves)
            signed = SignedCheckpoint.sign(
                Checkpoint(self.origin, frontier.size, frontier.root()), self.signer
            )
            stored = StoredCheckpoint(
                self.origin, frontier.size, frontier.root(), signed.text(), frontier.to_bytes(), now
            )
            self.store.append(self.origin, rows, stored)
        # After the commit, never before: the file may lag the database, never lead it.
        own_log.after_publish(self.paths, head_before, stored.note)
        self._follow_store()
        published = tuple(
            Published(self.origin, row.idx, row.kind, source)
            for row, (source, _) in zip(rows, items, strict=True)
        )
        return PublishReport(published, frontier.size, frontier.root().hex(), skipped)

    def _already_published(
        self, items: Sequence[tuple[str, Statement]], latest: StoredCheckpoint | None
    ) -> tuple[list[int], tuple[Skipped, ...]]:
        """(positions of the items to append, the ADDs skipped as already published).

        An ADD is skipped when this origin already publishes *every* one of its signals live
        (an unretracted ADD of ours carrying the same type and value), in the log or earlier
        in the same call. All, not any: an item sharing one hash with an earlier one but
        bringing another (a new SHA-256 beside a known PDQ) still adds something that can
        match, so it is published; skipping it would lose that hash. Labels and notes do not
        make an item new: to change them, retract the ADD and publish again. The answer is used
        only while the log is still at ``latest`` (checked under the write lock), so two
        imports of one list cannot both append it.
        """
        size = _size(latest)
        wanted = (
            []
            if latest is None
            else [
                (c.signal.type, c.signal.value)
                for _, st in items
                if isinstance(st, Add)
                for c in st.signals
            ]
        )
        live = self.store.live_own_signals(self.origin, wanted) if wanted else {}
        keep: list[int] = []
        skipped: list[Skipped] = []
        for position, (source, statement) in enumerate(items):
            if isinstance(statement, Add) and len(statement.signals) == 1:
                # A bulk import's line: the same rule, without the lists (200k of them).
                only = statement.signals[0].signal
                key = (only.type, only.value)
                at = live.get(key)
                if at is not None:
                    skipped.append(Skipped(self.origin, (at,), source))
                    continue
                live[key] = size + len(keep)
            elif isinstance(statement, Add) and statement.signals:
                keys = [(c.signal.type, c.signal.value) for c in statement.signals]
                found = [live.get(k) for k in keys]
                if all(f is not None for f in found):
                    indexes = tuple(sorted({f for f in found if f is not None}))
                    skipped.append(Skipped(self.origin, indexes, source))
                    continue
                at = size + len(keep)  # the index this entry gets
                for k in keys:
                    live.setdefault(k, at)
            keep.append(position)
        return keep, tuple(skipped)

    def own_log_state(self) -> OwnLogState:
        """The own log in the database against what this node signed (node/own_log.py)."""
        return own_log.state(self)

    def _check_retractions(self, items: Sequence[tuple[str, Statement]], size: int) -> None:
        seen: set[int] = set()
        for _, statement in items:
            if not isinstance(statement, Retract):
                continue
            target = statement.entry_index
            if target >= size:
                raise NotFoundError(f"{self.origin} has no entry {target} (log size {size})")
            body, _ = self.store.entry(self.origin, target)
            if decode_entry(body).kind != "ADD":
                raise InvalidInputError(f"entry {target} is not an ADD; only ADDs are retracted")
            if target in seen or self.store.is_retracted(self.origin, target):
                raise InvalidInputError(f"entry {target} is already retracted")
            seen.add(target)

    # -- matching ------------------------------------------------------------------------------

    def match_files(self, paths: Sequence[Path], threshold: int | None = None) -> list[QueryResult]:
        """Match each file by every signal it yields; ``threshold`` applies to PDQ."""
        self.index.refresh()
        results = []
        for path in paths:
            hashes = self.hash_file(path)
            queries = [
                (c.signal, threshold if c.signal.type == "pdq" else None) for c in hashes.signals
            ]
            results.append(self._match(str(path), queries))
        return results

    def match_signals(
        self, signals: Sequence[Signal], threshold: int | None = None
    ) -> list[QueryResult]:
        index = self.index
        index.refresh()
        # One pass for the whole call (StreamMatches sends up to 1,000 queries at once): the
        # index caught up once, every signal searched in one batch per type, every hit located
        # in one query per signal type, each matched entry decoded once.
        found = index.search_many(signals, threshold)
        wanted: dict[str, set[int]] = {}
        for hits in found:
            for h in hits:
                wanted.setdefault(h.type, set()).add(h.row)
        located = {t: self.store.signal_hits(t, sorted(rows)) for t, rows in wanted.items()}
        entries: dict[tuple[str, int], tuple[Add, OpinionSummary, Witnessing]] = {}
        coverings = {}
        results = []
        for signal, hits in zip(signals, found, strict=True):
            query = str(signal)
            by_entry: dict[tuple[str, int], list[SignalDistance]] = {}
            for h in hits:
                where = located[h.type][h.row]
                by_entry.setdefault((where.origin, where.idx), []).append(
                    SignalDistance(h.type, h.distance)
                )
            matches = []
            for (origin, idx), distances in by_entry.items():
                if (origin, idx) not in entries:
                    body, leaf = self._matched_entry(origin, idx)
                    statement = decode_entry(body).statement
                    assert isinstance(statement, Add)  # only ADDs carry signals
                    if origin not in coverings:
                        coverings[origin] = self.witness.covering(origin)
                    entries[origin, idx] = (
                        statement,
                        self.opinion_summary(origin, idx, leaf),
                        self.witness.status(origin, idx, coverings[origin]),
                    )
                statement, opinions, witnessing = entries[origin, idx]
                matches.append(
                    Match(
                        query=query,
                        origin=origin,
                        entry_index=idx,
                        signals=tuple(sorted(distances, key=lambda d: d.type)),
                        labels=statement.labels,
                        note=statement.note,
                        opinions=opinions,
                        witnessing=witnessing,
                    )
                )
            matches.sort(
                key=lambda m: (min(d.distance for d in m.signals), m.origin, m.entry_index)
            )
            results.append(QueryResult(query, tuple(matches)))
        return results

    def _match(self, query: str, signals: Sequence[tuple[Signal, int | None]]) -> QueryResult:
        index = self.index
        hits: list[TypedHit] = []
        for signal, threshold in signals:
            hits.extend(index.search(signal, threshold))
        by_entry: dict[tuple[str, int], list[SignalDistance]] = {}
        for signal_type in {h.type for h in hits}:
            typed = [h for h in hits if h.type == signal_type]
            located = self.store.signal_hits(signal_type, [h.row for h in typed])
            for h in typed:
                where = located[h.row]
                key = (where.origin, where.idx)
                by_entry.setdefault(key, []).append(SignalDistance(signal_type, h.distance))
        matches = [
            self._describe(query, origin, idx, found) for (origin, idx), found in by_entry.items()
        ]
        matches.sort(key=lambda m: (min(s.distance for s in m.signals), m.origin, m.entry_index))
        return QueryResult(query, tuple(matches))

    def _describe(self, query: str, origin: str, idx: int, found: list[SignalDistance]) -> Match:
        body, leaf = self._matched_entry(origin, idx)
        statement = decode_entry(body).statement
        assert isinstance(statement, Add)  # only ADDs carry signals
        return Match(
            query=query,
            origin=origin,
            entry_index=idx,
            signals=tuple(sorted(found, key=lambda s: s.type)),
            labels=statement.labels,
            note=statement.note,
            opinions=self.opinion_summary(origin, idx, leaf),
            witnessing=self.witness.status(origin, idx),
        )

    def _matched_entry(self, origin: str, idx: int) -> tuple[bytes, bytes]:
        """(body, leaf) of a matched entry. A body that no longer hashes to its leaf is
        recorded (``hashfed status`` then reports the store unhealthy and why), and refused
        with a DamageError naming it when it does not even parse; the match itself comes from
        the signal rows, which the check compares separately."""
        body, leaf = self.store.entry(origin, idx)
        if leaf_hash(body) != leaf:
            damage = integrity.Damage(
                origin,
                "entry",
                "its stored body does not hash to its stored leaf (found while matching)",
                integrity.repair_advice(origin, self.origin),
                idx,
            )
            integrity.record_damage(self.paths.root, damage, "match")
            try:
                decode_entry(body)
            except MalformedError:
                raise integrity.refuse(damage) from None
        return body, leaf

    def opinion_summary(self, origin: str, idx: int, leaf: bytes) -> OpinionSummary:
        counts = {v: 0 for v in Verdict}
        agree = disagree = 0
        for _, verdict, agrees in self.store.opinions_on(origin, idx, leaf):
            counts[Verdict(verdict)] += 1
            agree += agrees
            disagree += not agrees
        return OpinionSummary(
            counts[Verdict.TRUE_POSITIVE],
            counts[Verdict.FALSE_POSITIVE],
            counts[Verdict.DISPUTED],
            agree,
            disagree,
        )

    # -- reading the log -----------------------------------------------------------------------

    def log(self, origin: str | None = None) -> list[LogLine]:
        origin = origin or self.origin
        self.store.origin(origin)
        lines = []
        for row in self.store.entries(origin):
            entry = decode_entry(row.body)
            lines.append(
                LogLine(
                    origin,
                    row.idx,
                    row.kind,
                    row.create_ms,
                    _summary(entry),
                    row.kind == "ADD" and self.store.is_retracted(origin, row.idx),
                    row.leaf,
                    row.body,
                    entry,
                    ignored_because(self.store, origin, row.idx, entry, row.body),
                )
            )
        return lines

    def checkpoint(self, origin: str | None = None) -> StoredCheckpoint:
        origin = origin or self.origin
        latest = self.store.latest_checkpoint(origin)
        if latest is None:
            self.store.origin(origin)
            raise NotFoundError(f"origin {origin!r} has no checkpoint yet (its log is empty)")
        return latest

    def bundle(self, origin: str, entry_index: int) -> Bundle:
        """A provenance bundle for one entry: against the smallest witnessed checkpoint that
        covers it, with its cosignatures, or else against the newest checkpoint."""
        if not origin:
            # checkpoint() reads "" as this node's own origin; every lookup below would not.
            raise InvalidInputError("origin is missing: name the origin whose entry to prove")
        ahead = held(self.store, origin)
        if ahead.latest is None or entry_index >= ahead.latest.size:
            signed = 0 if ahead.latest is None else ahead.latest.size
            if signed <= entry_index < ahead.size:
                # Verified batch by batch, but no signed checkpoint of ours covers it: a bundle
                # needs one, and inventing one is not ours to do.
                raise NotFoundError(
                    f"entry {entry_index} of {origin!r} is held (verified up to {ahead.size}), "
                    f"but no signed checkpoint covers it yet (newest: size {signed}); a bundle "
                    "is available once the sync reaches the checkpoint it was proven against"
                )
            latest = self.checkpoint(origin)
            raise NotFoundError(
                f"origin {origin!r} has no entry {entry_index} (log size {latest.size})"
            )
        latest = ahead.latest
        size = self.witness.status(origin, entry_index).checkpoint_size or latest.size
        checkpoint = self.store.checkpoint_at(origin, size)
        assert checkpoint is not None  # witnessed sizes are sizes of stored checkpoints
        body, _ = self.store.entry(origin, entry_index)
        proof = self._tree(origin, size).inclusion_proof(entry_index, size)
        bundle = Bundle(origin, entry_index, body, tuple(proof), self.witness.note(checkpoint))
        return self._undamaged(bundle)

    def _undamaged(self, bundle: Bundle) -> Bundle:
        """``bundle``, if it verifies as scripts/verify_bundle.py would check it; else the
        damage is recorded (``status``) and refused by name (node.integrity)."""
        if (damage := integrity.bundle_damage(self.store, bundle, self.origin)) is not None:
            integrity.record_damage(self.paths.root, damage, "bundle")
            raise integrity.refuse(damage)
        return bundle

    def witness_status(self, origin: str, entry_index: int) -> Witnessing:
        """Whether ``entry_index`` of ``origin`` is covered by a witnessed checkpoint."""
        self.store.origin(origin)
        return self.witness.status(origin, entry_index)

    # -- local API helpers ---------------------------------------------------------------------

    def match_media(
        self, content: bytes, name: str = "", pdq_threshold: int | None = None
    ) -> QueryResult:
        signals = self._hash_bytes(content, name)
        queries = [(c.signal, pdq_threshold if c.signal.type == "pdq" else None) for c in signals]
        self.index.refresh()
        return self._match(name or "media", queries)

    def publish_media(
        self, content: bytes, name: str, labels: Labels, note: str = ""
    ) -> PublishReport:
        label = name or "media"
        signals = self._hash_bytes(content, name)
        return self._append([(label, Add(_publishable(signals, label), labels, note))])

    def _hash_bytes(self, content: bytes, name: str) -> list[ComputedSignal]:
        kwargs = {} if self.config.max_pixels is None else {"max_pixels": self.config.max_pixels}
        return hash_media(content, name=name, **kwargs)

    # -- members and peers ---------------------------------------------------------------------

    def add_member(self, card_json: str | bytes) -> MemberCard:
        """Trust an origin: accept its signed entries from whoever relays them."""
        card = MemberCard.from_json(card_json)
        if card.origin == self.origin:
            raise InvalidInputError(f"{card.origin} is this node's own card")
        if card.is_auditor:
            return self._add_auditor(card)
        with self.store.transaction():
            self._check_certificate_unshared(card)
            if any(a.name == card.origin for a in self.store.auditors()):
                raise InvalidInputError(
                    f"{card.origin} is an auditor here; an auditor can never become an origin. "
                    "Remove the auditor first if this name really is a member now"
                )
            known = {o.name: o for o in self.store.origins()}.get(card.origin)
            if (
                known is not None
                and known.verifier_key != str(card.verifier_key)
                and self.store.latest_checkpoint(card.origin) is not None
            ):
                raise InvalidInputError(
                    f"{card.origin} is already known with key {known.verifier_key}, and entries "
                    f"signed by it are stored; this card carries {card.verifier_key}. Refusing "
                    "to switch keys silently (key rotation is a future KEY_ROTATE entry)"
                )
            self.store.put_member(
                MemberRow(
                    card.origin,
                    str(card.verifier_key),
                    card.tls_certificate,
                    card.tls_fingerprint,
                    card.address,
                    trusted=True,
                )
            )
            if card.witness_key is not None:
                self.store.set_witness_key(card.origin, str(card.witness_key))
        self._follow_store()
        return card

    def _check_certificate_unshared(self, card: MemberCard) -> None:
        """Refuse a card whose TLS certificate another card already pins: the peer server
        names a caller by its certificate, so a shared one would misidentify callers."""
        if card.tls_fingerprint == certificate_fingerprint(self.paths.tls_cert.read_bytes()):
            raise InvalidInputError(
                f"the card for {card.origin} carries this node's own TLS certificate "
                f"({card.tls_fingerprint}); every member needs its own"
            )
        holder = self.store.caller_for_fingerprint(card.tls_fingerprint)
        if holder is not None and holder[0] != card.origin:
            name, role = holder
            raise InvalidInputError(
                f"the card for {card.origin} carries TLS certificate {card.tls_fingerprint}, "
                f"which the {role} card of {name} already pins; callers are identified by "
                f"their certificate, so two cards cannot share one. Ask {card.origin} for a "
                f"card with its own certificate (or remove {name} first if it was replaced)"
            )

    def _add_auditor(self, card: MemberCard) -> MemberCard:
        with self.store.transaction():
            self._check_certificate_unshared(card)
            if any(o.name == card.origin for o in self.store.origins()):
                raise InvalidInputError(
                    f"{card.origin} is known here as an origin; refusing to make it an auditor "
                    "(an auditor card must never share a name with a log whose entries we hold)"
                )
            self.store.put_auditor(
                AuditorRow(
                    card.origin,
                    None if card.witness_key is None else str(card.witness_key),
                    card.tls_certificate,
                    card.tls_fingerprint,
                    now_ms(),
                )
            )
            self.store.add_operator_log("auditor added", card.origin, card.tls_fingerprint)
        return card

    def auditors(self) -> list[AuditorRow]:
        return self.store.auditors()

    def witness_keys(self) -> dict[str, str]:
        """Witness vkeys of this node and of every member whose card carried one."""
        return self.store.witness_keys()

    def remove_member(self, origin: str) -> None:
        """Stop trusting an origin: its entries stop matching and are no longer relayed.

        The log rows stay for audit; peering with that node ends too, since its certificate is
        no longer pinned.
        """
        if any(a.name == origin for a in self.store.auditors()):
            with self.store.transaction():
                self.store.delete_auditor(origin)
                self.store.add_operator_log("auditor removed", origin, "")
            return
        member = self._member(origin)
        with self.store.transaction():
            self.store.put_member(
                MemberRow(
                    member.origin,
                    member.verifier_key,
                    member.tls_certificate,
                    member.tls_fingerprint,
                    member.address,
                    trusted=False,
                )
            )
            self.store.delete_peer(origin)
        self._follow_store()

    def members(self) -> list[MemberRow]:
        return self.store.members()

    def _member(self, origin: str) -> MemberRow:
        for member in self.store.members():
            if member.origin == origin:
                return member
        raise NotFoundError(f"{origin!r} is not a member this node knows (see `member list`)")

    def add_peer(self, card_json: str | bytes) -> MemberCard:
        """Trust the card's origin and also connect to its node at the card's address."""
        if MemberCard.from_json(card_json).is_auditor:
            raise InvalidInputError(
                "this is an auditor's card: auditors read from nodes but serve nothing, so "
                "they cannot be peers. Use `member add` to grant it read access"
            )
        card = self.add_member(card_json)
        with self.store.transaction():
            self.store.put_peer(card.origin, card.address)
        return card

    def remove_peer(self, name: str) -> None:
        with self.store.transaction():
            if not self.store.delete_peer(name):
                raise NotFoundError(f"{name!r} is not a peer of this node (see `peer list`)")

    def peers(self) -> list[PeerRow]:
        return self.store.peers()

    def pinned_certificates(self) -> list[bytes]:
        """TLS certificates of trusted members and auditors: exactly who may connect to the
        peer server."""
        members = [m.tls_certificate.encode() for m in self.store.members() if m.trusted]
        return members + [a.tls_certificate.encode() for a in self.store.auditors()]

    def caller_for_fingerprint(self, fingerprint: str) -> tuple[str, str] | None:
        """(name, "member" or "auditor") of who holds this certificate, if anyone may call."""
        return self.store.caller_for_fingerprint(fingerprint.lower())

    def record_audit_read(self, auditor: str, method: str, request: str) -> None:
        """Every read by an auditor is kept (docs/audit.md), so a member can show who looked."""
        with self.store.transaction():
            self.store.add_audit_read(auditor, method, request)

    def audit_reads(self, auditor: str | None = None, limit: int = 1000) -> list[AuditReadRow]:
        return self.store.audit_reads(auditor, limit)

    def operator_log(self) -> list[OperatorLogRow]:
        return self.store.operator_log()

    def trusted_keys(self) -> dict[str, VerifierKey]:
        """Verifier keys of the trusted members (this node's own origin excluded)."""
        return {
            m.origin: VerifierKey.parse(m.verifier_key) for m in self.store.members() if m.trusted
        }

    def _follow_store(self) -> None:
        if self._index is not None:
            self._index.refresh()

    # -- serving peers -------------------------------------------------------------------------

    def served_checkpoints(self) -> list[StoredCheckpoint]:
        """Newest checkpoint of every origin this node serves: itself and trusted members."""
        served = [self.origin, *self.trusted_keys()]
        latest = [self.store.latest_checkpoint(o) for o in served]
        return [c for c in latest if c is not None]

    def _served_size(self, origin: str) -> int:
        if origin != self.origin and not self.store.is_trusted(origin):
            raise NotFoundError(f"this node does not serve origin {origin!r}")
        latest = self.store.latest_checkpoint(origin)
        return 0 if latest is None else latest.size

    def entry_bodies(self, origin: str, start: int, end: int) -> list[bytes]:
        size = self._served_size(origin)
        if not 0 <= start <= end <= size:
            raise InvalidInputError(
                f"entries [{start}, {end}) of {origin} requested; this node serves [0, {size})"
            )
        bodies = self.store.bodies(origin, start, end)
        self._serve_undamaged(origin, start, bodies, size)
        return bodies

    def _serve_undamaged(self, origin: str, start: int, bodies: list[bytes], size: int) -> None:
        """Refuse, by name, a body that no longer hashes to its stored leaf: the peer verifies
        every batch against the origin's signed root, so sending it would only make this node
        look like a lying relay (and the peer would fetch it elsewhere anyway)."""
        stored = self._tree(origin, size).leaf_bytes(start, start + len(bodies))
        for offset, body in enumerate(bodies):
            if leaf_hash(body) != stored[32 * offset : 32 * offset + 32]:
                damage = integrity.Damage(
                    origin,
                    "body",
                    "its stored body does not hash to its stored leaf",
                    integrity.repair_advice(origin, self.origin),
                    index=start + offset,
                )
                integrity.record_damage(self.paths.root, damage, "serve")
                raise integrity.refuse(damage)

    def inclusion(
        self, origin: str, entry_index: int, tree_size: int = 0
    ) -> tuple[bytes, list[bytes], str]:
        """(entry bytes, audit path, signed checkpoint of exactly ``tree_size``)."""
        size = self._served_size(origin)
        tree_size = tree_size or size
        checkpoint = self.store.checkpoint_at(origin, tree_size)
        if checkpoint is None:
            raise NotFoundError(f"this node holds no checkpoint of {origin} at size {tree_size}")
        if entry_index >= tree_size:
            raise InvalidInputError(f"entry {entry_index} is not in a tree of size {tree_size}")
        body, _ = self.store.entry(origin, entry_index)
        proof = self._tree(origin, tree_size).inclusion_proof(entry_index, tree_size)
        # As for bundles: a damaged entry is refused by name, never sent with a proof.
        self._undamaged(Bundle(origin, entry_index, body, tuple(proof), checkpoint.note))
        return body, proof, checkpoint.note

    def consistency(self, origin: str, old_size: int, new_size: int) -> list[bytes]:
        size = self._served_size(origin)
        if not 0 < old_size <= new_size <= size:
            raise InvalidInputError(
                f"consistency {old_size} -> {new_size} of {origin} requested; sizes must satisfy "
                f"0 < old <= new <= {size}"
            )
        return self._tree(origin, new_size).consistency_proof(old_size, new_size)

    def _tree(self, origin: str, size: int) -> TreeLevels:
        """``origin``'s Merkle tree levels for at least ``size`` leaves, read from the store once
        and extended as the log grows (leaves never change once stored), so a proof costs
        O(log^2 n) instead of hashing the whole log each time."""
        tree = self._trees.pop(origin, None) or TreeLevels()
        while tree.size < size:
            stop = min(size, tree.size + TREE_READ_CHUNK)
            tree.extend(self.store.leaf_range(origin, tree.size, stop))
        self._trees[origin] = tree
        while len(self._trees) > 1 and sum(t.nbytes() for t in self._trees.values()) > (
            TREE_CACHE_BYTES
        ):
            del self._trees[next(iter(self._trees))]  # the least recently used
        return tree

    def checkpoint_notes(
        self, origin: str, min_size: int = 0, cosigned_only: bool = False, limit: int = 100
    ) -> list[tuple[int, str]]:
        """Up to ``limit`` checkpoints of a served origin from ``min_size`` on, as (size, note
        with our cosignatures)."""
        self._served_size(origin)
        return self.witness.notes(origin, min_size, cosigned_only, limit)

    # -- witnessing ----------------------------------------------------------------------------

    def cosign_latest(self, origin: str) -> None:
        """Cosign our newest verified checkpoint of ``origin`` (never our own), if not done."""
        if self.is_auditor or origin == self.origin:
            return
        self.witness.cosign_latest(origin)

    def origin_key(self, origin: str) -> VerifierKey:
        if origin == self.origin:
            return self.verifier
        keys = self.trusted_keys()
        if origin not in keys:
            raise NotFoundError(f"{origin!r} is not a trusted member of this node")
        return keys[origin]

    def absorb_cosigned(self, origin: str, notes: Sequence[str], peer: str) -> AbsorbReport:
        """Keep the valid cosignatures a peer relayed on checkpoints of ``origin``; a relayed
        origin-signed checkpoint that contradicts ours becomes evidence (origin halted)."""
        if origin in self.store.halted_origins():
            return AbsorbReport(ignored=len(notes))
        report, conflicts = self.witness.absorb(origin, self.origin_key(origin), list(notes), peer)
        for stored, signed in conflicts:
            try:
                kind, detail = self.conflict_detail(stored, signed)
                detail_json = json.dumps(detail, sort_keys=True)
                evidence_id = self.record_evidence(
                    origin, kind, stored.note, signed.text(), detail_json, peer
                )
            except integrity.OwnDamageError:
                continue  # our store is wrong, not the origin: recorded as a finding, logged
            report.evidence_ids.append(evidence_id)
            break  # one piece of evidence halts the origin; the rest add nothing
        return report

    def conflict_detail(
        self, ours: StoredCheckpoint, signed: SignedCheckpoint
    ) -> tuple[str, dict[str, object]]:
        """(evidence kind, detail) for an origin-signed checkpoint of a size we hold, or smaller,
        whose root is not ours: same size, or a smaller tree our log does not begin with (then
        with the consistency proof from its size to ours that shows it).

        Every root comes from a signed note, never from a stored column, and the proof is
        checked as ``scripts/verify_evidence.py`` would before it is returned: a flipped byte in
        our own leaves or roots must never become evidence against an honest origin. When it
        does not hold, our store is damaged: the finding is recorded beside the store and
        :class:`~node.integrity.OwnDamageError` raised."""
        origin = ours.origin
        their = signed.checkpoint
        mine = self.stored_note(ours)
        if their.size == mine.size:
            if their.root == mine.root:
                # The same tree: only our stored root column (which the caller compared) is
                # wrong.
                raise self._own_damage(
                    origin,
                    mine.size,
                    f"the stored root of checkpoint {mine.size} differs from its signed note",
                )
            detail: dict[str, object] = {
                "size": their.size,
                "first_root": mine.root.hex(),
                "second_root": their.root.hex(),
                "explanation": (
                    f"two checkpoints of size {their.size}, both signed by {their.origin}, "
                    "with different roots"
                ),
            }
            return "same-size-different-roots", detail
        assert 0 < their.size < mine.size
        tree = self._tree(origin, mine.size)
        prefix = tree.root(their.size)
        proof = tree.consistency_proof(their.size, mine.size)
        try:
            verify_consistency(their.size, mine.size, proof, prefix, mine.root)
        except ProofError:
            raise self._own_damage(
                origin,
                mine.size,
                f"the stored leaves [0, {mine.size}) do not rebuild the signed root of "
                f"checkpoint {mine.size} (a checkpoint of size {their.size} was offered)",
            ) from None
        if prefix == their.root:
            # Our leaves agree with the offered tree: a stored root at that size is wrong.
            raise self._own_damage(
                origin,
                their.size,
                f"the stored root at size {their.size} differs from the root its leaves give",
            )
        detail = {
            "smaller_size": their.size,
            "smaller_root": their.root.hex(),
            "larger_size": mine.size,
            "larger_root": mine.root.hex(),
            "prefix_root": prefix.hex(),
            "consistency_proof": [h.hex() for h in proof],
            "explanation": (
                f"the consistency proof shows that the signed tree of size {mine.size} has "
                f"root {prefix.hex()} at size {their.size}, but {their.origin} also signed "
                f"root {their.root.hex()} for size {their.size}"
            ),
        }
        return "inconsistent-smaller", detail

    def stored_note(self, stored: StoredCheckpoint) -> Checkpoint:
        """The checkpoint our stored note signs, verified again with the origin's key (it was
        when stored; a changed byte since then is our damage, not the origin's word)."""
        try:
            mine = SignedCheckpoint.open(stored.note, self.origin_key(stored.origin)).checkpoint
        except VerificationError as exc:
            raise self._own_damage(
                stored.origin,
                stored.size,
                f"the stored note of checkpoint {stored.size} does not verify: {exc}",
            ) from None
        if mine.origin != stored.origin or mine.size != stored.size:
            raise self._own_damage(
                stored.origin,
                stored.size,
                f"the stored note of checkpoint {stored.size} signs {mine.origin} at size "
                f"{mine.size}",
            )
        return mine

    def _own_damage(self, origin: str, size: int, detail: str) -> integrity.OwnDamageError:
        """Record a finding about our own store met outside a check (``hashfed status`` shows
        the store unhealthy until a check comes back clean); the error to raise."""
        damage = integrity.Damage(
            origin, "root", detail, integrity.own_damage_repair(origin), checkpoint_size=size
        )
        integrity.record_damage(self.paths.root, damage, "sync")
        log.error("own store damaged: %s", damage.line())
        return integrity.OwnDamageError(damage)

    def head_damage(self, origin: str) -> integrity.Damage | None:
        """Why our verified head of ``origin`` cannot be trusted (recorded as a finding), or
        None when its leaves rebuild its frontier and its target note verifies."""
        damage = integrity.head_damage(self.store, origin, self.origin_key(origin))
        if damage is not None:
            integrity.record_damage(self.paths.root, damage, "sync")
            log.error("own store damaged: %s", damage.line())
        return damage

    # -- audit ---------------------------------------------------------------------------------

    def export(self, folder: Path, origin: str | None = None) -> list[OriginExport]:
        """Write every entry, checkpoint and cosignature held for ``origin`` (or every origin
        held) to ``folder``, in the hashfed-export/v1 format of docs/audit.md."""
        names = [origin] if origin is not None else [o.name for o in self.store.origins()]
        rows = {o.name: o for o in self.store.origins()}
        for name in names:
            if name not in rows:
                raise NotFoundError(f"origin {name!r} is not known to this node")
        prepare_folder(folder)
        witness_keys = self.store.witness_keys()
        done = []
        for name in names:
            # Bounded by the newest checkpoint read first, so a publish racing the export
            # cannot leave entries without a checkpoint covering them.
            latest = self.store.latest_checkpoint(name)
            size = 0 if latest is None else latest.size
            sub = folder / name
            sub.mkdir()
            bodies = ((r.idx, r.body) for r in self.store.entries(name, 0, size))
            entries = write_lines(sub / "entries.jsonl", entry_records(bodies))
            checkpoints = write_lines(
                sub / "checkpoints.jsonl",
                ({"size": n, "note": note} for n, note in self._all_notes(name, size)),
            )
            cosigs = sum(len(v) for n, v in self.store.cosignatures(name).items() if n <= size)
            done.append(
                OriginExport(
                    name,
                    rows[name].verifier_key,
                    witness_keys.get(name),
                    entries,
                    checkpoints,
                    cosigs,
                )
            )
        write_manifest(folder, self.origin, done, witness_keys)
        return done

    def _all_notes(self, origin: str, size: int) -> Iterator[tuple[int, str]]:
        """Every checkpoint of ``origin`` up to ``size`` with its cosignatures, read in chunks."""
        start = 0
        while chunk := self.witness.notes(origin, start, limit=1000):
            for n, note in chunk:
                if n > size:
                    return
                yield n, note
            start = chunk[-1][0] + 1

    def evidence_file(self, evidence_id: int) -> str:
        """The portable proof of one equivocation (hashfed-evidence/v1, docs/audit.md)."""
        return evidence_document(self.store.evidence(), evidence_id)

    def reset_member(self, origin: str, reason: str = "") -> int:
        """Resume importing ``origin`` after its evidence was dealt with; logged.

        The evidence stays. Our verified copy of its log stays too, so the next sync accepts
        only a history consistent with what we already hold. Returns the operator-log id.
        """
        self._member(origin)
        with self.store.transaction():
            if not self.store.clear_halt(origin):
                raise InvalidInputError(f"{origin} is not halted; nothing to reset")
            ids = [e.id for e in self.store.evidence() if e.origin == origin]
            entry = self.store.add_operator_log(
                "member reset",
                origin,
                json.dumps({"reason": reason, "evidence": ids}, sort_keys=True),
            )
        log.info("member reset: import from %s resumed by the operator", origin)
        return entry

    # -- sync support --------------------------------------------------------------------------

    def latest(self, origin: str) -> StoredCheckpoint | None:
        return self.store.latest_checkpoint(origin)

    def root_at(self, origin: str, size: int) -> bytes:
        """Root of our verified copy of ``origin`` at ``size`` (at most what we hold)."""
        stored = self.store.checkpoint_at(origin, size)
        if stored is not None:
            return stored.root
        return self._tree(origin, size).root(size)

    def held(self, origin: str) -> Held:
        """What we hold of ``origin``: size and frontier (up to its verified head), the newest
        stored checkpoint and the head."""
        return held(self.store, origin)

    def store_verified(self, group: VerifiedGroup, target: SignedCheckpoint) -> StoredGroup:
        """Store entries of another origin already proven into its signed ``target`` tree (see
        :func:`node.verified_import.store_verified`); cosign ``target`` once it is reached."""
        if group.origin == self.origin:
            raise InvalidInputError("a node never imports its own origin from others")
        stored = store_verified(self.store, group, target, self._index)
        if self._index is not None and stored.result is not None and stored.checkpoint:
            self._index.hold(stored.result.appended)
        if stored.checkpoint or self._index is None:
            self._follow_store()
        else:
            # Mid-stream the index catches up as its backlog doubles (MatchIndex docstring),
            # from the rows in memory; every match still sees every stored entry (it
            # refreshes first).
            if stored.result is not None:
                self._index.hold(stored.result.appended)
            self._index.refresh_when_behind(INDEX_CATCH_UP_MIN_ROWS, INDEX_CATCH_UP_MAX_ROWS)
        if stored.checkpoint:
            self.cosign_latest(group.origin)
        return stored

    def batch_proofs(self, origin: str, sizes: Sequence[int], end: int) -> list[list[bytes]]:
        """Consistency proofs from each of ``sizes`` to ``end`` (empty where equal): what each
        streamed batch of ``origin`` carries."""
        served = self._served_size(origin)
        if not 0 < end <= served or not all(0 < n <= end for n in sizes):
            raise InvalidInputError(
                f"batch proofs of {origin} to size {end} requested; this node serves [0, {served}]"
            )
        tree = self._tree(origin, end)
        signed = self.store.checkpoint_at(origin, end)
        if signed is not None and tree.root(end) != signed.root:
            # Stored leaves that no longer make the signed root: every proof would fail at the
            # peer, which would count it against us.
            damage = integrity.Damage(
                origin,
                "root",
                f"the stored leaves give root {tree.root(end).hex()} at size {end}, not the "
                f"signed {signed.root.hex()}",
                integrity.repair_advice(origin, self.origin, "root"),
                checkpoint_size=end,
            )
            self._trees.pop(origin, None)
            integrity.record_damage(self.paths.root, damage, "serve")
            raise DamageError(
                f"refusing to serve {origin}: {damage.detail} (run `hashfed check --origin "
                f"{origin}`). Repair: {damage.repair}"
            )
        return [[] if n == end else tree.consistency_proof(n, end) for n in sizes]

    def import_verified(
        self, origin: str, checkpoint: SignedCheckpoint, bodies: Sequence[bytes]
    ) -> int:
        """Append another origin's entries, only if they reproduce its signed root, then cosign
        the checkpoint as a witness.

        ``checkpoint`` must already be verified with the origin's key. The entries extend our
        verified frontier; if the new root differs from the signed one, :class:`ProofError` is
        raised and nothing changes. Otherwise entries, checkpoint and index update become
        visible together. Returns the number of entries imported.
        """
        if origin == self.origin:
            raise InvalidInputError("a node never imports its own origin from others")
        count = import_verified(self.store, origin, checkpoint, bodies, self._index)
        self._follow_store()  # reads what was not applied: new rows, then their retractions
        self.cosign_latest(origin)
        return count

    def record_evidence(
        self,
        origin: str,
        kind: str,
        first_note: str,
        second_note: str,
        detail: str,
        peer: str | None = None,
    ) -> int:
        """Keep proof that ``origin`` signed two checkpoints that cannot both be true; stop
        importing it. The proof is checked first as ``scripts/verify_evidence.py`` checks it;
        one that does not hold is our own damage (:class:`~node.integrity.OwnDamageError`),
        never kept, never halting anyone."""
        self._check_evidence(origin, kind, first_note, second_note, detail)
        with self.store.transaction():
            return self.store.add_evidence(origin, kind, first_note, second_note, detail, peer)

    def _check_evidence(
        self, origin: str, kind: str, first_note: str, second_note: str, detail: str
    ) -> None:
        key = self.origin_key(origin)
        try:
            first = SignedCheckpoint.open(first_note, key).checkpoint
            second = SignedCheckpoint.open(second_note, key).checkpoint
            doc = json.loads(detail)
            if first.origin != origin or second.origin != origin:
                raise ProofError("a checkpoint names another origin")
            if kind == "same-size-different-roots":
                if first.size != second.size or first.root == second.root:
                    raise ProofError("not two roots for one size")
                return
            smaller, larger = sorted((first, second), key=lambda c: c.size)
            if not 0 < smaller.size < larger.size:
                raise ProofError("needs two non-empty trees of different sizes")
            prefix = bytes.fromhex(doc["prefix_root"])
            proof = [bytes.fromhex(h) for h in doc["consistency_proof"]]
            verify_consistency(smaller.size, larger.size, proof, prefix, larger.root)
            if prefix == smaller.root:
                raise ProofError("the larger tree begins with the smaller one")
        except (VerificationError, ValueError, KeyError, TypeError) as exc:
            raise self._own_damage(
                origin,
                max(_note_size(first_note), _note_size(second_note)),
                f"evidence ({kind}) built from our store does not prove itself ({exc})",
            ) from None

    def evidence(self) -> list[EvidenceRow]:
        return self.store.evidence()

    def halted_origins(self) -> set[str]:
        return self.store.halted_origins()

    def record_peer_result(
        self,
        peer: str,
        *,
        received: int = 0,
        rejected: int = 0,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        with self.store.transaction():
            self.store.record_peer(
                peer, received=received, rejected=rejected, error=error, reason=reason
            )

    def peer_health(self) -> dict[str, PeerHealthRow]:
        """How each peer's latest sync round ended and when its next one is due."""
        return self.store.peer_health()

    def record_peer_health(self, row: PeerHealthRow) -> None:
        with self.store.transaction():
            self.store.put_peer_health(row)

    def status(self) -> dict[str, object]:
        """Per peer: last sync, last error, entries received and rejected (with reasons),
        health (state, reason, failures in a row, next attempt).
        Per origin: size, age of its newest checkpoint. Evidence count."""
        now = time.time_ns() // 1_000_000
        stats = self.store.peer_stats()
        health = self.store.peer_health()
        peers = []
        for peer in self.store.peers():
            s = stats.get(peer.name)
            peers.append(
                {
                    "name": peer.name,
                    "address": peer.address,
                    "last_success_ms": s.last_success_ms if s else None,
                    "last_error": s.last_error if s else None,
                    "last_error_ms": s.last_error_ms if s else None,
                    "received": s.received if s else 0,
                    "rejected": s.rejected if s else 0,
                    "rejected_reasons": s.reasons if s else {},
                    **_health_fields(health.get(peer.name)),
                }
            )
        halted = self.store.halted_origins()
        trusted = self.trusted_keys()
        origins = []
        for name in [*([] if self.is_auditor else [self.origin]), *sorted(trusted)]:
            latest = self.store.latest_checkpoint(name)
            origins.append(
                {
                    "origin": name,
                    "self": name == self.origin,
                    "size": latest.size if latest else 0,
                    # Verified entries held, beyond "size" while a sync is on its way to a
                    # larger signed checkpoint (docs/protocol.md §9.1).
                    "held": held(self.store, name).size,
                    "checkpoint_age_s": (now - latest.received_ms) / 1000 if latest else None,
                    "halted": name in halted,
                    **self.witness.summary(name),
                }
            )
        return {
            "origin": self.origin,
            "peers": peers,
            "origins": origins,
            "evidence": len(self.store.evidence()),
            "role": self.config.role,
            "witness_policy": {
                "min": self.config.witness_min,
                "witnesses": list(self.config.witnesses) or "any trusted member",
            },
            "auditors": [a.name for a in self.store.auditors()],
            "store": integrity.store_health(self.paths.root, self.paths.database),
            "own_log": None if self.is_auditor else self.own_log_state().to_dict(),
        }


def _health_fields(h: PeerHealthRow | None) -> dict[str, object]:
    """A peer's health in ``status`` (``node.sync.health``); "untried" before its first round."""
    return {
        "state": h.state if h else "untried",
        "reason": h.reason if h else None,
        "consecutive_failures": h.consecutive_failures if h else 0,
        "next_attempt_ms": h.next_attempt_ms if h else None,
        "last_round_ms": h.last_round_ms if h else None,
        "last_round_s": h.last_round_s if h else None,
    }


_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_ORIGIN_NAME = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


def _load_cosigner(paths: HomePaths, origin: str, store: Store) -> CosignerKey:
    """The witness key; a home made before witnessing existed gets one now (an upgrade)."""
    try:
        cosigner = CosignerKey.parse(paths.witness_key.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        if origin in store.witness_keys():
            # Regenerating it would silently turn every cosignature it made into a stranger's.
            raise IdentityError(
                f"witness key {paths.witness_key} is missing, but this node has cosigned with "
                "one; restore the file from a backup (witness key rotation is not supported)"
            ) from None
        cosigner = CosignerKey.generate(origin)
        write_secret(paths.witness_key, (str(cosigner) + "\n").encode())
    if cosigner.name != origin:
        raise IdentityError(f"witness key is for {cosigner.name!r}, not for {origin!r}")
    if store.witness_keys().get(origin) != str(cosigner.verifier()):
        with store.transaction():
            store.set_witness_key(origin, str(cosigner.verifier()))
    return cosigner


def _note_size(note: str) -> int:
    """The size a note states (unverified; only to name where damage is), or 0."""
    try:
        return Checkpoint.parse(note.split("\n\n", 1)[0] + "\n").size
    except VerificationError:
        return 0


def _size(checkpoint: StoredCheckpoint | None) -> int:
    return 0 if checkpoint is None else checkpoint.size


def _check_origin_name(origin: str) -> None:
    # Stricter than C2SP key names on purpose: the origin is also the TLS name peers verify
    # (certificate SAN), and look-alike Unicode names would invite impersonation.
    if len(origin) > 253 or not _ORIGIN_NAME.fullmatch(origin):
        raise InvalidInputError(
            f"origin {origin!r} is not a lower-case DNS-style name (letters, digits, '-' and "
            "'.', labels of at most 63 characters, 253 in all), e.g. acme.example"
        )


def _publishable(signals: Sequence[ComputedSignal], source: str) -> tuple[ComputedSignal, ...]:
    for computed in signals:
        if (
            computed.signal.type == "pdq"
            and computed.quality is not None
            and computed.quality < MIN_PUBLISH_QUALITY
        ):
            raise LowQualityError(
                f"{source}: PDQ quality {computed.quality} is below {MIN_PUBLISH_QUALITY}; "
                "such hashes match unrelated images, so they are not published"
            )
    return tuple(signals)


def _statement_dict(st: Statement) -> dict[str, object]:
    if isinstance(st, Add):
        return {
            "signals": [
                {"type": c.signal.type, "value": c.signal.hex, "quality": c.quality}
                for c in st.signals
            ],
            "unusable_signals": [{"type": t, "value": v.hex()} for t, v in st.unusable],
            "labels": st.labels.to_dict(),
            "note": st.note,
        }
    if isinstance(st, Retract):
        return {"retracts": st.entry_index, "reason": st.reason}
    return {
        "target": {
            "origin": st.target.origin,
            "entry_index": st.target.entry_index,
            "leaf_hash": st.target.leaf_hash.hex(),
        },
        "verdict": st.verdict.value,
        "agrees_with_labels": st.agrees_with_labels,
    }


def _summary(entry: Entry) -> str:
    st = entry.statement
    if isinstance(st, Add):
        types = [c.signal.type for c in st.signals]
        pdq = [c.signal.hex[:16] for c in st.signals if c.signal.type == "pdq"]
        sigs = " ".join(types) + (f" (pdq {pdq[0]}…)" if pdq else "")
        labels = ", ".join(
            x for x in (st.labels.entity, st.labels.content_type, *st.labels.behaviours) if x
        )
        return f"{sigs} [{labels}]" if labels else sigs
    if isinstance(st, Retract):
        return f"retracts entry {st.entry_index}" + (f" ({st.reason})" if st.reason else "")
    return (
        f"{st.verdict.value} on {st.target.origin}/{st.target.entry_index}"
        f"{'' if st.agrees_with_labels else ', disagrees with labels'}"
    )
