"""The state file: the newest checkpoint per origin that an earlier run verified."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from auditlib.errors import fail, show_json
from auditlib.values import hex_hash, load_json, require_int, require_object, require_str

from verify_log_steps.report import Recorded, Result

STATE_FORMAT = "hashfed-verify-log-state/v1"


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
