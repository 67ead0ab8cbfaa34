"""Findings of the store checks kept beside the database, and the store section of
``hashfed status``.

Findings persist in ``HOME/integrity.json`` (a file, not the database: a damaged or read-only
database must not hide them) so that ``hashfed status`` reports the store unhealthy until a full
check comes back clean.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path

from node.service.integrity_report import CheckReport, Damage

log = logging.getLogger("hashfed.integrity")

FINDINGS_FILE = "integrity.json"
FINDINGS_FORMAT = "hashfed-integrity/v1"
LOW_DISK_BYTES = 8 * 1024 * 1024


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
