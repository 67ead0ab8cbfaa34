"""``hashfed init`` and ``hashfed identity``: create a node (or auditor), hand out its card."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from node.cli.options import HomeOpt, JsonOpt, home_folder, open_node
from node.cli.output import out, print_json


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
    from node.core import Node

    if auditor and peer_address is not None:
        raise typer.BadParameter("an auditor serves nothing, so it has no --peer-address")
    where = home_folder(home)
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


def identity(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Print this identity's card: for other members to accept (`member add`, `peer add`), or,
    for an auditor, for each node it may read (`member add`). The card is a JSON document
    either way (`hashfed identity > NAME.card.json`): indented for reading, or with --json on
    one line."""
    with open_node(home) as node:
        card = node.identity_card()
    print(json.dumps(card, indent=None if as_json else 2))


def register(app: typer.Typer) -> None:
    """Add ``init`` and ``identity`` to the main app."""
    app.command("init")(init)
    app.command("identity")(identity)
