#!/usr/bin/env python3
"""`make demo`: three members in a line share hashes peer to peer, with provenance.

A - B - C: node C trusts member A but connects only to B, so everything C learns of A comes
through B, and still carries A's signature. A publishes labelled hashes of generated pictures, B
gives an opinion on one, C matches edited copies with origin A (witnessed: B and C both verified
and cosigned A's checkpoint) and proves one entry with A's key alone, an auditor checks A's whole
log from an export and live without trusting any node, A retracts one entry and, once the
retraction has travelled A -> B -> C, C stops matching it.

Everything runs through the real `hashfed` command and real gRPC with mutual TLS on 127.0.0.1,
started by `scripts/devnet.py` in `.demo/` (deleted and re-created on every run). At the end the
nodes are stopped and their homes kept for inspection (the last lines say how to restart them).
Exits non-zero if anything the demo shows did not hold. ``--dir DIR`` runs it elsewhere (the
tests do, so they never touch a developer's ``.demo/``).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import devnet
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from node.testing import sample_media

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
MEDIA = DEMO / "media"
A, B, C = "node-a", "node-b", "node-c"
AUDITOR, AUDITOR_NAME = "auditor", "auditor.example"
ORIGIN_A = devnet.origin_of(A)
PICTURES = 6
OPINION_ON = 1  # B's opinion is about A's entry 1
PROVE = 2  # C proves A's entry 2
RETRACT = 0  # A retracts entry 0
# The nodes also pull on their own, at start and then every SYNC_INTERVAL_S. The demo runs
# `hashfed sync` so that each step happens when it is shown, so it keeps the interval long;
# RESTART_INTERVAL_S is what the restart hint at the end suggests for exploring.
SYNC_INTERVAL_S = 600.0
RESTART_INTERVAL_S = 5

# Wide enough for the tables when the output goes to a file or a test (rich assumes 80).
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)


def rel(path: Path | str) -> str:
    return str(path).replace(str(ROOT) + "/", "")


def show(name: str | None, argv: Sequence[str], *, check: bool = False) -> None:
    shown = " ".join(shlex.quote(rel(a)) if not a.startswith(">") else rel(a) for a in argv)
    if check:  # what the demo runs to check its expectations: shown, but quietly
        console.print(f"[dim](check) {escape(name or '')}$ {escape(shown)}[/]")
    else:
        console.print(f"[bold cyan]{escape(name or '')}$ {escape(shown)}[/]")


def hashfed(
    name: str, *args: str, quiet: bool = False, shown: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run hashfed on node ``name``'s home, show the command (and its output unless quiet)."""
    if shown:
        show(name, ["hashfed", *args], check=quiet)
    # File arguments are given relative to the repository (see rel), hence cwd.
    proc = devnet.hashfed_process(DEMO / name, *args, cwd=ROOT, columns="120")
    if proc.returncode != 0:
        console.print(proc.stdout, proc.stderr)
        raise SystemExit(
            f"demo failed: hashfed {' '.join(args)} at {name} exited {proc.returncode}"
        )
    if not quiet and proc.stdout.strip():
        console.print(proc.stdout.rstrip(), markup=False)
    return proc


def hashfed_json(name: str, *args: str, check: bool = True) -> object:
    """Run hashfed with --json and return what it printed; ``check``: a self-check (dimmed)."""
    if not check:
        show(name, ["hashfed", *args, "--json"])
    return json.loads(hashfed(name, *args, "--json", quiet=True, shown=check).stdout)


def step(text: str) -> None:
    console.rule(f"[bold]{text}")


def make_media() -> tuple[list[Path], list[tuple[Path, str, int | None]]]:
    MEDIA.mkdir(parents=True, exist_ok=True)
    originals = []
    queries: list[tuple[Path, str, int | None]] = []
    for seed in range(PICTURES):
        image = sample_media.generate(seed)
        path = MEDIA / f"original-{seed}.png"
        path.write_bytes(sample_media.png_bytes(image))
        originals.append(path)
        for label, transform in sample_media.TRANSFORMS.items():
            copy = MEDIA / f"copy-{seed}-{label.split()[0].lower()}.jpg"
            copy.write_bytes(sample_media.jpeg_bytes(transform(image), quality=90))
            queries.append((copy, label, seed))
    unrelated = MEDIA / "unrelated.jpg"
    unrelated.write_bytes(sample_media.jpeg_bytes(sample_media.generate(10_000)))
    queries.append((unrelated, "unrelated picture", None))
    return originals, queries


def main(argv: Sequence[str] | None = None) -> int:
    global DEMO, MEDIA
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEMO,
        help="demo folder, deleted and re-created (default .demo)",
    )
    args = parser.parse_args(argv)
    DEMO = args.dir.resolve()
    MEDIA = DEMO / "media"
    if (DEMO / devnet.MANIFEST).exists():
        devnet.down(DEMO)  # nodes of an earlier run someone restarted
    elif DEMO != ROOT / ".demo" and DEMO.exists() and any(DEMO.iterdir()):
        parser.error(f"{DEMO} is not empty and holds no earlier demo; refusing to delete it")
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    try:
        return story()
    finally:
        stop()


def stop() -> None:
    if not (DEMO / devnet.MANIFEST).exists():
        return
    step("Stop the nodes (their homes stay)")
    show(None, ["python", "scripts/devnet.py", "down", "--dir", rel(DEMO)])
    for s in devnet.down(DEMO):
        console.print(f"{s.name}: {s.how}")
    console.print(
        f"The homes stay in {rel(DEMO)}/ (one folder per node, cards in {rel(DEMO)}/cards/, "
        f"server logs in {rel(DEMO)}/<node>/serve.log). Poke at them, e.g.\n"
        f"  HASHFED_HOME={rel(DEMO / C)} .venv/bin/hashfed log --origin {ORIGIN_A}\n"
        f"Restart the same three nodes (pulling every {RESTART_INTERVAL_S} s on their own) with\n"
        f"  .venv/bin/python scripts/devnet.py up --dir {rel(DEMO)} "
        f"--sync-interval {RESTART_INTERVAL_S}\n"
        f"and stop them with `.venv/bin/python scripts/devnet.py down --dir {rel(DEMO)}`."
    )


def story() -> int:
    failures: list[str] = []

    def expect(ok: bool, what: str) -> None:
        if not ok:
            failures.append(what)
            console.print(f"[bold red]expected: {what}[/]")

    console.print(
        f"Demo folder: {rel(DEMO)}/ with one home per node ({A}, {B}, {C}); media in {rel(MEDIA)}/"
    )

    step("1. Start three members' nodes in a line: A - B - C")
    console.print(
        "devnet picks free ports on 127.0.0.1, creates each node (`hashfed init`), and "
        "exchanges member cards: every node trusts every member (`member add`), but opens "
        "connections only to its neighbours (`peer add`). Then it starts `hashfed serve`."
    )
    nodes = devnet.up(3, "line", DEMO, sync_interval_s=SYNC_INTERVAL_S, echo=show)
    table = Table("node", "origin", "home", "peer address (mTLS)", "local address", "pid")
    for n in nodes:
        table.add_row(n.name, n.origin, rel(n.home), n.peer_address, n.local_address, str(n.pid))
    console.print(table)

    step("2. C trusts A but peers only with B")
    hashfed(C, "member", "list")
    hashfed(C, "peer", "list")
    members = hashfed_json(C, "member", "list")
    assert isinstance(members, list)
    expect(
        any(m["origin"] == ORIGIN_A and m["trusted"] and not m["peer"] for m in members),
        f"{C} trusts {ORIGIN_A} without peering with it",
    )
    expect(
        [m["origin"] for m in members if m["peer"]] == [devnet.origin_of(B)],
        f"{C} peers only with {devnet.origin_of(B)}",
    )

    step(f"3. A publishes the hashes of {PICTURES} pictures, with labels")
    originals, queries = make_media()
    hashfed(
        A,
        "add",
        *map(rel, originals),
        "--entity",
        "Example Front",
        "--content-type",
        "image",
        "--behaviour",
        "glorification",
        "--tag",
        "demo",
    )

    step(f"4. B pulls A's log and publishes an opinion on A's entry {OPINION_ON}")
    hashfed(B, "sync")
    hashfed(B, "opinion", ORIGIN_A, str(OPINION_ON), "--true-positive")

    step("5. C pulls from B, its only peer: A's entries arrive through B, signed by A")
    hashfed(C, "sync")
    hashfed(C, "log", "--origin", ORIGIN_A)
    a_log = hashfed_json(C, "log", "--origin", ORIGIN_A)
    assert isinstance(a_log, list)
    expect(len(a_log) == PICTURES, f"{C} holds A's {PICTURES} entries")

    step("6. C matches edited copies of A's pictures, and one unrelated picture")
    results = hashfed_json(C, "match", *(rel(q[0]) for q in queries), check=False)
    assert isinstance(results, list)
    table = Table("edited copy", "edit", "matched", "signal distances", "opinions", "witnessed")
    matched = 0
    for (path, label, seed), result in zip(queries, results, strict=True):
        matches = result["matches"]
        if matches:
            m = matches[0]
            signals = ", ".join(f"{s['type']} {s['distance']}" for s in m["signals"])
            tp = m["opinions"]["true_positive"]
            opinions = f"{tp} true positive" if tp else "-"
            w = m["witnessing"]
            witnessed = (
                f"by {w['witnesses']} (checkpoint {w['checkpoint_size']})"
                if w["witnessed"]
                else f"no ({w['witnesses']} of {w['required']})"
            )
            table.add_row(
                path.name,
                label,
                f"{m['origin']} #{m['entry_index']}",
                signals,
                opinions,
                witnessed,
            )
        else:
            table.add_row(path.name, label, "[dim]no match[/]", "", "", "")
        if seed is None:
            expect(not matches, f"{path.name} matches nothing")
            continue
        hit = [m for m in matches if m["origin"] == ORIGIN_A and m["entry_index"] == seed]
        matched += bool(hit)
        expect(bool(hit), f"{path.name} ({label}) matches {ORIGIN_A} entry {seed}")
        if hit:
            expect(
                sorted(hit[0]["witnessing"]["witness_names"])
                == [devnet.origin_of(B), devnet.origin_of(C)],
                f"{ORIGIN_A} entry {seed} is witnessed by B and C",
            )
        if hit and seed == OPINION_ON:
            expect(
                hit[0]["opinions"]["true_positive"] == 1,
                f"C sees B's opinion on {ORIGIN_A} entry {OPINION_ON}",
            )
    console.print(table)
    copies = len(queries) - 1
    console.print(
        f"{matched} of {copies} edited copies matched their original at {C}, with origin "
        f"{ORIGIN_A}; the unrelated picture matched {len(results[-1]['matches'])} entries."
    )
    console.print(
        "Witnessed: B and C each verified A's log and cosigned its checkpoint (C2SP "
        "tlog-cosignature), and C collected B's cosignature from B. The policy wants two "
        "members other than A, so A could not have shown C a history B did not see."
    )

    step(f"7. C proves A's entry {PROVE}: the bundle verifies with A's key alone")
    bundle = DEMO / f"bundle-{A}-{PROVE}.json"
    hashfed(C, "proof", ORIGIN_A, str(PROVE), "--output", rel(bundle))
    a_card = json.loads((DEMO / "cards" / f"{A}.json").read_text(encoding="utf-8"))
    console.print(
        f"A's verifier key, from the member card A handed out ({rel(DEMO)}/cards/{A}.json):"
    )
    b_card = json.loads((DEMO / "cards" / f"{B}.json").read_text(encoding="utf-8"))
    c_card = json.loads((DEMO / "cards" / f"{C}.json").read_text(encoding="utf-8"))
    witnesses = [
        "--min",
        "2",
        "--witness",
        b_card["witness_key"],
        "--witness",
        c_card["witness_key"],
    ]
    verify = verify_bundle(bundle, a_card["verifier_key"], *witnesses)
    expect(verify.returncode == 0, "the bundle from C verifies with A's key, witnessed by B and C")
    console.print("The same bundle against B's key (B relayed it, but did not sign it):")
    forged = verify_bundle(bundle, b_card["verifier_key"])
    expect(forged.returncode != 0, "the bundle does not verify with B's key")

    step("8. An auditor checks A's whole log, trusting no node and no hashfed code")
    auditor_policy = ["--key", a_card["verifier_key"], *witnesses]
    hashfed(AUDITOR, "init", "--auditor", "--name", AUDITOR_NAME)
    card = DEMO / "cards" / f"{AUDITOR}.json"
    show(AUDITOR, ["hashfed", "identity", ">" + rel(card)])
    card.write_text(hashfed(AUDITOR, "identity", quiet=True, shown=False).stdout, encoding="utf-8")
    console.print("C's operator grants the auditor read access with its card:")
    hashfed(C, "member", "add", rel(card))
    console.print("From an export of C's copy (plain files, no database needed):")
    export = DEMO / "export-c"
    hashfed(C, "export", "--origin", ORIGIN_A, rel(export))
    checked = script("verify_log.py", "--export", rel(export), *auditor_policy)
    expect(checked.returncode == 0, "verify_log.py passes on C's export of A's log")
    console.print("And live, over mutual TLS as the auditor, remembering what it verified:")
    c_address = next(n.peer_address for n in nodes if n.name == C)
    live = [
        "--node",
        c_address,
        "--auditor-home",
        rel(DEMO / AUDITOR),
        "--node-card",
        rel(DEMO / "cards" / f"{C}.json"),
        "--origin",
        ORIGIN_A,
        *auditor_policy,
        "--state",
        rel(DEMO / AUDITOR / "verify-log-state.json"),
    ]
    checked = script("verify_log.py", *live)
    expect(checked.returncode == 0, "verify_log.py passes live against C, as the auditor")
    console.print("C logged every read the auditor made:")
    hashfed(C, "audit", "reads")

    step(f"9. A retracts entry {RETRACT}; the retraction travels A -> B -> C")
    hashfed(A, "retract", str(RETRACT), "--reason", "demo: shared by mistake")
    hashfed(B, "sync")
    hashfed(C, "sync")
    probe = queries[RETRACT * len(sample_media.TRANSFORMS)][0]
    again = hashfed_json(C, "match", rel(probe), check=False)
    assert isinstance(again, list)
    still = [
        m for m in again[0]["matches"] if m["origin"] == ORIGIN_A and m["entry_index"] == RETRACT
    ]
    console.print(f"{probe.name} at {C}: {'still matches!' if still else 'no match any more'}")
    expect(not still, f"{C} no longer matches {ORIGIN_A} entry {RETRACT}")
    console.print(
        "The auditor checks again: A's log grew, and the new tree must extend the one it "
        "verified before (its state file), or the audit fails as a rollback or a rewrite:"
    )
    checked = script("verify_log.py", *live)
    expect(checked.returncode == 0, "A's grown log still extends what the auditor verified")

    step("10. C's view of the network")
    hashfed(C, "status")
    report = hashfed_json(C, "status")
    assert isinstance(report, dict)
    sizes = {o["origin"]: o["size"] for o in report["origins"]}
    expect(sizes.get(ORIGIN_A) == PICTURES + 1, f"C holds A's log at size {PICTURES + 1}")
    expect(sizes.get(devnet.origin_of(B)) == 1, "C holds B's log (the opinion) at size 1")
    expect(report["evidence"] == 0, "no equivocation evidence")
    for peer in report["peers"]:
        error_ms, success_ms = peer["last_error_ms"], peer["last_success_ms"]
        expect(success_ms is not None, f"C synced successfully with {peer['name']}")
        if error_ms is not None and success_ms is not None and error_ms < success_ms:
            console.print(
                f"(The last error with {peer['name']} dates from start-up, when it was not "
                "listening yet; every sync since has succeeded.)"
            )

    if failures:
        console.print("[bold red]Demo expectations failed:[/]", *failures, sep="\n  ")
        return 1
    console.print(
        f"[bold green]Demo complete:[/] {C} learned {ORIGIN_A}'s hashes through {B} alone, "
        "matched every edited copy with origin A (and B's opinion), witnessed by B and C, proved "
        "an entry with A's key alone, passed an independent audit of A's log, and stopped "
        "matching the entry A retracted."
    )
    return 0


def verify_bundle(bundle: Path, key: str, *policy: str) -> subprocess.CompletedProcess[str]:
    return script("verify_bundle.py", rel(bundle), "--key", key, *policy)


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the independent auditor scripts and show what it printed."""
    path = ROOT / "scripts" / name
    show(None, ["python", rel(path), *args])
    proc = subprocess.run(
        [sys.executable, rel(path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    console.print((proc.stdout.strip() + "\n" + proc.stderr.strip()).strip(), markup=False)
    return proc


if __name__ == "__main__":
    sys.exit(main())
