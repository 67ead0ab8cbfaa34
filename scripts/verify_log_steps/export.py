"""A ``hashfed-export/v1`` folder (``hashfed export DIR``, docs/audit.md) as a log source."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from auditlib.errors import fail, show, show_json
from auditlib.values import (
    b64decode_canonical,
    is_origin_name,
    load_json,
    require_int,
    require_object,
    require_str,
)

from verify_log_steps.report import OriginReport, Policy
from verify_log_steps.source import Listed, LogSource

EXPORT_FORMAT = "hashfed-export/v1"


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


class ExportSource(LogSource):
    """An export folder: ``export.json`` lists the origins, each with its entries and
    checkpoints as JSON Lines files in a folder named after it."""

    absent = "exported"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.manifest: dict[str, dict[str, Any]] = {}

    def origins(self) -> list[str]:
        self.manifest = _read_manifest(self.folder)
        return list(self.manifest)

    def not_held(self, origin: str) -> str:
        held = ", ".join(self.manifest) or "none"
        return f"origin {origin!r} is not in the export (it holds {held})"

    def checkpoints(self, origin: str) -> list[Listed]:
        return _export_checkpoints(self.folder, origin)

    def entries(self, origin: str, notes: Sequence[Listed]) -> Iterator[bytes]:
        return _export_entries(self.folder, origin)

    def confirm(
        self,
        report: OriginReport,
        roots: dict[int, bytes],
        kept: dict[int, bytes],
        policy: Policy,
    ) -> None:
        """``export.json``'s size must be what the entries hold; a verifier key it lists that is
        not the ``--key`` given is noted (it is never used)."""
        name = report.origin
        declared = self.manifest[name]["size"]
        if declared != report.entries:
            fail(
                f"export.json says {name} has {declared} entries; the export holds {report.entries}"
            )
        listed = self.manifest[name].get("verifier_key")
        if listed is not None and listed != policy.keys[name].text:
            report.notes.append(
                f"note: export.json lists verifier key {show(listed)} for {name}, not the "
                "--key given (only --key was used)"
            )

    def close(self) -> None:
        """Nothing stays open between reads of an export folder."""
