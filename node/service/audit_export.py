"""What a node hands an auditor: export folders and evidence files (formats in docs/audit.md).

Both are plain files that need no database and no hashfed code to read, so an auditor can check
them with ``scripts/verify_log.py`` and ``scripts/verify_evidence.py`` alone.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from node.errors import InvalidInputError, NotFoundError
from node.results import JsonShape, to_json
from node.store.rows import EvidenceRow

EXPORT_FORMAT = "hashfed-export/v1"
EVIDENCE_FORMAT = "hashfed-evidence/v1"


@dataclass(frozen=True)
class OriginExport:
    origin: str
    verifier_key: str
    witness_key: str | None
    entries: int
    checkpoints: int
    cosignatures: int

    JSON: ClassVar[JsonShape] = (
        ("origin", "origin"),
        ("verifier_key", "verifier_key"),
        ("witness_key", "witness_key"),
        ("size", "entries"),
        ("checkpoints", "checkpoints"),
        ("cosignatures", "cosignatures"),
    )


def prepare_folder(folder: Path) -> None:
    """An export goes into a new or empty folder, so no stale file passes for part of it."""
    if folder.exists():
        if not folder.is_dir():
            raise InvalidInputError(f"{folder} exists and is not a folder")
        if any(folder.iterdir()):
            raise InvalidInputError(
                f"{folder} is not empty; export into a new or empty folder so that no file "
                "from another export can be mistaken for part of this one"
            )
    folder.mkdir(parents=True, exist_ok=True)


def write_lines(path: Path, records: Iterable[dict[str, object]]) -> int:
    """JSON Lines, written to a temporary name and renamed: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".partial")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n")
            count += 1
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return count


def entry_records(bodies: Iterable[tuple[int, bytes]]) -> Iterable[dict[str, object]]:
    for idx, body in bodies:
        yield {"index": idx, "entry": base64.b64encode(body).decode("ascii")}


def write_manifest(
    folder: Path, exported_by: str, origins: list[OriginExport], witnesses: dict[str, str]
) -> None:
    manifest = {
        "format": EXPORT_FORMAT,
        "exported_by": exported_by,
        "exported_at_ms": time.time_ns() // 1_000_000,
        "origins": to_json(origins),
        "witnesses": dict(sorted(witnesses.items())),
    }
    tmp = folder / "export.json.partial"
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(folder / "export.json")


def evidence_document(rows: list[EvidenceRow], evidence_id: int) -> str:
    """The portable evidence file (JSON text, final newline) for evidence ``evidence_id``."""
    for row in rows:
        if row.id == evidence_id:
            doc = {
                "format": EVIDENCE_FORMAT,
                "id": row.id,
                "origin": row.origin,
                "kind": row.kind,
                "first_checkpoint": row.first_note,
                "second_checkpoint": row.second_note,
                "detail": json.loads(row.detail),
                "relayed_by": row.peer,
                "detected_at_ms": row.detected_ms,
            }
            return json.dumps(doc, indent=2, sort_keys=True) + "\n"
    known = ", ".join(str(r.id) for r in rows) or "none"
    raise NotFoundError(f"no evidence #{evidence_id} on this node (known: {known})")
