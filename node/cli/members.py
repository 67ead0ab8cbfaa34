"""``hashfed member …`` and ``hashfed peer …``: whom this node trusts and whom it connects to.

Trusting a member (accepting its signed entries from whoever relays them) and peering with a
node (connecting to it) are separate decisions, so they are separate command groups.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from node.cli.options import CardArg, HomeOpt, JsonOpt, command_group, open_node
from node.cli.output import out, print_json, row
from node.errors import InvalidInputError
from node.text import shown

member_app = command_group("Trust origins: accept their signed entries from any relay.")
peer_app = command_group("Peer with nodes: connect to them to exchange logs.")


def _read_card(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read member card {path}: {exc}") from exc


@member_app.command("add")
def member_add(card: CardArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Trust the card's origin (its signed entries are accepted from whoever relays them), or,
    for an auditor's card, grant that auditor read-only access."""
    with open_node(home) as node:
        accepted = node.members.add(_read_card(card))
    witness = None if accepted.witness_key is None else str(accepted.witness_key)
    if as_json:
        print_json(
            {
                "origin": accepted.origin,
                "role": accepted.role,
                "verifier_key": str(accepted.verifier_key),
                "witness_key": witness,
                "tls_fingerprint_sha256": accepted.tls_fingerprint,
            }
        )
    elif accepted.is_auditor:
        out.print(
            f"Auditor {shown(accepted.origin)} may now read this node's logs, checkpoints, "
            f"cosignatures and proofs (TLS {accepted.tls_fingerprint[:16]}…). It is never an "
            "origin here and its cosignatures never count as witnesses. Its reads are logged: "
            "`hashfed audit reads`."
        )
    else:
        out.print(f"Trusting {shown(accepted.origin)} (key {shown(accepted.verifier_key)})")
        if witness is None:
            out.print(
                "Its card carries no witness key: its cosignatures cannot count as witnesses."
            )


@member_app.command("list")
def member_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Members this node knows (trusted or removed) and auditors it grants read access."""
    with open_node(home) as node:
        members = node.members.known()
        auditors = node.members.auditors()
        peers = {p.name for p in node.members.peers()}
        halted = node.importer.halted_origins()
        witness_keys = node.members.witness_keys()
    listed: list[dict[str, object]] = [
        {
            "origin": m.origin,
            "role": "member",
            "verifier_key": m.verifier_key,
            "witness_key": witness_keys.get(m.origin),
            "tls_fingerprint_sha256": m.tls_fingerprint,
            "address": m.address,
            "trusted": m.trusted,
            "peer": m.origin in peers,
            "halted": m.origin in halted,
        }
        for m in members
    ]
    listed += [
        {
            "origin": a.name,
            "role": "auditor",
            "verifier_key": None,
            "witness_key": a.witness_key,
            "tls_fingerprint_sha256": a.tls_fingerprint,
            "address": "",
            "trusted": False,  # read access only: nothing it signs is accepted
            "peer": False,
            "halted": False,
            "added_ms": a.added_ms,
        }
        for a in auditors
    ]
    if as_json:
        print_json(listed)
        return
    table = Table("name", "role", "trusted", "peer", "witness key", "address", "TLS fingerprint")
    for m in listed:
        if m["role"] == "auditor":
            trusted = Text("read-only")
        elif not m["trusted"]:
            trusted = Text("removed")
        else:
            trusted = Text("yes") if not m["halted"] else Text("HALTED", style="bold red")
        table.add_row(
            shown(m["origin"]),
            shown(m["role"]),
            trusted,
            "yes" if m["peer"] else "",
            "known" if m["witness_key"] else Text("none", style="dim"),
            *row(m["address"], str(m["tls_fingerprint_sha256"])[:16] + "…"),
        )
    out.print(table)


@member_app.command("remove")
def member_remove(
    origin: Annotated[str, typer.Argument(help="Origin to stop trusting, or auditor to drop.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop trusting an origin (its entries stop matching and are no longer relayed), or take
    an auditor's read access away."""
    with open_node(home) as node:
        was_auditor = any(a.name == origin for a in node.members.auditors())
        node.members.remove(origin)
    if as_json:
        print_json(
            {"origin": origin, "role": "auditor" if was_auditor else "member", "trusted": False}
        )
    elif was_auditor:
        out.print(
            f"Auditor {shown(origin)} no longer has read access (new connections are refused); "
            "its past reads stay in `hashfed audit reads`."
        )
    else:
        out.print(
            f"No longer trusting {shown(origin)}: its entries stop matching and are not relayed; "
            "its log rows stay for audit. Peering with its node ended too "
            "(`hashfed peer add CARD.json` restores both)."
        )


@member_app.command("reset")
def member_reset(
    origin: Annotated[str, typer.Argument(help="Origin whose import stopped on evidence.")],
    reason: Annotated[
        str, typer.Option("--reason", help="What was decided, for the operator log.")
    ] = "",
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Resume importing an origin that evidence stopped; the evidence stays, the reset is
    logged (`hashfed audit log`)."""
    with open_node(home) as node:
        log_id = node.members.reset(origin, reason)
        evidence = [e.id for e in node.audit.evidence() if e.origin == origin]
    if as_json:
        print_json(
            {
                "origin": origin,
                "halted": False,
                "operator_log_id": log_id,
                "reason": reason,
                "evidence": evidence,
            }
        )
        return
    ids = ", ".join(f"#{i}" for i in evidence) or "none"
    out.print(f"Import from {shown(origin)} resumed (operator log #{log_id}).")
    out.print(
        f"Its evidence ({ids}) stays on record (`hashfed evidence export ID`). This node keeps "
        "its verified copy of the log, so the next sync accepts only a history consistent with "
        "it; if the origin still shows two histories, new evidence stops it again."
    )


@peer_app.command("add")
def peer_add(card: CardArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Trust the card's origin and connect to its node at the card's address."""
    with open_node(home) as node:
        accepted = node.members.add_peer(_read_card(card))
    if as_json:
        print_json({"name": accepted.origin, "address": accepted.address})
    else:
        out.print(f"Peering with {shown(accepted.origin)} at {shown(accepted.address)}")


@peer_app.command("list")
def peer_list(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Nodes this node connects to."""
    with open_node(home) as node:
        peers = node.members.peers()
    if as_json:
        print_json([{"name": p.name, "address": p.address} for p in peers])
        return
    table = Table("peer", "address")
    for p in peers:
        table.add_row(*row(p.name, p.address))
    out.print(table)


@peer_app.command("remove")
def peer_remove(
    name: Annotated[str, typer.Argument(help="Peer to stop connecting to.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop connecting to a node (its origin stays trusted; see `member remove`)."""
    with open_node(home) as node:
        node.members.remove_peer(name)
    if as_json:
        print_json({"name": name, "peer": False})
    else:
        out.print(f"No longer peering with {name}.")


def register(app: typer.Typer) -> typer.Typer:
    """Add the member and peer groups; returns the peer group for more commands."""
    app.add_typer(member_app, name="member")
    app.add_typer(peer_app, name="peer")
    return peer_app
