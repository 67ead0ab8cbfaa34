"""Parsing existing hash lists for bulk import.

Accepted, detected from the first non-comment line:

- python-threatexchange's simple format: ``<signal_type> <value>`` per line;
- python-threatexchange's dataset CSV: a header whose first two columns are
  ``signal_type,signal_str`` (further columns are ignored);
- the PDQ reference tool's output: ``hash,quality,filename`` per line, no header.

Blank lines and lines starting with ``#`` are skipped. The whole file is parsed before anything is
published, so one malformed line stops the import with its line number and publishes nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from node.errors import HashfedError, ImportFormatError, InvalidInputError
from node.signals import ComputedSignal

# python-threatexchange names a file's MD5 by the media it came from; the digest is the same.
ALIASES = {"video_md5": "md5", "photo_md5": "md5"}


@dataclass(frozen=True)
class ImportedLine:
    line: int
    signal: ComputedSignal


def parse_hash_list(lines: Iterable[str]) -> list[ImportedLine]:
    numbered = [
        (n, line.rstrip("\r\n"))
        for n, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise ImportFormatError("the file holds no hashes", line=1)
    first = numbered[0][1]
    if first.replace(" ", "").lower().startswith("signal_type,signal_str"):
        return [_checked(n, _dataset_row, text) for n, text in numbered[1:]]
    if "," in first:
        return [_checked(n, _pdq_tool_row, text) for n, text in numbered]
    return [_checked(n, _simple_row, text) for n, text in numbered]


def _checked(n: int, parse: Callable[[str], ComputedSignal], text: str) -> ImportedLine:
    try:
        return ImportedLine(n, parse(text))
    except HashfedError as exc:
        raise ImportFormatError(str(exc), line=n) from exc


def _signal(type_name: str, value: str, quality: int | None = None) -> ComputedSignal:
    from node.hashing import get_signal_type  # its parsers; opening a node needs no hasher

    name = type_name.strip().lower()
    signal_type = get_signal_type(ALIASES.get(name, name))
    return ComputedSignal(signal_type.parse(value), quality)


def _simple_row(text: str) -> ComputedSignal:
    parts = text.split()
    if len(parts) != 2:
        raise InvalidInputError(
            f"expected '<signal_type> <value>', got {len(parts)} fields: {text[:80]!r}"
        )
    return _signal(parts[0], parts[1])


def _dataset_row(text: str) -> ComputedSignal:
    fields = next(csv.reader([text]))
    if len(fields) < 2:
        raise InvalidInputError(f"expected 'signal_type,signal_str,...', got {text[:80]!r}")
    return _signal(fields[0], fields[1])


def _pdq_tool_row(text: str) -> ComputedSignal:
    fields = next(csv.reader([text]))
    if len(fields) < 2:
        raise InvalidInputError(f"expected 'hash,quality,filename', got {text[:80]!r}")
    try:
        quality = int(fields[1])
    except ValueError:
        raise InvalidInputError(
            f"quality {fields[1]!r} is not a whole number; expected 'hash,quality,filename'"
        ) from None
    if not 0 <= quality <= 100:
        raise InvalidInputError(f"quality {quality} is outside 0..100")
    return _signal("pdq", fields[0], quality)
