"""``hashfed member …``, ``hashfed peer …`` and ``hashfed status``.

Trusting a member (accepting its signed entries from whoever relays them) and peering with a
node (connecting to it) are separate decisions, so they are separate command groups.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from node.cli.common import HomeOpt, JsonOpt, handles_errors, open_node, out, print_json, row
from node.errors import InvalidInputError
from node.text import shown

member_app = typer.Typer(help="Trust origins: accept their signed entries from any relay.")
peer_app = typer.Typer(help="Peer with nodes: connect to them to exchange logs.")

CardArg = Annotated[Path, typer.Argument(help="A member card (JSON from `hashfed identity`).")]


def _read_card(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read member card {path}: {exc}") from exc


@member_app.command("add")
@handles_errors
def member_add(card: CardArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Trust the card's origin: its signed entries are accepted from whoever relays them."""
    with open_node(home) as node:
        accepted = node.add_member(_read_card(card))
    if as_json:
        print_json({"origin": accepted.origin, "verifier_key": str(accepted.verifier_key)})
    else:
        out.print(f"Trusting {shown(accepted.origin)} (key {accepted.verifier_key})")


@member_app.command("list")
@handles_errors
def member_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Members this node knows, trusted or removed."""
    with open_node(home) as node:
        members = node.members()
        peers = {p.name for p in node.peers()}
    if as_json:
        print_json(
            [
                {
                    "origin": m.origin,
                    "verifier_key": m.verifier_key,
                    "tls_fingerprint_sha256": m.tls_fingerprint,
                    "address": m.address,
                    "trusted": m.trusted,
                    "peer": m.origin in peers,
                }
                for m in members
            ]
        )
        return
    table = Table("origin", "trusted", "peer", "address", "TLS fingerprint")
    for m in members:
        table.add_row(
            *row(
                m.origin,
                "yes" if m.trusted else "removed",
                "yes" if m.origin in peers else "",
                m.address,
                m.tls_fingerprint[:16] + "…",
            )
        )
    out.print(table)


@member_app.command("remove")
@handles_errors
def member_remove(
    origin: Annotated[str, typer.Argument(help="Origin to stop trusting.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop trusting an origin: its entries stop matching and are no longer relayed."""
    with open_node(home) as node:
        node.remove_member(origin)
    if as_json:
        print_json({"origin": origin, "trusted": False})
    else:
        out.print(
            f"No longer trusting {shown(origin)}: its entries stop matching and are not relayed; "
            "its log rows stay for audit. Peering with its node ended too "
            "(`hashfed peer add CARD.json` restores both)."
        )


@peer_app.command("add")
@handles_errors
def peer_add(card: CardArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Trust the card's origin and connect to its node at the card's address."""
    with open_node(home) as node:
        accepted = node.add_peer(_read_card(card))
    if as_json:
        print_json({"name": accepted.origin, "address": accepted.address})
    else:
        out.print(f"Peering with {shown(accepted.origin)} at {shown(accepted.address)}")


@peer_app.command("list")
@handles_errors
def peer_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Nodes this node connects to."""
    with open_node(home) as node:
        peers = node.peers()
    if as_json:
        print_json([{"name": p.name, "address": p.address} for p in peers])
        return
    table = Table("peer", "address")
    for p in peers:
        table.add_row(*row(p.name, p.address))
    out.print(table)


@peer_app.command("remove")
@handles_errors
def peer_remove(
    name: Annotated[str, typer.Argument(help="Peer to stop connecting to.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop connecting to a node (its origin stays trusted; see `member remove`)."""
    with open_node(home) as node:
        node.remove_peer(name)
    if as_json:
        print_json({"name": name, "peer": False})
    else:
        out.print(f"No longer peering with {name}.")


def _ago(ms: object) -> str:
    if not isinstance(ms, int):
        return "never"
    seconds = time.time() - ms / 1000
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} ({seconds:.0f} s ago)"


@handles_errors
def status(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Peers (last sync, last error, entries received/rejected), origins, evidence."""
    with open_node(home) as node:
        report = node.status()
    if as_json:
        print_json(report)
        return
    peers = Table("peer", "last successful sync", "last error", "received", "rejected (reasons)")
    for p in report["peers"]:  # type: ignore[attr-defined]
        reasons = ", ".join(f"{n} {r}" for r, n in p["rejected_reasons"].items())
        peers.add_row(
            *row(
                p["name"],
                _ago(p["last_success_ms"]),
                f"{p['last_error']} ({_ago(p['last_error_ms'])})" if p["last_error"] else "",
                str(p["received"]),
                f"{p['rejected']}" + (f" ({reasons})" if reasons else ""),
            )
        )
    origins = Table("origin", "size", "newest checkpoint first received", "import")
    for o in report["origins"]:  # type: ignore[attr-defined]
        age = o["checkpoint_age_s"]
        origins.add_row(
            *row(
                o["origin"] + (" (this node)" if o["self"] else ""),
                o["size"],
                "never" if age is None else f"{age:.0f} s ago",
            ),
            Text("STOPPED: equivocation evidence", style="bold red") if o["halted"] else "ok",
        )
    out.print(Text("Node ") + Text(shown(report["origin"]), style="bold"))
    out.print(peers)
    out.print(origins)
    evidence = report["evidence"]
    out.print(Text(f"Evidence items: {evidence}", style="bold red" if evidence else "green"))


def register(app: typer.Typer) -> typer.Typer:
    """Add the member and peer groups and status; returns the peer group for more commands."""
    app.add_typer(member_app, name="member")
    app.add_typer(peer_app, name="peer")
    app.command("status")(status)
    return peer_app
