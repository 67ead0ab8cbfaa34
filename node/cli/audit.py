"""``hashfed export``, ``hashfed evidence …`` and ``hashfed audit …`` (docs/audit.md).

What a node hands an auditor (an export folder, evidence files) and what it can show about
auditors (what they read) and about its operator's decisions (the operator log).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from node.cli.files import write_atomically
from node.cli.options import ForceOpt, HomeOpt, JsonOpt, command_group, open_node
from node.cli.output import err, out, print_json, row, stamp
from node.text import shown

if TYPE_CHECKING:
    from node.store.rows import EvidenceRow, MemberRow

evidence_app = command_group("Proof that an origin signed two histories: list and export it.")
audit_app = command_group("What auditors read from this node, and the operator's decisions.")

VERIFY_EVIDENCE = "scripts/verify_evidence.py"
VERIFY_LOG = "scripts/verify_log.py"


# -- export ------------------------------------------------------------------------------------


def export(
    folder: Annotated[Path, typer.Argument(help="A new or empty folder to write the export to.")],
    origin: Annotated[
        str | None, typer.Option("--origin", help="Export only this origin (default: all held).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write every entry, checkpoint and cosignature held, per origin (hashfed-export/v1)."""
    with open_node(home) as node:
        done = node.audit.export(folder, origin)
    if as_json:
        from node.results import to_json

        print_json({"folder": str(folder), "origins": to_json(done)})
        return
    table = Table("origin", "entries", "checkpoints", "cosignatures")
    for o in done:
        table.add_row(*row(o.origin, o.entries, o.checkpoints, o.cosignatures))
    out.print(table)
    out.print(f"Wrote {shown(folder)}: export.json and one folder per origin (docs/audit.md).")
    out.print(
        f"Audit it offline: python {VERIFY_LOG} --export {shown(folder)} "
        "--key <each origin's verifier key, obtained from the member itself>"
    )


# -- evidence ----------------------------------------------------------------------------------


def _detail(row_: EvidenceRow) -> object:
    """The stored detail as JSON, or as the text it is if it does not parse."""
    try:
        return json.loads(row_.detail)
    except ValueError:
        return row_.detail


@evidence_app.command("list")
def evidence_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Every piece of equivocation evidence this node holds (each one stopped its origin)."""
    with open_node(home) as node:
        rows = node.audit.evidence()
        halted = node.importer.halted_origins()
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "origin": r.origin,
                    "kind": r.kind,
                    "first_checkpoint": r.first_note,
                    "second_checkpoint": r.second_note,
                    "detail": _detail(r),
                    "relayed_by": r.peer,
                    "detected_at_ms": r.detected_ms,
                    "origin_halted": r.origin in halted,
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out.print(Text("No evidence: no origin has been caught signing two histories.", "green"))
        return
    table = Table("id", "origin", "kind", "detected", "relayed by", "import")
    for r in rows:
        table.add_row(
            *row(r.id, r.origin, r.kind, stamp(r.detected_ms), r.peer or ""),
            Text("stopped", style="bold red") if r.origin in halted else Text("resumed"),
        )
    out.print(table)
    out.print(
        "Export one for anyone to check offline: hashfed evidence export ID -o FILE; "
        "resume an origin once dealt with: hashfed member reset ORIGIN --reason TEXT"
    )


@evidence_app.command("export")
def evidence_export(
    evidence_id: Annotated[int, typer.Argument(metavar="ID", help="Evidence id (see `list`).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
    force: ForceOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a portable proof of equivocation (hashfed-evidence/v1) that verifies offline."""
    with open_node(home) as node:
        text = node.audit.evidence_file(evidence_id)
        origin = next(r.origin for r in node.audit.evidence() if r.id == evidence_id)
        key = _known_key(node.members.known(), origin)
    target = "FILE" if output is None else str(output)
    command = f"python {VERIFY_EVIDENCE} {shown(target)} --key '{shown(key or '<verifier key>')}'"
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        if not as_json:  # stdout is the evidence itself: the hint goes to stderr
            _hint(err, origin, command, key)
        return
    write_atomically(output, text, force=force)
    if as_json:
        print_json({"id": evidence_id, "origin": origin, "file": str(output), "verify": command})
        return
    out.print(f"Wrote evidence #{evidence_id} against {shown(origin)} to {shown(output)}")
    _hint(out, origin, command, key)


def _known_key(members: list[MemberRow], origin: str) -> str | None:
    return next((m.verifier_key for m in members if m.origin == origin), None)


def _hint(console: Console, origin: str, command: str, key: str | None) -> None:
    console.print(f"Check it offline: {command}")
    source = (
        f"the key this node holds for {shown(origin)}"
        if key is not None
        else f"{shown(origin)}'s verifier key"
    )
    console.print(
        f"  (--key: {source}; an independent checker should obtain it from the member itself)"
    )


# -- audit -------------------------------------------------------------------------------------


@audit_app.command("reads")
def audit_reads(
    auditor: Annotated[
        str | None, typer.Option("--auditor", help="Only this auditor's reads.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")] = 1000,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What auditors read from this node's federation service, newest first."""
    with open_node(home) as node:
        reads = node.audit.reads(auditor, limit)
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "auditor": r.auditor,
                    "method": r.method,
                    "request": r.request,
                    "at_ms": r.at_ms,
                }
                for r in reads
            ]
        )
        return
    if not reads:
        who = f" by {shown(auditor)}" if auditor else ""
        out.print(f"No auditor reads{who} recorded.")
        return
    table = Table("id", "when", "auditor", "method", "request")
    for r in reads:
        table.add_row(*row(r.id, stamp(r.at_ms), r.auditor, r.method, r.request))
    out.print(table)
    if len(reads) == limit:
        out.print(f"(the newest {limit}; --limit N shows more)")


def _described(detail: str) -> str:
    """A JSON object detail as ``key: value; …``; any other detail as it is."""
    try:
        doc = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(doc, dict):
        return detail
    parts = []
    for k, v in doc.items():
        text = (", ".join(str(x) for x in v) or "none") if isinstance(v, list) else str(v)
        parts.append(f"{k}: {text}")
    return "; ".join(parts)


@audit_app.command("log")
def audit_log(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """The operator log: auditors added or removed, members reset after evidence."""
    with open_node(home) as node:
        entries = node.audit.operator_log()
    if as_json:
        print_json(
            [
                {
                    "id": e.id,
                    "action": e.action,
                    "subject": e.subject,
                    "detail": e.detail,
                    "at_ms": e.at_ms,
                }
                for e in entries
            ]
        )
        return
    if not entries:
        out.print("The operator log is empty.")
        return
    table = Table("id", "when", "action", "subject", "detail")
    for e in entries:
        table.add_row(*row(e.id, stamp(e.at_ms), e.action, e.subject, _described(e.detail)))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``export`` and the ``evidence`` and ``audit`` groups to the main app."""
    app.command("export")(export)
    app.add_typer(evidence_app, name="evidence")
    app.add_typer(audit_app, name="audit")
