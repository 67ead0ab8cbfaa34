#!/usr/bin/env python3
"""Audit hashfed logs, from an export folder or a live node, with keys given on the command line.

Usage::

    verify_log.py --export DIR --key VKEY [--key VKEY ...] [--origin O]
                  [--witness WKEY ...] [--min N [--max-unwitnessed K]] [--state FILE]
    verify_log.py --node HOST:PORT --auditor-home DIR --node-card CARD.json --key VKEY ...
                  [--origin O] [--witness WKEY ...] [--min N [--max-unwitnessed K]]
                  [--state FILE]

``--export DIR`` reads a ``hashfed-export/v1`` folder (``hashfed export DIR``, docs/audit.md).
``--node`` connects to a node's federation service as an auditor, with mutual TLS: the
auditor's identity is ``DIR/keys/tls.key`` and ``DIR/keys/tls.crt``, the only trusted root is
the ``tls_certificate`` of the node's member card and the TLS server name is the card's
``origin`` (as the node's own sync client does).

Keys come from the command line only, never from the export or the node: ``--key`` is an
origin's C2SP verifier key ``name+keyid+base64(0x01 || key)`` and ``--witness`` a witness's
cosignature key ``name+keyid+base64(0x04 || key)``; both repeatable, ``@FILE`` reads one key per
line. For each audited origin (``--origin``, else every origin the export or node holds) it

1. verifies every checkpoint's signature with that origin's ``--key`` (a missing key fails);
2. reads every entry (protobuf field 1 must name the origin; the entry must hold a statement),
   recomputes the RFC 9162 root after each checkpoint's size from the entry bytes
   (leaf = SHA-256(0x00 || entry)) and requires it to equal the signed root. Every checkpoint is
   then the root of a prefix of one sequence of entries, so every pair of checkpoints seen is
   consistent (one append-only log); no entry may lie beyond the newest checkpoint;
3. verifies the cosignatures by the given witnesses (tlog-cosignature/v1) on each checkpoint:
   a line claiming a given witness key that does not verify fails; it reports how many distinct
   witnesses (never the origin itself) cosigned each checkpoint. With ``--min N`` it reports the
   newest checkpoint with at least N of them ("witnessed up to size S") and the entries after it
   as the **unwitnessed tail** (entries S..size-1, which honest witnesses cosign only after they
   sync, so the newest checkpoint need not meet ``--min``). It fails when no checkpoint of the
   origin meets ``--min`` (NOT WITNESSED), or when the tail is longer than
   ``--max-unwitnessed K`` entries (UNWITNESSED TAIL TOO LONG; default: no limit);
4. with ``--state FILE``, compares with the last checkpoint verified by an earlier run: a newest
   size below the recorded one is a **rollback**, a different root at the recorded size a
   **rewrite**, and a recorded origin the export or node no longer holds (every recorded origin
   without ``--origin``; ``--origin O`` when O is recorded) is a rollback too; all fail. A run
   that finds no origin to audit at all fails ("nothing to audit");
5. live only: asks the node's proof service for a consistency proof from the recorded size (or
   the previous checkpoint) to the newest, and for inclusion proofs of the first, a middle and
   the last entry, and checks them against the verified roots (a truncated or padded proof
   fails).

On success the state file gets, per audited origin, the newest checkpoint (size, root, note),
written atomically; on any failure it is left unchanged.

Output and exit codes: ``0`` every origin verified (a summary per origin on standard output);
``1`` ``FAIL: <reason>`` on standard error for each origin that failed (others are still
summarised); ``2`` usage error (missing or malformed arguments, unreadable files).

In-process use: :func:`audit_export` and :func:`audit_node` return a :class:`Result`;
:func:`run` returns ``(exit code, stdout text, stderr text)``.

Imports only the standard library, ``cryptography``, ``auditlib.py`` beside it and, for live
mode, ``grpcio`` with hashfed's generated protocol stubs (``node._proto``): none of the node's
own logic.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # auditlib/ sits beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditlib.cli import count_argument, protect_output, read_key_file
from auditlib.cosignatures import verify_cosignatures, witness_names
from auditlib.entry import MAX_ENTRY_BYTES, read_entry
from auditlib.errors import VerificationError, fail, show, show_json
from auditlib.keys import VerifierKey, parse_verifier_key, parse_witness_key
from auditlib.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash, verify_consistency, verify_inclusion
from auditlib.notes import SignedCheckpoint, open_checkpoint
from auditlib.values import (
    b64decode_canonical,
    hex_hash,
    is_origin_name,
    load_json,
    require_int,
    require_object,
    require_str,
)

__all__ = [
    "EXPORT_FORMAT",
    "STATE_FORMAT",
    "OriginReport",
    "Result",
    "VerificationError",
    "audit_export",
    "audit_node",
    "main",
    "run",
]

EXPORT_FORMAT = "hashfed-export/v1"
STATE_FORMAT = "hashfed-verify-log-state/v1"
MIB = 1024 * 1024
CALL_TIMEOUT_S = 15.0
STREAM_TIMEOUT_S = 3600.0  # a whole log; a node that stalls longer is given up on


# --- what one origin's audit found -------------------------------------------------------


@dataclass(frozen=True)
class CheckpointReport:
    size: int
    root: bytes
    witnesses: tuple[str, ...]
    other_lines: int  # signature lines besides the origin's (cosignatures, checked or not)


@dataclass
class OriginReport:
    """The summary of one origin that verified."""

    origin: str
    key: str
    minimum: int
    witnesses_given: bool = False
    entries: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"ADD": 0, "RETRACT": 0, "OPINION": 0})
    checkpoints: list[CheckpointReport] = field(default_factory=list)
    newest: SignedCheckpoint | None = None
    witnessed: int | None = None  # size of the newest checkpoint meeting --min (when --min > 0)
    max_unwitnessed: int | None = None
    notes: list[str] = field(default_factory=list)  # further lines: state, proofs, warnings

    @property
    def text(self) -> str:
        c = self.counts
        lines = [
            f"OK: {self.origin}: {self.entries} entries ({c['ADD']} ADD, {c['RETRACT']} "
            f"retractions, {c['OPINION']} opinions), {len(self.checkpoints)} checkpoints "
            f"signed by {self.key}"
        ]
        if self.checkpoints:
            lines.append(
                "  every checkpoint's root was recomputed from the entries, so every pair of "
                f"the {len(self.checkpoints)} checkpoints is consistent (one append-only log)"
            )
        for cp in self.checkpoints:
            head = f"  checkpoint size {cp.size} root {cp.root.hex()[:16]}: "
            if not self.witnesses_given:
                lines.append(
                    f"{head}{cp.other_lines} cosignature lines, not checked (no --witness given)"
                )
                continue
            verdict = "meets" if len(cp.witnesses) >= self.minimum else "below"
            names = ", ".join(cp.witnesses) or "none"
            lines.append(
                f"{head}{len(cp.witnesses)} witnesses ({names}), {verdict} --min {self.minimum}"
            )
        if self.witnessed is not None and self.newest is not None:
            lines.append(f"  {_witnessed_line(self)}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


def _tail_text(start: int, size: int, minimum: int) -> str:
    count = size - start
    return (
        f"entries {start}..{size - 1} ({count} {'entry' if count == 1 else 'entries'}) are not "
        f"yet covered by a checkpoint with {minimum} witnesses"
    )


def _witnessed_line(report: OriginReport) -> str:
    """``witnessed up to size S``, and the unwitnessed tail after it (if any)."""
    assert report.witnessed is not None and report.newest is not None
    start, size = report.witnessed, report.newest.size
    line = f"witnessed up to size {start} (newest checkpoint meeting --min {report.minimum})"
    if start >= size:
        return f"{line}; no unwitnessed tail"
    limit = report.max_unwitnessed
    allowed = "no --max-unwitnessed limit" if limit is None else f"within --max-unwitnessed {limit}"
    return f"{line}; unwitnessed tail: {_tail_text(start, size, report.minimum)} ({allowed})"


@dataclass
class Result:
    """Everything one run found: summaries, failures, and the state to save on success."""

    reports: list[OriginReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def stdout(self) -> str:
        return "".join(r.text + "\n" for r in self.reports)

    @property
    def stderr(self) -> str:
        return "".join(f"FAIL: {f}\n" for f in self.failures)


@dataclass(frozen=True)
class Recorded:
    """The last checkpoint of an origin verified by an earlier run (from the state file)."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Policy:
    keys: dict[str, VerifierKey]
    witnesses: tuple[VerifierKey, ...]
    minimum: int
    state: dict[str, Recorded]
    max_unwitnessed: int | None = None


# --- auditing one origin -----------------------------------------------------------------


def _verify_checkpoints(
    origin: str, notes: Sequence[tuple[int | None, str]], policy: Policy, report: OriginReport
) -> list[SignedCheckpoint]:
    """Open every note with the origin's key; ascending sizes; verify witness cosignatures."""
    key = policy.keys[origin]
    verified: list[SignedCheckpoint] = []
    for number, (declared, note) in enumerate(notes, start=1):
        what = f"{origin} checkpoint {number}"
        signed = open_checkpoint(note, key, what)
        if declared is not None and declared != signed.size:
            fail(f"{what} is listed with size {declared} but its signed size is {signed.size}")
        if verified and signed.size <= verified[-1].size:
            previous = verified[-1]
            if signed.size == previous.size and signed.root != previous.root:
                fail(
                    f"{origin} EQUIVOCATION: two checkpoints of size {signed.size}, both signed "
                    f"by {key.text}, with roots {previous.root.hex()} and {signed.root.hex()}"
                )
            if signed.size == previous.size and signed.note.text == previous.note.text:
                continue  # the same checkpoint twice (e.g. newest listed separately)
            fail(
                f"{what} has size {signed.size} after one of size {previous.size}; expected "
                "checkpoints in strictly ascending size"
            )
        cosigned = verify_cosignatures(signed.note, policy.witnesses, what)
        names = tuple(witness_names(cosigned, origin))
        others = len(signed.note.lines) - 1
        report.checkpoints.append(CheckpointReport(signed.size, signed.root, names, others))
        verified.append(signed)
    return verified


def _audit_origin(
    origin: str,
    notes: Sequence[tuple[int | None, str]],
    entries: Iterable[bytes],
    policy: Policy,
    keep: Callable[[int], bool] = lambda index: False,
) -> tuple[OriginReport, dict[int, bytes], dict[int, bytes]]:
    """Audit one origin; return its report, the roots at checkpoint and recorded sizes, and the
    entries at the indices ``keep`` asks for (for the live proof checks)."""
    if origin not in policy.keys:
        fail(
            f"{origin}: no --key given for this origin; give its verifier key (obtained from "
            "the member) with --key, or audit only the origins you hold keys for with --origin"
        )
    key = policy.keys[origin]
    report = OriginReport(
        origin,
        key.text,
        policy.minimum,
        bool(policy.witnesses),
        max_unwitnessed=policy.max_unwitnessed,
    )
    checkpoints = _verify_checkpoints(origin, notes, policy, report)
    newest_size = checkpoints[-1].size if checkpoints else 0
    recorded = policy.state.get(origin)
    if recorded is not None and newest_size < recorded.size:
        fail(
            f"{origin} ROLLBACK: the newest checkpoint has size {newest_size}, but an earlier "
            f"audit verified a checkpoint of size {recorded.size} (root {recorded.root.hex()}); "
            "a log never shrinks"
        )

    want = {cp.size: cp.root for cp in checkpoints}
    roots: dict[int, bytes] = {0: EMPTY_ROOT}
    kept: dict[int, bytes] = {}
    tree = TreeBuilder()
    previous = 0

    def check_root() -> None:
        nonlocal previous
        size, root = tree.size, tree.root()
        roots[size] = root
        if size in want:
            if root != want[size]:
                fail(
                    f"{origin}: entries 0..{size - 1} give root {root.hex()}, but the checkpoint "
                    f"of size {size} signed by {key.name} has root {want[size].hex()}: one of "
                    f"entries {previous}..{size - 1} is not what the origin signed"
                )
            previous = size
        if recorded is not None and size == recorded.size and root != recorded.root:
            fail(
                f"{origin} REWRITE: the log's root at size {size} is now {root.hex()}, but an "
                f"earlier audit verified root {recorded.root.hex()} at that size; the history "
                "was rewritten"
            )

    check_root()
    for index, entry in enumerate(entries):
        what = f"{origin} entry {index}"
        if index >= newest_size:
            fail(
                f"{what} lies beyond the newest checkpoint (size {newest_size}); expected no "
                "entries a signed checkpoint does not cover"
            )
        if len(entry) > MAX_ENTRY_BYTES:
            fail(f"{what} is {len(entry)} bytes; expected at most {MAX_ENTRY_BYTES}")
        try:
            info = read_entry(entry, what)
        except VerificationError as exc:
            if str(exc).startswith(what):
                raise
            fail(f"{what} is not a valid hashfed.v1.Entry: {exc}")
        if info.origin != origin:
            fail(f"{what} names origin {show(info.origin)} in its field 1; expected {origin!r}")
        if info.statement == "none":
            fail(f"{what} carries no statement; expected ADD, RETRACT or OPINION")
        report.counts[info.statement] += 1
        if keep(index):
            kept[index] = entry
        tree.append(leaf_hash(entry))
        check_root()
    if tree.size < newest_size:
        fail(
            f"{origin}: only {tree.size} entries, but the newest checkpoint has size "
            f"{newest_size}; expected every entry it covers"
        )
    report.entries = tree.size
    if checkpoints:
        report.newest = checkpoints[-1]
    else:
        report.notes.append("no checkpoint: nothing signed to verify")
    if policy.minimum > 0:
        _check_witnessed(report, policy)
    if recorded is not None:
        report.notes.append(
            f"state: newest size {newest_size} >= recorded {recorded.size}, and the root at "
            f"size {recorded.size} is the recorded one (no rollback, no rewrite)"
        )
    return report, roots, kept


def _check_witnessed(report: OriginReport, policy: Policy) -> None:
    """``--min``: some checkpoint must meet it, and the entries after the newest that does (the
    unwitnessed tail, which honest witnesses cosign after they sync) must not exceed
    ``--max-unwitnessed``."""
    origin, minimum = report.origin, policy.minimum
    meeting = [cp for cp in report.checkpoints if len(cp.witnesses) >= minimum]
    if not meeting:
        best = max(report.checkpoints, key=lambda cp: len(cp.witnesses), default=None)
        most = (
            "there is no checkpoint"
            if best is None
            else f"the most any has is {len(best.witnesses)} "
            f"({', '.join(best.witnesses) or 'none'}, on the checkpoint of size {best.size})"
        )
        fail(
            f"{origin} NOT WITNESSED: no checkpoint has valid cosignatures by at least {minimum} "
            f"of the given witnesses other than the origin ({most}); expected at least one "
            f"checkpoint meeting --min {minimum}"
        )
    assert report.newest is not None
    start, size = meeting[-1].size, report.newest.size
    report.witnessed = start
    limit = policy.max_unwitnessed
    if limit is not None and size - start > limit:
        fail(
            f"{origin} UNWITNESSED TAIL TOO LONG: witnessed up to size {start}, but "
            f"{_tail_text(start, size, minimum)}; expected at most {limit} "
            f"(--max-unwitnessed {limit})"
        )


# --- export folders ------------------------------------------------------------------------


def _jsonl(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSON Lines file, one per line, each line ending in a newline."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc}")
    with handle:
        for number, line in enumerate(handle, start=1):
            where = f"{what} line {number}"
            if not line.endswith(b"\n"):
                fail(f"{where} does not end with a newline; expected complete lines")
            yield number, require_object(load_json(line[:-1], where), where, ())


def _exact(record: dict[str, Any], where: str, members: tuple[str, ...]) -> None:
    if set(record) != set(members):
        fail(
            f"{where} has members {', '.join(sorted(record))}; expected exactly "
            f"{', '.join(members)}"
        )


def _export_entries(folder: Path, origin: str) -> Iterator[bytes]:
    what = f"{origin}/entries.jsonl"
    for number, record in _jsonl(folder / origin / "entries.jsonl", what):
        where = f"{what} line {number}"
        _exact(record, where, ("index", "entry"))
        index = require_int(record["index"], f"{where} index")
        if index != number - 1:
            fail(f"{where} has index {index}; expected {number - 1} (log order, no gaps)")
        yield b64decode_canonical(require_str(record["entry"], f"{where} entry"), f"{where} entry")


def _export_checkpoints(folder: Path, origin: str) -> list[tuple[int | None, str]]:
    what = f"{origin}/checkpoints.jsonl"
    notes: list[tuple[int | None, str]] = []
    for number, record in _jsonl(folder / origin / "checkpoints.jsonl", what):
        where = f"{what} line {number}"
        _exact(record, where, ("size", "note"))
        size = require_int(record["size"], f"{where} size")
        notes.append((size, require_str(record["note"], f"{where} note")))
    return notes


def _read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / "export.json"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc}; expected a hashfed-export/v1 folder")
    manifest = require_object(load_json(raw, "export.json"), "export.json", ("format", "origins"))
    if manifest["format"] != EXPORT_FORMAT:
        fail(f"export.json format is {show_json(manifest['format'])}; expected {EXPORT_FORMAT!r}")
    listed = manifest["origins"]
    if not isinstance(listed, list):
        fail(f"export.json origins is {show_json(listed)}; expected a JSON array")
    origins: dict[str, dict[str, Any]] = {}
    for position, value in enumerate(listed):
        where = f"export.json origins[{position}]"
        item = require_object(value, where, ("origin", "size"))
        name = require_str(item["origin"], f"{where} origin")
        if not is_origin_name(name):
            fail(f"{where} origin {show(name)} is not an origin name (lower-case DNS name)")
        if name in origins:
            fail(f"export.json lists origin {name} twice")
        require_int(item["size"], f"{where} size")
        origins[name] = item
    return origins


def audit_export(
    folder: Path,
    keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey] = (),
    minimum: int = 0,
    origin: str | None = None,
    state: dict[str, Recorded] | None = None,
    max_unwitnessed: int | None = None,
) -> Result:
    """Audit the origins of an export folder (or just ``origin``)."""
    policy = _policy(keys, witnesses, minimum, state, max_unwitnessed)
    result = Result()
    try:
        manifest = _read_manifest(folder)
    except VerificationError as exc:
        result.failures.append(str(exc))
        return result
    names = _selected(origin, manifest, policy, "exported", result)
    if origin is not None and origin not in manifest and origin not in policy.state:
        result.failures.append(
            f"origin {origin!r} is not in the export (it holds {', '.join(manifest) or 'none'})"
        )
    for name in names:
        try:
            notes = _export_checkpoints(folder, name)
            report, _, _ = _audit_origin(name, notes, _export_entries(folder, name), policy)
            declared = manifest[name]["size"]
            if declared != report.entries:
                fail(
                    f"export.json says {name} has {declared} entries; the export holds "
                    f"{report.entries}"
                )
            listed = manifest[name].get("verifier_key")
            if listed is not None and listed != policy.keys[name].text:
                report.notes.append(
                    f"note: export.json lists verifier key {show(listed)} for {name}, not the "
                    "--key given (only --key was used)"
                )
            result.reports.append(report)
        except VerificationError as exc:
            result.failures.append(str(exc))
    return result


def _selected(
    origin: str | None, present: Iterable[str], policy: Policy, absent: str, result: Result
) -> list[str]:
    """The origins to audit (``origin``, else every one present), in order. An origin an
    earlier run verified (``--state``) that is no longer present is a rollback: every recorded
    one without ``--origin``, ``origin`` with it. Auditing nothing at all fails too."""
    available = list(present)
    expected = list(policy.state) if origin is None else [origin]
    for name in sorted(expected):
        recorded = policy.state.get(name)
        if recorded is not None and name not in available:
            result.failures.append(
                f"{name} ROLLBACK: {name} was verified at size {recorded.size} before (root "
                f"{recorded.root.hex()}) but is no longer {absent}; a log never disappears"
            )
    if origin is not None:
        return [origin] if origin in available else []
    if not available:
        result.failures.append(f"nothing to audit: no origin is {absent}")
    return available


# --- live nodes ----------------------------------------------------------------------------


def _stubs() -> tuple[Any, Any]:
    """hashfed's generated protocol stubs (node._proto only, never the node's logic)."""
    try:
        from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
    except ImportError:
        sys.path.append(str(Path(__file__).resolve().parent.parent))
        from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
    return federation_pb2, federation_pb2_grpc


class NodeClient:
    """A FederationService client authenticated as an auditor (mutual TLS, pinned root)."""

    def __init__(self, address: str, auditor_home: Path, card: dict[str, Any]) -> None:
        import grpc

        self._grpc = grpc
        self.pb, pb_grpc = _stubs()
        keys = auditor_home / "keys"
        credentials = grpc.ssl_channel_credentials(
            root_certificates=card["tls_certificate"].encode(),
            private_key=(keys / "tls.key").read_bytes(),
            certificate_chain=(keys / "tls.crt").read_bytes(),
        )
        self.name = card["origin"]
        self.channel = grpc.secure_channel(
            address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", self.name),
                ("grpc.max_receive_message_length", 8 * MIB),
            ],
        )
        self.stub = pb_grpc.FederationServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: str, thunk: Callable[[], Any]) -> Any:
        try:
            return thunk()
        except self._grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "?"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            fail(f"node {self.name}: {method} failed ({code}): {show(details, 300)}")

    def origins(self) -> dict[str, str]:
        response = self._call(
            "ListOrigins",
            lambda: self.stub.ListOrigins(self.pb.ListOriginsRequest(), timeout=CALL_TIMEOUT_S),
        )
        return {item.origin: item.checkpoint for item in response.origins}

    def checkpoints(self, origin: str) -> list[str]:
        def fetch() -> list[str]:
            request = self.pb.ListCheckpointsRequest(origin=origin, min_size=0)
            return [
                note
                for batch in self.stub.ListCheckpoints(request, timeout=STREAM_TIMEOUT_S)
                for note in batch.checkpoints
            ]

        result: list[str] = self._call("ListCheckpoints", fetch)
        return result

    def entries(self, origin: str, size: int) -> Iterator[bytes]:
        if size == 0:
            return
        request = self.pb.StreamEntriesRequest(origin=origin, start_index=0, end_index=size)
        stream = self._call(
            "StreamEntries", lambda: self.stub.StreamEntries(request, timeout=STREAM_TIMEOUT_S)
        )
        at = 0
        batches = iter(stream)
        while True:
            batch = self._call("StreamEntries", lambda: next(batches, None))
            if batch is None:
                break
            if batch.start_index != at:
                fail(
                    f"node {self.name}: StreamEntries batch for {origin} starts at "
                    f"{batch.start_index}; expected {at} (batches must follow one another)"
                )
            for entry in batch.entries:
                if at >= size:
                    fail(f"node {self.name}: StreamEntries sent {origin} entries beyond {size}")
                yield bytes(entry)
                at += 1

    def consistency(self, origin: str, old: int, new: int) -> list[bytes]:
        request = self.pb.GetConsistencyProofRequest(origin=origin, old_size=old, new_size=new)
        response = self._call(
            "GetConsistencyProof",
            lambda: self.stub.GetConsistencyProof(request, timeout=CALL_TIMEOUT_S),
        )
        return [bytes(h) for h in response.hashes]

    def inclusion(self, origin: str, index: int, size: int) -> tuple[bytes, list[bytes], str]:
        request = self.pb.GetInclusionProofRequest(origin=origin, entry_index=index, tree_size=size)
        response = self._call(
            "GetInclusionProof",
            lambda: self.stub.GetInclusionProof(request, timeout=CALL_TIMEOUT_S),
        )
        return bytes(response.entry), [bytes(h) for h in response.hashes], response.checkpoint


def _sampled(size: int) -> list[int]:
    """The entries whose inclusion proofs are checked: first, middle, last."""
    return sorted({0, size // 2, size - 1}) if size else []


def _check_proofs(
    client: NodeClient,
    report: OriginReport,
    roots: dict[int, bytes],
    kept: dict[int, bytes],
    policy: Policy,
) -> None:
    """Ask the node's proof service for proofs and check them against the verified roots."""
    origin, newest = report.origin, report.newest
    if newest is None or newest.size == 0:
        report.notes.append("proofs: none to ask for (empty log)")
        return
    n = newest.size
    recorded = policy.state.get(origin)
    earlier = [cp.size for cp in report.checkpoints if 0 < cp.size < n]
    old = recorded.size if recorded is not None and recorded.size > 0 else None
    if old is None and earlier:
        old = earlier[-1]
    if old is None:
        report.notes.append("proofs: no earlier size to prove consistency from")
    else:
        proof = client.consistency(origin, old, n)
        try:
            verify_consistency(old, n, proof, roots[old], newest.root)
        except VerificationError as exc:
            fail(f"{origin}: the node's consistency proof from {old} to {n} is refused: {exc}")
        report.notes.append(f"proofs: consistency proof {old} -> {n} from the node verified")
    key = policy.keys[origin]
    for index in _sampled(n):
        entry, hashes, note = client.inclusion(origin, index, n)
        what = f"{origin}: the node's inclusion proof of entry {index} in size {n}"
        if entry != kept[index]:
            fail(f"{what} carries other entry bytes than the log the node streamed")
        try:
            verify_inclusion(leaf_hash(entry), index, n, hashes, newest.root)
            signed = open_checkpoint(note, key, "inclusion proof checkpoint")
        except VerificationError as exc:
            fail(f"{what} is refused: {exc}")
        if signed.size != n or signed.root != newest.root:
            fail(
                f"{what} comes with a checkpoint of size {signed.size} root "
                f"{signed.root.hex()}; expected size {n} root {newest.root.hex()}"
            )
    report.notes.append(
        f"proofs: inclusion of entries {', '.join(map(str, _sampled(n)))} from the node verified"
    )


def _size_line(note: str) -> int | None:
    """The (unverified) size line of a checkpoint note, to decide how far to stream."""
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() and len(lines[1]) < 20 else None


def audit_node(
    address: str,
    auditor_home: Path,
    card: dict[str, Any],
    keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey] = (),
    minimum: int = 0,
    origin: str | None = None,
    state: dict[str, Recorded] | None = None,
    max_unwitnessed: int | None = None,
) -> Result:
    """Audit the origins a live node serves (or just ``origin``), as an auditor."""
    policy = _policy(keys, witnesses, minimum, state, max_unwitnessed)
    result = Result()
    client = NodeClient(address, auditor_home, card)
    try:
        served = client.origins()
        names = _selected(origin, sorted(served), policy, f"served by node {client.name}", result)
        if origin is not None and origin not in served and origin not in policy.state:
            fail(f"origin {origin!r} is not served by node {client.name}")
        for name in names:
            try:
                listed = client.checkpoints(name)
                notes: list[tuple[int | None, str]] = [(None, text) for text in listed]
                notes.append((None, served[name]))
                notes.sort(key=lambda item: _size_line(item[1]) or 0)
                size = max((_size_line(text) or 0 for _, text in notes), default=0)
                samples = set(_sampled(size))
                report, roots, kept = _audit_origin(
                    name, notes, client.entries(name, size), policy, samples.__contains__
                )
                _check_proofs(client, report, roots, kept, policy)
                result.reports.append(report)
            except VerificationError as exc:
                result.failures.append(str(exc))
    except VerificationError as exc:
        result.failures.append(str(exc))
    finally:
        client.close()
    return result


# --- state file ----------------------------------------------------------------------------


def load_state(path: Path) -> dict[str, Recorded]:
    """The recorded checkpoints; an absent file is an empty state (first run)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    data = require_object(load_json(raw, "state file"), "state file", ("format", "origins"))
    if data["format"] != STATE_FORMAT:
        fail(f"state file format is {show_json(data['format'])}; expected {STATE_FORMAT!r}")
    origins = require_object(data["origins"], "state file origins", ())
    state = {}
    for name, value in origins.items():
        where = f"state file origins[{name!r}]"
        item = require_object(value, where, ("size", "root", "note"))
        state[name] = Recorded(
            size=require_int(item["size"], f"{where} size"),
            root=hex_hash(item["root"], f"{where} root"),
            note=require_str(item["note"], f"{where} note"),
        )
    return state


def save_state(path: Path, previous: dict[str, Recorded], result: Result) -> None:
    """Record the newest verified checkpoint per audited origin; atomic (rename)."""
    state = dict(previous)
    for report in result.reports:
        if report.newest is not None:
            state[report.origin] = Recorded(
                report.newest.size, report.newest.root, report.newest.note_text
            )
    document = {
        "format": STATE_FORMAT,
        "origins": {
            name: {"size": r.size, "root": r.root.hex(), "note": r.note}
            for name, r in sorted(state.items())
        },
    }
    folder = path.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- command line --------------------------------------------------------------------------


def _policy(
    keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey],
    minimum: int,
    state: dict[str, Recorded] | None,
    max_unwitnessed: int | None = None,
) -> Policy:
    by_name: dict[str, VerifierKey] = {}
    for key in keys:
        if key.name in by_name and by_name[key.name] != key:
            raise ValueError(f"two different --key values for origin {key.name}")
        by_name[key.name] = key
    return Policy(by_name, tuple(dict.fromkeys(witnesses)), minimum, state or {}, max_unwitnessed)


def _key_texts(value: str) -> list[str]:
    """One key, or for ``@FILE`` one key per non-blank line of FILE."""
    if not value.startswith("@"):
        return [value]
    text = read_key_file(value)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise argparse.ArgumentTypeError(f"key file {value[1:]!r} holds no key")
    return lines


def _keys_argument(parse: Callable[[str], VerifierKey]) -> Callable[[str], list[VerifierKey]]:
    def convert(value: str) -> list[VerifierKey]:
        try:
            return [parse(text) for text in _key_texts(value)]
        except VerificationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Audit hashfed logs from an export folder or a live node.",
        epilog="Exit codes: 0 every origin verified, 1 verification failed, 2 usage error.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--export", metavar="DIR", type=Path, help="a hashfed-export/v1 folder")
    source.add_argument("--node", metavar="HOST:PORT", help="a node's federation service")
    parser.add_argument("--auditor-home", metavar="DIR", type=Path, help="auditor's home (TLS)")
    parser.add_argument("--node-card", metavar="FILE", type=Path, help="the node's member card")
    parser.add_argument("--origin", metavar="O", help="audit only this origin")
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        required=True,
        type=_keys_argument(parse_verifier_key),
        metavar="VKEY",
        help="an origin's verifier key name+keyid+base64(0x01||key), or @FILE; repeatable",
    )
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        type=_keys_argument(parse_witness_key),
        metavar="WKEY",
        help="a witness's cosignature key name+keyid+base64(0x04||key), or @FILE; repeatable",
    )
    parser.add_argument(
        "--min",
        type=count_argument,
        default=0,
        metavar="N",
        help="each origin needs a checkpoint cosigned by N distinct given witnesses; the entries "
        "after the newest such checkpoint are reported as its unwitnessed tail (default 0)",
    )
    parser.add_argument(
        "--max-unwitnessed",
        type=count_argument,
        default=None,
        metavar="K",
        help="with --min: fail when an origin's unwitnessed tail is longer than K entries "
        "(default: no limit)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        type=Path,
        help="state file (rollback check: a smaller, rewritten or vanished log fails)",
    )
    return parser


def _read_card(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    try:
        card = load_json(path.read_bytes(), f"member card {path}")
    except OSError as exc:
        parser.error(f"cannot read member card {str(path)!r}: {exc}")
    except VerificationError as exc:
        parser.error(str(exc))
    if not (
        isinstance(card, dict)
        and isinstance(card.get("origin"), str)
        and isinstance(card.get("tls_certificate"), str)
    ):
        parser.error(f"member card {str(path)!r} needs string members origin and tls_certificate")
    return card


def run(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line; return ``(exit code, stdout text, stderr text)``.

    Usage errors raise ``SystemExit(2)`` (argparse), as on the command line.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    keys = [key for group in args.key for key in group]
    witnesses = [key for group in args.witness for key in group]
    try:
        _policy(keys, witnesses, args.min, None)
    except ValueError as exc:
        parser.error(str(exc))
    if args.min > len({w.name for w in witnesses}):
        parser.error(f"--min {args.min} can never be met by {len(witnesses)} --witness key(s)")
    if args.max_unwitnessed is not None and args.min == 0:
        parser.error(
            "--max-unwitnessed needs --min N (N >= 1): with --min 0 nothing is unwitnessed"
        )
    state: dict[str, Recorded] = {}
    if args.state is not None:
        if args.state.is_dir():
            parser.error(f"--state {str(args.state)!r} is a folder; expected a file")
        try:
            state = load_state(args.state)
        except OSError as exc:
            parser.error(f"cannot read state file {str(args.state)!r}: {exc}")
        except VerificationError as exc:
            return 1, "", f"FAIL: state file {args.state} is unusable: {exc}\n"
    if args.export is not None:
        if args.auditor_home is not None or args.node_card is not None:
            parser.error("--auditor-home and --node-card go with --node, not --export")
        if not args.export.is_dir():
            parser.error(f"--export {str(args.export)!r} is not a folder")
        result = audit_export(
            args.export, keys, witnesses, args.min, args.origin, state, args.max_unwitnessed
        )
    else:
        if args.auditor_home is None or args.node_card is None:
            parser.error("--node needs --auditor-home DIR and --node-card FILE")
        card = _read_card(parser, args.node_card)
        for name in ("tls.key", "tls.crt"):
            if not (args.auditor_home / "keys" / name).is_file():
                parser.error(f"{args.auditor_home / 'keys' / name} not found (auditor identity)")
        result = audit_node(
            args.node,
            args.auditor_home,
            card,
            keys,
            witnesses,
            args.min,
            args.origin,
            state,
            args.max_unwitnessed,
        )
    if result.ok and args.state is not None:
        save_state(args.state, state, result)
    return (0 if result.ok else 1), result.stdout, result.stderr


def main(argv: list[str] | None = None) -> int:
    protect_output()
    code, out, err = run(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main())
