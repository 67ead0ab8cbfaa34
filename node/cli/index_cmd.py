"""``hashfed index snapshot``: save the match index so the next start loads it in seconds.

``hashfed serve`` saves one on stop and while serving (every 500,000 new rows, or 15 minutes
after any change); this command is for a node that is not served, or before a planned restart.
It is safe while ``hashfed serve`` runs: writers take turns and the manifest is replaced
atomically (:mod:`node.service.index_snapshot`).
"""

from __future__ import annotations

import typer

from node.cli.options import HomeOpt, JsonOpt, command_group, open_node
from node.cli.output import out, print_json


def snapshot(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Save the match index snapshot (index-snapshot/ in the home) for fast start-up."""
    with open_node(home) as node:
        index = node.index
        report = index.save_snapshot()
        summary = {
            "folder": str(report.folder),
            "rows": index.sizes(),
            "bytes": report.bytes,
            "files": report.files,
            "seconds": round(report.seconds, 3),
            "index_started_from": index.start.source,
        }
    if as_json:
        print_json(summary)
    else:
        out.print(
            f"index snapshot saved to {report.folder}: {sum(index.sizes().values()):,} rows, "
            f"{report.bytes / 1e6:.1f} MB in {report.seconds:.2f} s"
        )


def register(app: typer.Typer) -> typer.Typer:
    """Add the ``index`` group (``hashfed index snapshot``) to the main app."""
    index_app = command_group("The match index: snapshots for fast start-up.")
    index_app.command("snapshot")(snapshot)
    app.add_typer(index_app, name="index")
    return index_app
