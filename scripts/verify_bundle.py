#!/usr/bin/env python3
"""Check one hashfed provenance bundle offline, as an auditor would.

Usage::

    verify_bundle.py BUNDLE --key VERIFIER_KEY
    verify_bundle.py BUNDLE --key @FILE        # the verifier key is read from FILE
    verify_bundle.py - --key ...               # the bundle is read from standard input
    verify_bundle.py BUNDLE --key VKEY --witness WKEY [--witness WKEY ...] --min N

``VERIFIER_KEY`` is the origin's C2SP signed-note verifier key,
``name+hex8(keyid)+base64(0x01 || Ed25519 public key)``, obtained from the member out of band.
A key inside the bundle is never used: a verifier does not trust a key that arrives inside the
thing it verifies (a bundle with a ``key`` field is rejected as having an unknown field).

The bundle is a JSON object (``hashfed-provenance-bundle/v1``) holding one log entry's exact bytes,
its RFC 9162 inclusion proof and the origin's signed checkpoint. The script checks that

1. the checkpoint is a C2SP signed note with a valid Ed25519 signature by the given key (signature
   lines by other keys are ignored; one by this key that does not verify fails the bundle);
2. the checkpoint's origin line, the bundle's ``origin`` and the key's name are the same;
3. the entry's leaf hash, at ``entry_index``, reproduces the checkpoint's root through the proof;
4. the entry (protobuf ``hashfed.v1.Entry``) names that same origin in its field 1, so it cannot
   be an entry of another log replayed into this one;
5. with ``--witness`` (witness cosignature keys ``name+keyid+base64(0x04 || key)``, repeatable,
   ``@FILE`` allowed) and ``--min N`` (default 0): the checkpoint's C2SP tlog-cosignature/v1 lines
   by the given witnesses verify (a line that claims a given witness's name and key id but does
   not verify fails the bundle; lines by other keys are ignored), and at least ``N`` distinct
   given witnesses other than the origin itself cosigned it (docs/audit.md).

Every base64 value must be canonical and every field well formed: two different byte strings never
verify as the same bundle, so changing any one byte of a valid bundle makes it fail.

It needs only ``cryptography``, the standard library and ``auditlib/`` beside it (the auditor
scripts' shared code, under the same rule), and deliberately does not import the ``node``
package: an auditor should not have to trust the node's code to check the node's claims.

Output and exit codes:

- ``0``: ``OK: <origin> entry <index> is included in checkpoint of size <size> signed by <name>``
  on standard output, then one indented line summarising the entry (and, with a witness policy,
  one saying which given witnesses cosigned).
- ``1``: ``FAIL: <reason>`` on standard error; the reason says what was wrong and what was
  expected.
- ``2``: usage error (argparse): missing or unknown arguments, an unreadable bundle or key file,
  or a malformed verifier key. Nothing about the bundle was checked.

In-process use (tests, other scripts): :func:`verify_bundle` returns a :class:`Verified` or raises
:class:`VerificationError`; :func:`check_bundle` returns ``(exit code, report text)``, the code
and text the command line would exit with and print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

if str(Path(__file__).resolve().parent) not in sys.path:  # auditlib/ sits beside this script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from auditlib.cli import (
    add_key_option,
    count_argument,
    key_argument,
    print_report,
    protect_output,
    read_input,
)
from auditlib.cosignatures import Cosigned, verify_cosignatures, witness_names
from auditlib.entry import EntryInfo, read_entry
from auditlib.errors import VerificationError, fail, shorten
from auditlib.errors import show as _show
from auditlib.keys import VerifierKey, parse_verifier_key, parse_witness_key
from auditlib.merkle import leaf_hash, verify_inclusion
from auditlib.notes import open_checkpoint, verify_note
from auditlib.values import b64decode_canonical, unique_keys

__all__ = [
    "VerificationError",
    "Verified",
    "VerifierKey",
    "check_bundle",
    "main",
    "parse_verifier_key",
    "parse_witness_key",
    "verify_bundle",
    "verify_inclusion",
    "verify_note",
]

BUNDLE_FORMAT = "hashfed-provenance-bundle/v1"
# The members in their canonical order: a bundle is exactly
# json.dumps(members in this order, separators=(",", ":"), ensure_ascii=True) + "\n",
# so that no byte of it can change (not even white space) and still verify.
BUNDLE_ORDER = ("format", "origin", "entry_index", "entry", "inclusion_proof", "checkpoint")
BUNDLE_KEYS = frozenset(BUNDLE_ORDER)
_fail = fail


def _json(value: object, limit: int = 80) -> str:
    """An untrusted JSON value as JSON text (ASCII only, so nothing reaches a terminal raw)."""
    return shorten(value.text if isinstance(value, _Negative) else json.dumps(value), limit)


# --- the bundle -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessReport:
    """The witness policy a bundle was checked against, and which given witnesses cosigned."""

    given: int  # distinct witness names given with --witness
    minimum: int
    witnesses: tuple[
        str, ...
    ]  # distinct given witnesses (not the origin) whose cosignature verified

    @property
    def line(self) -> str:
        names = ", ".join(self.witnesses) or "none"
        return (
            f"  witnesses: {len(self.witnesses)} of {self.given} given cosigned ({names}); "
            f"at least {self.minimum} required: met"
        )


@dataclass(frozen=True)
class Verified:
    """A bundle that verified: what was proven, for the OK line."""

    origin: str
    entry_index: int
    tree_size: int
    key_name: str
    entry: EntryInfo
    witnesses: WitnessReport | None = None

    @property
    def report(self) -> str:
        """The OK line, the entry's summary indented on a second line, then the witnesses."""
        text = (
            f"OK: {self.origin} entry {self.entry_index} is included in checkpoint of size "
            f"{self.tree_size} signed by {self.key_name}\n  entry: {self.entry.summary}"
        )
        if self.witnesses is not None:
            text += "\n" + self.witnesses.line
        return text


class _Negative:
    """A negative JSON integer, kept as its text so ``-0`` cannot pass for ``0``."""

    def __init__(self, text: str) -> None:
        self.text = text


def _parse_int(text: str) -> int | _Negative:
    return _Negative(text) if text.startswith("-") else int(text)


def _reject_constant(name: str) -> NoReturn:
    _fail(f"bundle has {name}; expected plain JSON numbers")


def _load_json(bundle: bytes) -> dict[str, Any]:
    try:
        text = bundle.decode("utf-8")
    except UnicodeDecodeError as exc:
        _fail(f"bundle is not valid UTF-8 ({exc}); expected a UTF-8 JSON object")
    try:
        data = json.loads(
            text,
            object_pairs_hook=unique_keys("bundle"),
            parse_int=_parse_int,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:
        _fail(f"bundle is not valid JSON ({exc}); expected a JSON object")
    if not isinstance(data, dict):
        _fail(f"bundle is a JSON {type(data).__name__}; expected a JSON object")
    unknown = sorted(set(data) - BUNDLE_KEYS)
    if unknown:
        hint = (
            " (the key is never taken from the bundle; give it with --key)"
            if "key" in unknown
            else ""
        )
        _fail(
            f"bundle has unknown key(s) {', '.join(_show(k) for k in unknown)}{hint}; "
            f"expected only {', '.join(sorted(BUNDLE_KEYS))}"
        )
    missing = sorted(BUNDLE_KEYS - set(data))
    if missing:
        _fail(
            f"bundle is missing {', '.join(missing)}; "
            f"expected all of {', '.join(sorted(BUNDLE_KEYS))}"
        )
    if isinstance(data["entry_index"], _Negative):
        return data  # refused with a precise reason when entry_index is read
    canonical = json.dumps(
        {name: data[name] for name in BUNDLE_ORDER}, separators=(",", ":"), ensure_ascii=True
    )
    if text != canonical + "\n":
        _fail(
            "bundle is not in canonical form; expected compact JSON with the members in the "
            f"order {', '.join(BUNDLE_ORDER)}, non-ASCII characters escaped and one final "
            "newline, exactly as `hashfed proof` writes it"
        )
    return data


def _require_str(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str):
        _fail(f"bundle {name} is {_json(value)}; expected a JSON string")
    return value


def verify_bundle(
    bundle: bytes,
    key: VerifierKey | str,
    witnesses: Sequence[VerifierKey | str] = (),
    min_witnesses: int = 0,
) -> Verified:
    """Verify a bundle's bytes against a verifier key (parsed, or its text); raise on any fault.

    With ``witnesses`` (witness keys, type 0x04) or ``min_witnesses``, the checkpoint's
    cosignature lines by those witnesses are verified (a line claiming one of them that does not
    verify fails) and at least ``min_witnesses`` distinct witnesses other than the origin must
    have cosigned.
    """
    if isinstance(key, str):
        key = parse_verifier_key(key)
    witness_keys = [parse_witness_key(w) if isinstance(w, str) else w for w in witnesses]
    if min_witnesses < 0:
        _fail(f"minimum number of witnesses is {min_witnesses}; expected 0 or more")
    data = _load_json(bundle)

    if data["format"] != BUNDLE_FORMAT:
        _fail(f"bundle format is {_json(data['format'])}; expected {json.dumps(BUNDLE_FORMAT)}")
    origin = _require_str(data, "origin")
    if origin != key.name:
        _fail(
            f"bundle origin {_show(origin)} is not the verifier key's name; expected {key.name!r}"
        )
    index = data["entry_index"]
    if isinstance(index, bool) or not isinstance(index, int):
        _fail(f"bundle entry_index is {_json(index)}; expected a JSON integer >= 0")
    entry = b64decode_canonical(_require_str(data, "entry"), "bundle entry")
    proof_json = data["inclusion_proof"]
    if not isinstance(proof_json, list):
        _fail(f"bundle inclusion_proof is {_json(proof_json)}; expected a JSON array of strings")
    proof = []
    for position, item in enumerate(proof_json):
        if not isinstance(item, str):
            _fail(f"inclusion proof hash {position} is {_json(item)}; expected a base64 string")
        proof.append(b64decode_canonical(item, f"inclusion proof hash {position}"))
    signed = open_checkpoint(_require_str(data, "checkpoint"), key)
    checkpoint = signed.checkpoint
    verify_inclusion(leaf_hash(entry), index, checkpoint.size, proof, checkpoint.root_hash)
    info = read_entry(entry)
    if info.origin != checkpoint.origin:
        _fail(
            f"entry's origin field is {_show(info.origin)}; expected {checkpoint.origin!r}, "
            "the log it is included in"
        )
    report = None
    if witness_keys or min_witnesses:
        report = _witness_policy(
            verify_cosignatures(signed.note, witness_keys), witness_keys, min_witnesses, key.name
        )
    return Verified(
        origin=checkpoint.origin,
        entry_index=index,
        tree_size=checkpoint.size,
        key_name=key.name,
        entry=info,
        witnesses=report,
    )


def _witness_policy(
    cosigned: list[Cosigned], given: list[VerifierKey], minimum: int, origin: str
) -> WitnessReport:
    names = witness_names(cosigned, origin)
    given_names = {w.name for w in given if w.name != origin}
    if len(names) < minimum:
        found = ", ".join(names) or "none"
        _fail(
            f"checkpoint has valid cosignatures by {len(names)} of the {len(given_names)} given "
            f"witnesses other than the origin ({found}); expected at least {minimum} (--min)"
        )
    return WitnessReport(given=len(given_names), minimum=minimum, witnesses=tuple(names))


def check_bundle(
    bundle: bytes,
    key: VerifierKey | str,
    witnesses: Sequence[VerifierKey | str] = (),
    min_witnesses: int = 0,
) -> tuple[int, str]:
    """Return ``(0, "OK: ...")`` or ``(1, "FAIL: ...")``: the exit code and text the CLI prints."""
    try:
        verified = verify_bundle(bundle, key, witnesses, min_witnesses)
    except VerificationError as exc:
        return 1, f"FAIL: {exc}"
    return 0, verified.report


# --- command line ---------------------------------------------------------------------------


def _witness_argument(value: str) -> VerifierKey:
    return key_argument(value, parse_witness_key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check a hashfed provenance bundle offline against the origin's verifier key.",
        epilog="Exit codes: 0 verified, 1 verification failed, 2 usage error.",
    )
    parser.add_argument("bundle", metavar="BUNDLE", help="bundle JSON file, or - for stdin")
    add_key_option(parser)
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        type=_witness_argument,
        metavar="WITNESS_KEY",
        help="a witness's cosignature key name+keyid+base64(0x04 || key), or @FILE; repeatable",
    )
    parser.add_argument(
        "--min",
        type=count_argument,
        default=0,
        metavar="N",
        help="require valid cosignatures by at least N distinct given witnesses (default 0)",
    )
    args = parser.parse_args(argv)
    if args.min > len({w.name for w in args.witness if w.name != args.key.name}):
        parser.error(
            f"--min {args.min} can never be met by {len(args.witness)} --witness key(s) "
            "(distinct witness names other than the origin)"
        )
    protect_output()
    bundle = read_input(parser, args.bundle, "bundle")
    return print_report(*check_bundle(bundle, args.key, args.witness, args.min))


if __name__ == "__main__":
    sys.exit(main())
