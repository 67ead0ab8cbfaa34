"""One entry of a log as ``hashfed log`` shows it: a summary line and the statement's fields."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import ClassVar

from node.log.entry import Add, Entry, Retract, Statement
from node.results import JsonShape, to_json


@dataclass(frozen=True)
class LogLine:
    origin: str
    entry_index: int
    kind: str
    create_time_ms: int
    summary: str
    retracted: bool
    leaf_hash: bytes
    body: bytes
    entry: Entry
    # Why the entry, stored as signed, has no effect here (node.service.entry_rows.ignored_because).
    ignored: str | None = None

    JSON: ClassVar[JsonShape] = (
        ("origin", "origin"),
        ("entry_index", "entry_index"),
        ("kind", "kind"),
        ("create_time_ms", "create_time_ms"),
        ("summary", "summary"),
        ("retracted", "retracted"),
        ("leaf_hash", "leaf_hash"),
        ("entry", "entry_base64"),
        ("statement", "statement"),
        ("ignored", "ignored"),
    )

    @property
    def entry_base64(self) -> str:
        return base64.b64encode(self.body).decode()

    @property
    def statement(self) -> dict[str, object]:
        return statement_dict(self.entry.statement)


def statement_dict(st: Statement) -> dict[str, object]:
    if isinstance(st, Add):
        return {
            "signals": [
                {"type": c.signal.type, "value": c.signal.hex, "quality": c.quality}
                for c in st.signals
            ],
            "unusable_signals": [{"type": t, "value": v.hex()} for t, v in st.unusable],
            "labels": to_json(st.labels),
            "note": st.note,
        }
    if isinstance(st, Retract):
        return {"retracts": st.entry_index, "reason": st.reason}
    return {
        "target": {
            "origin": st.target.origin,
            "entry_index": st.target.entry_index,
            "leaf_hash": st.target.leaf_hash.hex(),
        },
        "verdict": st.verdict.value,
        "agrees_with_labels": st.agrees_with_labels,
    }


def summary(entry: Entry) -> str:
    st = entry.statement
    if isinstance(st, Add):
        types = [c.signal.type for c in st.signals]
        pdq = [c.signal.hex[:16] for c in st.signals if c.signal.type == "pdq"]
        sigs = " ".join(types) + (f" (pdq {pdq[0]}…)" if pdq else "")
        labels = ", ".join(
            x for x in (st.labels.entity, st.labels.content_type, *st.labels.behaviours) if x
        )
        return f"{sigs} [{labels}]" if labels else sigs
    if isinstance(st, Retract):
        return f"retracts entry {st.entry_index}" + (f" ({st.reason})" if st.reason else "")
    return (
        f"{st.verdict.value} on {st.target.origin}/{st.target.entry_index}"
        f"{'' if st.agrees_with_labels else ', disagrees with labels'}"
    )
