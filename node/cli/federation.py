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
from node.results import to_json_dict
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
    """Trust the card's origin (its signed entries are accepted from whoever relays them), or,
    for an auditor's card, grant that auditor read-only access."""
    with open_node(home) as node:
        accepted = node.members.add(_read_card(card))
    witness = None if accepted.witness_key is None else str(accepted.witness_key)
    if as_json:
        print_json(
            {
                "origin": accepted.origin,
                "role": accepted.role.value,
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
@handles_errors
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
@handles_errors
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
@handles_errors
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
@handles_errors
def peer_add(card: CardArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Trust the card's origin and connect to its node at the card's address."""
    with open_node(home) as node:
        accepted = node.members.add_peer(_read_card(card))
    if as_json:
        print_json({"name": accepted.origin, "address": accepted.address})
    else:
        out.print(f"Peering with {shown(accepted.origin)} at {shown(accepted.address)}")


@peer_app.command("list")
@handles_errors
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
@handles_errors
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


def _ago(ms: object) -> str:
    if not isinstance(ms, int):
        return "never"
    seconds = time.time() - ms / 1000
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} ({seconds:.0f} s ago)"


@handles_errors
def status(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Peers (last sync, last error, entries received/rejected), origins (size, witnessed
    size), witness policy, auditors, evidence."""
    with open_node(home) as node:
        report = to_json_dict(node.status())
    if as_json:
        print_json(report)
        return
    peers = Table(
        "peer",
        "state",
        "next round",
        "last successful sync",
        "last error",
        "received",
        "rejected (reasons)",
    )
    for p in report["peers"]:  # type: ignore[attr-defined]
        reasons = ", ".join(f"{n} {r}" for r, n in p["rejected_reasons"].items())
        peers.add_row(
            shown(p["name"]),
            _state(p),
            *row(
                _due(p.get("next_attempt_ms")),
                _ago(p["last_success_ms"]),
                f"{p['last_error']} ({_ago(p['last_error_ms'])})" if p["last_error"] else "",
                str(p["received"]),
                f"{p['rejected']}" + (f" ({reasons})" if reasons else ""),
            ),
        )
    origins = Table(
        "origin", "size", "witnessed size", "newest cosigned", "newest checkpoint", "import"
    )
    role = report.get("role", "member")
    for o in report["origins"]:  # type: ignore[attr-defined]
        if o["self"] and role == "auditor":
            continue  # an auditor has no log of its own
        age = o["checkpoint_age_s"]
        origins.add_row(
            *row(
                o["origin"] + (" (this node)" if o["self"] else ""),
                o["size"],
                "none" if o.get("witnessed_size") is None else o["witnessed_size"],
                _cosigned(o.get("newest_cosigned_size"), o.get("newest_cosigners") or []),
                "never" if age is None else f"{age:.0f} s ago",
            ),
            Text("STOPPED: equivocation evidence", style="bold red") if o["halted"] else "ok",
        )
    title = Text("Node ") if role != "auditor" else Text("Auditor ")
    out.print(title + Text(shown(report["origin"]), style="bold"))
    _print_store(report.get("store"))
    out.print(peers)
    for p in report["peers"]:  # type: ignore[attr-defined]
        if (trouble := _trouble(p)) is not None:
            out.print(Text(f"Peer {shown(p['name'])} is ") + trouble)
    out.print(origins)
    policy = report.get("witness_policy")
    if isinstance(policy, dict):
        listed = policy.get("witnesses")
        among = ", ".join(map(str, listed)) if isinstance(listed, list) else str(listed or "")
        out.print(
            f"Witness policy: a checkpoint is witnessed once {shown(policy.get('min'))} members "
            f"other than its origin cosign it (counted: {shown(among or 'any trusted member')})"
        )
    auditors = report.get("auditors")
    names = ", ".join(map(str, auditors)) if isinstance(auditors, list) else ""
    out.print("Auditors with read access: " + (shown(names) if names else "none"))
    own = report.get("own_log")
    if isinstance(own, dict) and own.get("problem"):
        out.print(Text("PUBLISHING REFUSED: ", style="bold red") + Text(shown(own["problem"])))
    evidence = report["evidence"]
    out.print(Text(f"Evidence items: {evidence}", style="bold red" if evidence else "green"))
    if evidence:
        out.print("See `hashfed evidence list`; `hashfed member reset ORIGIN` resumes an origin.")


_STATE_STYLE = {"healthy": "green", "untried": "", "backing-off": "yellow"}


def _state(peer: dict[str, object]) -> Text:
    state = str(peer.get("state") or "untried")
    return Text(state, style=_STATE_STYLE.get(state, "bold red"))


def _trouble(peer: dict[str, object]) -> Text | None:
    """A line for a peer that is not healthy, with the reason in words, e.g. "slow: too slow:
    round exceeded 8 s (2 rounds in a row); next round 12:00:05Z (in 9 s)"."""
    state = str(peer.get("state") or "untried")
    if state in ("healthy", "untried"):
        return None
    failures = peer.get("consecutive_failures")
    in_a_row = (
        f" ({failures} rounds in a row)" if isinstance(failures, int) and failures > 1 else ""
    )
    return _state(peer) + Text(
        f": {shown(peer.get('reason') or 'no reason recorded')}{in_a_row}; next round "
        f"{_due(peer.get('next_attempt_ms'))}"
    )


def _due(ms: object) -> str:
    if not isinstance(ms, int):
        return "not scheduled yet"
    seconds = ms / 1000 - time.time()
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%H:%M:%SZ")
    return f"{stamp} (in {seconds:.0f} s)" if seconds > 0 else f"{stamp} (due)"


def _print_store(store: object) -> None:
    """The store section: ok, or each reason it is not (integrity_findings.store_health)."""
    if not isinstance(store, dict):
        return
    if store.get("ok"):
        out.print(Text("Store: ok", style="green") + Text(f" ({shown(store.get('path'))})"))
        return
    out.print(Text("Store: UNHEALTHY", style="bold red") + Text(f" ({shown(store.get('path'))})"))
    for reason in store.get("reasons") or []:
        out.print(Text("  " + shown(reason)))
    out.print("  `hashfed check` lists every damaged entry; a clean full check clears this.")


def _cosigned(size: object, cosigners: list[str]) -> str:
    if size is None:
        return "none"
    return f"{size} by {', '.join(cosigners)}" if cosigners else str(size)


def register(app: typer.Typer) -> typer.Typer:
    """Add the member and peer groups and status; returns the peer group for more commands."""
    app.add_typer(member_app, name="member")
    app.add_typer(peer_app, name="peer")
    app.command("status")(status)
    return peer_app
