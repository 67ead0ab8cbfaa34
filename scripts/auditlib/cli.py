"""The command-line pieces the scripts share: ``--key``/``--witness`` values given as text or
``@FILE``, whole numbers, the input file (or ``-`` for standard input), the report's output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from auditlib.errors import VerificationError
from auditlib.keys import VerifierKey, parse_verifier_key


def read_key_file(value: str) -> str:
    """A key option's value as given, or for ``@FILE`` the whole text of FILE (UTF-8).

    An unreadable file is a usage error (:class:`argparse.ArgumentTypeError`).
    """
    if not value.startswith("@"):
        return value
    try:
        with open(value[1:], encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read key file {value[1:]!r}: {exc}") from exc


def key_argument(value: str, parse: Callable[[str], VerifierKey]) -> VerifierKey:
    """One key option's value (text or ``@FILE``) parsed with ``parse``; a bad key is a usage
    error (:class:`argparse.ArgumentTypeError` with the reason)."""
    try:
        return parse(read_key_file(value))
    except VerificationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _key_argument(value: str) -> VerifierKey:
    return key_argument(value, parse_verifier_key)


def add_key_option(parser: argparse.ArgumentParser) -> None:
    """``--key VERIFIER_KEY`` (required, once): the origin's note verifier key, text or @FILE."""
    parser.add_argument(
        "--key",
        required=True,
        type=_key_argument,
        metavar="VERIFIER_KEY",
        help="the origin's verifier key name+keyid+base64, or @FILE holding it",
    )


def count_argument(value: str) -> int:
    """An argparse ``type``: a whole number written with ASCII digits only (``--min N``)."""
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return int(value)


def protect_output() -> None:
    """Make standard output and error escape what they cannot encode instead of crashing."""
    for stream in (sys.stdout, sys.stderr):  # a name or reason must never crash the report
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def read_input(parser: argparse.ArgumentParser, path: str, what: str) -> bytes:
    """The bytes of the file ``path``, or of standard input for ``-``; unreadable: usage error."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        parser.error(f"cannot read {what} {path!r}: {exc}")


def print_report(code: int, report: str) -> int:
    """Print a check's report (to standard error when it failed); return its exit code."""
    print(report, file=sys.stderr if code else sys.stdout)
    return code
