"""``hashfed add``, ``retract`` and ``opinion``: append to this origin's log, sign a checkpoint."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from node.cli.options import (
    BehaviourOpt,
    ContentTypeOpt,
    EntityOpt,
    HomeOpt,
    JsonOpt,
    NoteOpt,
    TagOpt,
    open_node,
)
from node.cli.output import out, print_json, row
from node.errors import InvalidInputError

if TYPE_CHECKING:
    from node.hashing import ComputedSignal
    from node.log.entry import Labels
    from node.results import PublishReport

BATCH_TABLE_ROWS = 50


def add(
    files: Annotated[list[Path] | None, typer.Argument(help="Media files to publish.")] = None,
    signal: Annotated[
        list[str] | None,
        typer.Option("--signal", help="TYPE:VALUE given directly (repeatable: one ADD)."),
    ] = None,
    quality: Annotated[
        int | None, typer.Option("--quality", help="PDQ quality of a --signal pdq value.")
    ] = None,
    from_file: Annotated[
        str | None,
        typer.Option("--from", help="Bulk import a hash list from FILE or - (stdin)."),
    ] = None,
    entity: EntityOpt = "",
    content_type: ContentTypeOpt = "",
    behaviour: BehaviourOpt = None,
    tag: TagOpt = None,
    note: NoteOpt = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish ADD entries (files, given signals, or a bulk list) and sign a new checkpoint."""
    sources = sum(bool(x) for x in (files, signal, from_file))
    if sources != 1:
        raise typer.BadParameter("give exactly one of: FILE..., --signal TYPE:VALUE, --from FILE")
    labels = _labels(entity, content_type, behaviour, tag)
    with open_node(home) as node:
        if files:
            report = node.publisher.publish_files(files, labels, note)
        elif signal:
            report = node.publisher.publish_signals(_given_signals(signal, quality), labels, note)
        else:
            assert from_file is not None
            report = node.publisher.import_hash_list(_read_lines(from_file), labels, note)
    _print_report(report, as_json)


def retract(
    index: Annotated[int, typer.Argument(help="Index of this origin's ADD to retract.", min=0)],
    reason: Annotated[str, typer.Option(help="Why, for other members.")] = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append a RETRACT: the ADD stops matching everywhere (it stays in the log)."""
    with open_node(home) as node:
        _print_report(node.publisher.retract(index, reason), as_json)


def opinion(
    origin: Annotated[str, typer.Argument(help="Origin of the entry.")],
    index: Annotated[int, typer.Argument(help="Entry index in that origin's log.", min=0)],
    true_positive: Annotated[bool, typer.Option("--true-positive")] = False,
    false_positive: Annotated[bool, typer.Option("--false-positive")] = False,
    disputed: Annotated[bool, typer.Option("--disputed")] = False,
    disagree_labels: Annotated[
        bool, typer.Option("--disagree-labels", help="Disagree with the entry's labels.")
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Publish an OPINION on any origin's entry."""
    from node.log.entry import Verdict

    chosen = [
        v
        for flag, v in (
            (true_positive, Verdict.TRUE_POSITIVE),
            (false_positive, Verdict.FALSE_POSITIVE),
            (disputed, Verdict.DISPUTED),
        )
        if flag
    ]
    if len(chosen) != 1:
        raise typer.BadParameter(
            "give exactly one of --true-positive, --false-positive, --disputed"
        )
    with open_node(home) as node:
        report = node.publisher.opinion(
            origin, index, chosen[0], agrees_with_labels=not disagree_labels
        )
    _print_report(report, as_json)


def _labels(
    entity: str, content_type: str, behaviour: list[str] | None, tag: list[str] | None
) -> Labels:
    from node.log.entry import Labels

    return Labels(entity, content_type, tuple(behaviour or ()), tuple(tag or ()))


def _given_signals(values: list[str], quality: int | None) -> list[ComputedSignal]:
    from node.hashing import ComputedSignal, get_signal_type, parse_signal

    signals = [parse_signal(v) for v in values]
    if quality is not None and not 0 <= quality <= 100:
        raise InvalidInputError(f"--quality {quality} is outside 0..100")
    return [
        ComputedSignal(s, quality if get_signal_type(s.type).name == "pdq" else None)
        for s in signals
    ]


def _read_lines(source: str) -> list[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read hash list {source}: {exc}") from exc


def _print_report(report: PublishReport, as_json: bool) -> None:
    if as_json:
        from node.results import to_json

        print_json(to_json(report))
        return
    if len(report.entries) > BATCH_TABLE_ROWS:  # a bulk import: a range, not 200,000 rows
        first, last = report.entries[0], report.entries[-1]
        count = len(report.entries)
        out.print(f"Published {count} entries, indexes {first.entry_index}..{last.entry_index}")
    elif report.entries:
        table = Table("index", "kind", "source")
        for e in report.entries:
            table.add_row(*row(e.entry_index, e.kind, e.source))
        out.print(table)
    if report.skipped:
        _print_skipped(report)
    if not report.entries:
        out.print(
            f"Nothing new published; checkpoint unchanged: size {report.checkpoint_size}, "
            f"root {report.checkpoint_root_hex[:16]}…",
            highlight=False,
        )
        return
    out.print(
        f"Signed checkpoint: size {report.checkpoint_size}, "
        f"root {report.checkpoint_root_hex[:16]}…",
        highlight=False,
    )


def _print_skipped(report: PublishReport) -> None:
    skipped = report.skipped
    out.print(f"Skipped {len(skipped)} already published (this origin publishes them live):")
    table = Table("source", "already at index")
    for s in skipped[:BATCH_TABLE_ROWS]:
        table.add_row(*row(s.source, ", ".join(map(str, s.entry_indexes))))
    out.print(table)
    if len(skipped) > BATCH_TABLE_ROWS:
        out.print(f"… and {len(skipped) - BATCH_TABLE_ROWS} more (--json lists every one)")


def register(app: typer.Typer) -> None:
    """Add ``add``, ``retract`` and ``opinion`` to the main app."""
    app.command("add")(add)
    app.command("retract")(retract)
    app.command("opinion")(opinion)
