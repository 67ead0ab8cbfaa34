#!/usr/bin/env python3
"""Prove an origin's equivocation offline from a hashfed evidence file and its verifier key alone.

Usage::

    verify_evidence.py EVIDENCE --key VERIFIER_KEY
    verify_evidence.py EVIDENCE --key @FILE     # the verifier key is read from FILE
    verify_evidence.py - --key ...              # the evidence is read from standard input

``EVIDENCE`` is what ``hashfed evidence export ID`` writes (``hashfed-evidence/v1``,
docs/audit.md): two checkpoints signed by one origin that no append-only log can produce.
``VERIFIER_KEY`` is the origin's C2SP verifier key, obtained from the member out of band; the
evidence carries no key, and nothing in it is trusted but what the key's signatures cover.

What is proven, per ``kind``:

- ``same-size-different-roots``: both notes verify with the key, name the origin, have the
  same tree size and different roots. One tree size has exactly one root, so the origin signed
  two different logs.
- ``inconsistent-smaller`` / ``inconsistent-larger``: both notes verify, their sizes are
  ``m < n`` (either note may be the smaller), and ``detail.consistency_proof`` verifies as an
  RFC 9162 consistency proof from ``(m, detail.prefix_root)`` to ``(n, signed root of n)``
  while ``detail.prefix_root`` differs from the signed root of ``m``. The proof binds
  ``prefix_root`` to the signed larger tree: the first ``m`` leaves of that tree hash to
  ``prefix_root``, not to the root the origin signed for size ``m``.

Fields that only describe the evidence (``id``, ``relayed_by``, ``detected_at_ms``) are checked
for type but prove nothing; the sizes and roots in ``detail``, where present, must equal the
signed ones.

Output and exit codes:

- ``0``: ``PROVEN: <origin> equivocated (<kind>): ...`` on standard output, then what was shown.
- ``1``: ``FAIL: <reason>`` on standard error: the file does not prove misbehaviour (altered or
  forged, signed by another key, roots actually consistent, malformed).
- ``2``: usage error: missing arguments, unreadable file, malformed key.

In-process use: :func:`verify_evidence` returns a :class:`Proven` or raises
:class:`VerificationError`; :func:`check_evidence` returns ``(exit code, report text)``.

Imports only the standard library, ``cryptography`` and ``auditlib/`` beside it (same rule):
none of the node's own code.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if str(Path(__file__).resolve().parent) not in sys.path:  # auditlib/ sits beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditlib.cli import add_key_option, print_report, protect_output, read_input
from auditlib.errors import VerificationError, fail, show, show_json
from auditlib.keys import VerifierKey, parse_verifier_key
from auditlib.merkle import verify_consistency
from auditlib.notes import SignedCheckpoint, open_checkpoint
from auditlib.values import hex_hash, load_json, require_int, require_object, require_str

__all__ = [
    "EVIDENCE_FORMAT",
    "KINDS",
    "Proven",
    "VerificationError",
    "check_evidence",
    "main",
    "verify_evidence",
]

EVIDENCE_FORMAT = "hashfed-evidence/v1"
KINDS = ("same-size-different-roots", "inconsistent-smaller", "inconsistent-larger")
MEMBERS = (
    "format",
    "id",
    "origin",
    "kind",
    "first_checkpoint",
    "second_checkpoint",
    "detail",
    "relayed_by",
    "detected_at_ms",
)
MAX_PROOF_HASHES = 128  # a consistency proof between trees below 2^63 has at most ~126 hashes


@dataclass(frozen=True)
class Proven:
    """What an evidence file proved."""

    origin: str
    kind: str
    key: str
    first_size: int
    first_root: bytes
    second_size: int
    second_root: bytes
    prefix_root: bytes | None = None

    @property
    def report(self) -> str:
        head = f"PROVEN: {self.origin} equivocated ({self.kind}); both checkpoints verify with "
        lines = [head + self.key]
        lines.append(f"  first checkpoint:  size {self.first_size}, root {self.first_root.hex()}")
        lines.append(f"  second checkpoint: size {self.second_size}, root {self.second_root.hex()}")
        if self.prefix_root is None:
            lines.append(
                f"  one tree size ({self.first_size}) has two signed roots: the origin signed "
                "two different logs"
            )
        else:
            m, n = sorted((self.first_size, self.second_size))
            lines.append(
                f"  the consistency proof shows the signed tree of size {n} begins with a tree of "
                f"size {m} whose root is {self.prefix_root.hex()}, not the root the origin signed "
                f"for size {m}: no append-only log has both checkpoints"
            )
        return "\n".join(lines)


def _note(data: dict[str, Any], name: str, key: VerifierKey, origin: str) -> SignedCheckpoint:
    what = name.replace("_", " ")
    signed = open_checkpoint(require_str(data[name], f"evidence {name}"), key, what)
    if signed.checkpoint.origin != origin:
        fail(f"{what} names origin {show(signed.checkpoint.origin)}; expected {origin!r}")
    return signed


def _detail_matches(detail: dict[str, Any], name: str, want: int | bytes) -> None:
    """A size or root that ``detail`` states must be the signed one (it proves nothing else)."""
    if name not in detail:
        return
    if isinstance(want, bytes):
        got: int | bytes = hex_hash(detail[name], f"evidence detail.{name}")
        shown = want.hex()
    else:
        got = require_int(detail[name], f"evidence detail.{name}")
        shown = str(want)
    if got != want:
        fail(
            f"evidence detail.{name} is {show_json(detail[name])}; the signed checkpoints say "
            f"{shown}"
        )


def verify_evidence(evidence: bytes, key: VerifierKey | str) -> Proven:
    """Verify an evidence file's bytes against the origin's key; raise unless it proves it."""
    if isinstance(key, str):
        key = parse_verifier_key(key)
    data = require_object(load_json(evidence, "evidence"), "evidence", MEMBERS)
    unknown = sorted(set(data) - set(MEMBERS))
    if unknown:
        fail(
            f"evidence has unknown member(s) {', '.join(show(k) for k in unknown)}; expected "
            f"only {', '.join(MEMBERS)}"
        )
    if data["format"] != EVIDENCE_FORMAT:
        fail(f"evidence format is {show_json(data['format'])}; expected {EVIDENCE_FORMAT!r}")
    require_int(data["id"], "evidence id")
    require_int(data["detected_at_ms"], "evidence detected_at_ms", 0, 2**63 - 1)
    if data["relayed_by"] is not None:
        require_str(data["relayed_by"], "evidence relayed_by")
    origin = require_str(data["origin"], "evidence origin")
    if origin != key.name:
        fail(
            f"evidence origin {show(origin)} is not the verifier key's name; expected "
            f"{key.name!r} (give the key of the origin the evidence is about)"
        )
    kind = require_str(data["kind"], "evidence kind")
    if kind not in KINDS:
        fail(f"evidence kind is {show(kind)}; expected one of {', '.join(KINDS)}")
    detail = data["detail"]
    if not isinstance(detail, dict):
        fail(f"evidence detail is {show_json(detail)}; expected a JSON object")

    first = _note(data, "first_checkpoint", key, origin)
    second = _note(data, "second_checkpoint", key, origin)
    proven = Proven(
        origin=origin,
        kind=kind,
        key=key.text,
        first_size=first.size,
        first_root=first.root,
        second_size=second.size,
        second_root=second.root,
    )
    if kind == "same-size-different-roots":
        if first.size != second.size:
            fail(
                f"the checkpoints have sizes {first.size} and {second.size}; "
                "same-size-different-roots needs equal sizes"
            )
        if first.root == second.root:
            fail(
                f"both checkpoints of size {first.size} have the same root "
                f"{first.root.hex()}: no equivocation"
            )
        _detail_matches(detail, "size", first.size)
        _detail_matches(detail, "first_root", first.root)
        _detail_matches(detail, "second_root", second.root)
        return proven

    if first.size == second.size:
        fail(
            f"both checkpoints have size {first.size}; {kind} needs two different sizes "
            "(use same-size-different-roots for equal sizes)"
        )
    smaller, larger = sorted((first, second), key=lambda c: c.size)
    m, n = smaller.size, larger.size
    if m == 0:
        fail("the smaller checkpoint has size 0; every tree is consistent with the empty tree")
    require_object(detail, "evidence detail", ("prefix_root", "consistency_proof"))
    prefix_root = hex_hash(detail["prefix_root"], "evidence detail.prefix_root")
    proof_json = detail["consistency_proof"]
    if not isinstance(proof_json, list) or len(proof_json) > MAX_PROOF_HASHES:
        fail(
            f"evidence detail.consistency_proof is {show_json(proof_json)}; expected a JSON "
            f"array of at most {MAX_PROOF_HASHES} hex hashes"
        )
    proof = [
        hex_hash(item, f"evidence detail.consistency_proof[{position}]")
        for position, item in enumerate(proof_json)
    ]
    _detail_matches(detail, "smaller_size", m)
    _detail_matches(detail, "smaller_root", smaller.root)
    _detail_matches(detail, "larger_size", n)
    _detail_matches(detail, "larger_root", larger.root)
    try:
        verify_consistency(m, n, proof, prefix_root, larger.root)
    except VerificationError as exc:
        fail(
            f"the consistency proof does not bind detail.prefix_root to the signed tree of "
            f"size {n}: {exc}"
        )
    if prefix_root == smaller.root:
        fail(
            f"detail.prefix_root equals the signed root of size {m}: the checkpoints of sizes "
            f"{m} and {n} are consistent, so this is no evidence of equivocation"
        )
    return Proven(**{**proven.__dict__, "prefix_root": prefix_root})


def check_evidence(evidence: bytes, key: VerifierKey | str) -> tuple[int, str]:
    """Return ``(0, "PROVEN: ...")`` or ``(1, "FAIL: ...")``: what the command line would do."""
    try:
        proven = verify_evidence(evidence, key)
    except VerificationError as exc:
        return 1, f"FAIL: {exc}"
    return 0, proven.report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Prove an origin's equivocation offline from a hashfed evidence file.",
        epilog="Exit codes: 0 misbehaviour proven, 1 not proven (FAIL: reason), 2 usage error.",
    )
    parser.add_argument("evidence", metavar="EVIDENCE", help="evidence JSON file, or - for stdin")
    add_key_option(parser)
    args = parser.parse_args(argv)
    protect_output()
    evidence = read_input(parser, args.evidence, "evidence")
    return print_report(*check_evidence(evidence, args.key))


if __name__ == "__main__":
    sys.exit(main())
