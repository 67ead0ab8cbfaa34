"""``hashfed status``: peers, origins, witness policy, auditors, evidence, at a glance."""

from __future__ import annotations

import datetime as dt
import time

import typer
from rich.table import Table
from rich.text import Text

from node.cli.options import HomeOpt, JsonOpt, open_node
from node.cli.output import out, print_json, row
from node.text import shown


def _ago(ms: object) -> str:
    if not isinstance(ms, int):
        return "never"
    seconds = time.time() - ms / 1000
    stamp = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{stamp} ({seconds:.0f} s ago)"


def status(home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Peers (last sync, last error, entries received/rejected), origins (size, witnessed
    size), witness policy, auditors, evidence."""
    with open_node(home) as node:
        from node.results import to_json_dict

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


def register(app: typer.Typer) -> None:
    """Add ``status`` to the main app."""
    app.command("status")(status)
