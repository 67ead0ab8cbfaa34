"""The ``hashfed`` command line.

Exit codes (also in README.md): 0 ok; 1 no match (``match --exit-code``); 2 usage error;
3 other hashfed error; 4 invalid input (nothing stored); 5 verification failed (also: damage
found by ``check``, a damaged entry refused); 6 not found; 7 node identity missing or already
present, or an auditor identity asked to publish; 8 database unusable (also: disk full,
read-only, damaged page); 9 sync or peer test failed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from node.cli import audit as audit_cli
from node.cli import check as check_cli
from node.cli import federation
from node.cli import index_cmd as index_cli
from node.cli import recover as recover_cli
from node.cli import serve as serve_cli
from node.cli import sync as sync_cli
from node.cli import tls_cmd as tls_cli
from node.cli.common import (
    BehaviourOpt,
    ContentTypeOpt,
    EntityOpt,
    HomeOpt,
    JsonOpt,
    NoteOpt,
    TagOpt,
    handles_errors,
    open_node,
    out,
    print_json,
    row,
)
from node.core import Node
from node.errors import InvalidInputError
from node.hashing import ComputedSignal, get_signal_type, parse_signal
from node.home import resolve_home
from node.log.entry import Labels, Verdict
from node.results import PublishReport, QueryResult, Witnessing, to_json
from node.text import shown

EXIT_NO_MATCH = 1
BATCH_TABLE_ROWS = 50

app = typer.Typer(
    name="hashfed",
    help="A federated hash-sharing node: hash media, publish signed hashes, match locally.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
@handles_errors
def init(
    origin: Annotated[
        str,
        typer.Option(
            "--origin",
            "--name",
            help="This member's origin name (with --auditor: the auditor's name).",
        ),
    ],
    auditor: Annotated[
        bool,
        typer.Option(
            "--auditor",
            help="Create a read-only auditor identity: it reads nodes, never publishes.",
        ),
    ] = False,
    home: HomeOpt = None,
    peer_address: Annotated[
        str | None, typer.Option(help="host:port other nodes reach this one at.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a node (or, with --auditor, an auditor identity): config, Ed25519 signing and
    witness keys, TLS key and certificate, empty database."""
    if auditor and peer_address is not None:
        raise typer.BadParameter("an auditor serves nothing, so it has no --peer-address")
    where = resolve_home(home)
    with Node.init(where, origin, peer_address=peer_address, auditor=auditor) as node:
        card = node.identity_card()
    if as_json:
        print_json(
            {
                "home": str(where),
                "origin": origin,
                "role": card["role"],
                "verifier_key": card["verifier_key"],
                "witness_key": card["witness_key"],
            }
        )
        return
    if not auditor:
        out.print(f"Initialised node {origin} in {where}")
        out.print(f"verifier key: {card['verifier_key']}")
        out.print(f"witness key:  {card['witness_key']}")
        return
    out.print(f"Initialised auditor {origin} in {where}")
    out.print(
        "An auditor only reads: a node that accepts its card lets it fetch logs, checkpoints, "
        "cosignatures and proofs (every read is logged there). It never publishes, and its "
        "cosignatures never count as witnesses."
    )
    out.print(f"verifier key: {card['verifier_key']}")
    out.print(f"witness key:  {card['witness_key']}")
    home_opt = f" --home {where}" if home is not None else ""
    out.print("Hand its card to each node it may audit:")
    out.print(f"  hashfed identity{home_opt} > {origin}.card.json")
    out.print(f"  hashfed member add {origin}.card.json      (run by that node's operator)")
    out.print(
        f"Then audit live: python scripts/verify_log.py --node HOST:PORT --auditor-home {where} "
        "--node-card NODE.card.json --key <origin verifier key> ..."
    )


@app.command()
@handles_errors
def identity(home: HomeOpt = None, as_json: JsonOpt = True) -> None:
    """Print this identity's card (JSON): for other members to accept (`member add`,
    `peer add`), or, for an auditor, for each node it may read (`member add`)."""
    with open_node(home) as node:
        print(json.dumps(node.identity_card(), indent=None if as_json else 2))


@app.command("hash")
@handles_errors
def hash_(
    files: Annotated[list[Path], typer.Argument(help="Files to hash.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every applicable signal (type, value, quality) for each file."""
    from node.hashing import hash_paths
    from node.home import HomePaths
    from node.results import FileHashes

    # On every core. A node's home, if there is one, supplies its settings (max_pixels).
    if HomePaths(resolve_home(home)).config.exists():
        with open_node(home) as node:
            results = node.hasher.hash_files(files)
    else:
        hashed = hash_paths(files)
        results = [FileHashes(str(p), tuple(s)) for p, s in zip(files, hashed, strict=True)]
    if as_json:
        print_json(to_json(results))
        return
    table = Table("file", "type", "value", "quality")
    for result in results:
        path, sigs = result.name, result.signals
        for c in sigs:
            quality = "" if c.quality is None else str(c.quality)
            table.add_row(*row(path, c.signal.type, c.signal.hex, quality))
    out.print(table)


def _labels(
    entity: str, content_type: str, behaviour: list[str] | None, tag: list[str] | None
) -> Labels:
    return Labels(entity, content_type, tuple(behaviour or ()), tuple(tag or ()))


def _given_signals(values: list[str], quality: int | None) -> list[ComputedSignal]:
    signals = [parse_signal(v) for v in values]
    if quality is not None and not 0 <= quality <= 100:
        raise InvalidInputError(f"--quality {quality} is outside 0..100")
    return [
        ComputedSignal(s, quality if get_signal_type(s.type).name == "pdq" else None)
        for s in signals
    ]


def _print_report(report: PublishReport, as_json: bool) -> None:
    if as_json:
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


@app.command()
@handles_errors
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


def _read_lines(source: str) -> list[str]:
    if source == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(source).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read hash list {source}: {exc}") from exc


@app.command()
@handles_errors
def retract(
    index: Annotated[int, typer.Argument(help="Index of this origin's ADD to retract.", min=0)],
    reason: Annotated[str, typer.Option(help="Why, for other members.")] = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Append a RETRACT: the ADD stops matching everywhere (it stays in the log)."""
    with open_node(home) as node:
        _print_report(node.publisher.retract(index, reason), as_json)


@app.command()
@handles_errors
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


@app.command()
@handles_errors
def match(
    files: Annotated[list[Path] | None, typer.Argument(help="Media files to look up.")] = None,
    signal: Annotated[
        list[str] | None, typer.Option("--signal", help="TYPE:VALUE to look up (repeatable).")
    ] = None,
    threshold: Annotated[
        int | None,
        typer.Option(help="Max distance (default per type: pdq 31, phash/dhash 10; files: PDQ)."),
    ] = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when nothing matched.")
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Look up media or signals among every shared, unretracted hash."""
    if bool(files) == bool(signal):
        raise typer.BadParameter("give FILE... or --signal TYPE:VALUE, one of the two")
    with open_node(home) as node:
        if files:
            results = node.matcher.match_files(files, threshold)
        else:
            results = node.matcher.match_signals([parse_signal(s) for s in signal or []], threshold)
    _print_matches(results, as_json)
    if exit_code and not any(r.matches for r in results):
        raise typer.Exit(EXIT_NO_MATCH)


def _print_matches(results: list[QueryResult], as_json: bool) -> None:
    if as_json:
        print_json(to_json(results))
        return
    table = Table("query", "origin", "index", "signals", "labels", "opinions", "witnessing")
    for r in results:
        if not r.matches:
            table.add_row(shown(r.query), Text("no match", style="dim"), "", "", "", "", "")
        for m in r.matches:
            labels = ", ".join(
                x
                for x in (
                    m.labels.entity,
                    m.labels.content_type,
                    *m.labels.behaviours,
                    *m.labels.tags,
                )
                if x
            )
            signals = ", ".join(f"{s.type} {s.distance}" for s in m.signals)
            table.add_row(
                *row(r.query, m.origin, m.entry_index, signals, labels, m.opinions),
                _witnessing(m.witnessing),
            )
    out.print(table)


def _witnessing(w: Witnessing | None) -> Text:
    """ "witnessed by 2 (checkpoint 120)" or "unwitnessed: 1 of 2 witnesses"."""
    if w is None:
        return Text("")
    if w.witnessed:
        return Text(f"witnessed by {len(w.witnesses)} (checkpoint {w.checkpoint_size})", "green")
    return Text(f"unwitnessed: {len(w.witnesses)} of {w.required} witnesses", "yellow")


@app.command()
@handles_errors
def log(
    origin: Annotated[str | None, typer.Option(help="Origin (default: this node's).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List an origin's log entries."""
    with open_node(home) as node:
        lines = node.reader.log(origin)
    if as_json:
        print_json(to_json(lines))
        return
    table = Table("index", "kind", "summary", "retracted", "effect")
    for line in lines:
        table.add_row(
            *row(
                line.entry_index,
                line.kind,
                line.summary,
                "yes" if line.retracted else "",
                line.ignored or "",
            )
        )
    out.print(table)


@app.command()
@handles_errors
def checkpoint(
    origin: Annotated[str | None, typer.Option(help="Origin (default: this node's).")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print an origin's newest signed checkpoint (C2SP signed note)."""
    with open_node(home) as node:
        cp = node.reader.checkpoint(origin)
    if as_json:
        print_json({"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "note": cp.note})
        return
    print(cp.note, end="")


@app.command()
@handles_errors
def proof(
    origin: Annotated[str, typer.Argument(help="Origin of the entry.")],
    index: Annotated[int, typer.Argument(help="Entry index.", min=0)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the bundle to this file.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = True,
) -> None:
    """Write a provenance bundle (JSON): entry bytes, inclusion proof, signed checkpoint."""
    with open_node(home) as node:
        text = node.reader.bundle(origin, index).to_json()
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="ascii")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {output}: {exc.strerror or exc}") from exc
    if not as_json:
        out.print(f"wrote {output}")


peer_app = federation.register(app)
sync_cli.register(app)
sync_cli.register_peer_test(peer_app)
serve_cli.register(app)
index_cli.register(app)
audit_cli.register(app)
tls_cli.register(app)
check_cli.register(app)
recover_cli.register(app)


def run() -> None:
    app()


if __name__ == "__main__":
    run()
