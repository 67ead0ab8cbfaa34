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

One :class:`LogAuditor` runs these steps for every origin of a :class:`LogSource`: an export
folder (``verify_log_steps/export.py``) or a live node (``verify_log_steps/live.py``); the steps
themselves are in ``verify_log_steps/steps.py``. In-process use: :func:`audit_export` and
:func:`audit_node` return a :class:`Result`; :func:`run` returns ``(exit code, stdout text,
stderr text)``.


Imports only the standard library, ``cryptography``, the packages ``auditlib`` and
``verify_log_steps`` beside it and, for live mode, ``grpcio`` with hashfed's generated protocol
stubs (``node._proto``): none of the node's own logic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # auditlib/ sits beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditlib.cli import count_argument, protect_output, read_key_file
from auditlib.errors import VerificationError
from auditlib.keys import VerifierKey, parse_verifier_key, parse_witness_key
from auditlib.values import load_json
from verify_log_steps.export import EXPORT_FORMAT, ExportSource
from verify_log_steps.live import NodeClient, NodeSource
from verify_log_steps.report import OriginReport, Policy, Recorded, Result, make_policy
from verify_log_steps.source import LogSource
from verify_log_steps.state import STATE_FORMAT, load_state, save_state
from verify_log_steps.steps import (
    check_no_rollback,
    check_witnessed,
    note_state,
    replay_entries,
    select_origins,
    start_report,
    verify_checkpoints,
)

__all__ = [
    "EXPORT_FORMAT",
    "STATE_FORMAT",
    "LogAuditor",
    "LogSource",
    "OriginReport",
    "Result",
    "VerificationError",
    "audit_export",
    "audit_node",
    "main",
    "run",
]


class LogAuditor:
    """Audits every origin of one source (or only ``--origin``) with the keys of one policy."""

    def __init__(self, source: LogSource, policy: Policy) -> None:
        self.source = source
        self.policy = policy

    def run(self, origin: str | None = None) -> Result:
        """Each origin that verified gets a report, each one that did not one failure."""
        result = Result()
        try:
            present = self.source.origins()
        except VerificationError as exc:
            result.failures.append(str(exc))
            return result
        names = select_origins(origin, present, self.policy, self.source.absent, result)
        if origin is not None and origin not in present and origin not in self.policy.state:
            result.failures.append(self.source.not_held(origin))
        for name in names:
            try:
                result.reports.append(self.audit(name))
            except VerificationError as exc:
                result.failures.append(str(exc))
        return result

    def audit(self, origin: str) -> OriginReport:
        """The numbered steps of this module's docstring, in the order that decides which failure
        an origin reports when several things are wrong with it."""
        policy, recorded = self.policy, self.policy.state.get(origin)
        notes = self.source.checkpoints(origin)
        # 1. the origin's --key, then every checkpoint's signature, its size order and (3.) the
        #    given witnesses' cosignatures, checkpoint by checkpoint
        report = start_report(origin, policy)
        checkpoints = verify_checkpoints(origin, notes, policy, report)
        # 4. before reading any entry: the newest checkpoint is not below the recorded one
        check_no_rollback(origin, checkpoints, recorded)
        # 2. every entry, and the root after each one against the signed (and recorded) roots
        entries = self.source.entries(origin, notes)
        keep = self.source.wanted(notes).__contains__
        key = policy.keys[origin]
        roots, kept = replay_entries(origin, key, checkpoints, recorded, entries, report, keep)
        # 3. --min and --max-unwitnessed
        check_witnessed(report, policy)
        # 4. the state file's verdict
        note_state(report, recorded)
        # 5. the source's own claims: an export's declared sizes, a live node's proofs
        self.source.confirm(report, roots, kept, policy)
        return report


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
    policy = make_policy(keys, witnesses, minimum, state, max_unwitnessed)
    return LogAuditor(ExportSource(folder), policy).run(origin)


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
    policy = make_policy(keys, witnesses, minimum, state, max_unwitnessed)
    source = NodeSource(NodeClient(address, auditor_home, card))
    try:
        return LogAuditor(source, policy).run(origin)
    finally:
        source.close()


# --- command line --------------------------------------------------------------------------


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
        make_policy(keys, witnesses, args.min, None)
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
