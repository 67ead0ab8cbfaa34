#!/usr/bin/env python3
"""`make demo`: one node publishes labelled hashes, matches edited copies, and proves provenance.

Everything runs through the real `hashfed` command, in a fresh home under `.demo/` (deleted and
re-created on every run; see README.md). Exits non-zero if anything the demo shows did not hold.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from node import sample_media

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
HOME = DEMO / "acme"
MEDIA = DEMO / "media"
ORIGIN = "acme.example"
PICTURES = 6
HASHFED = str(Path(sys.executable).parent / "hashfed")

console = Console(highlight=False, soft_wrap=True)


def hashfed(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    shown = " ".join(shlex.quote(str(a).replace(str(ROOT) + "/", "")) for a in args)
    console.print(f"[bold cyan]$ hashfed {shown}[/]")
    env = {**os.environ, "HASHFED_HOME": str(HOME), "COLUMNS": "120"}
    proc = subprocess.run([HASHFED, *args], env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        console.print(proc.stdout, proc.stderr)
        raise SystemExit(f"demo failed: hashfed {shown} exited {proc.returncode}")
    return proc


def step(text: str) -> None:
    console.rule(f"[bold]{text}")


def main() -> int:
    shutil.rmtree(DEMO, ignore_errors=True)
    MEDIA.mkdir(parents=True)
    console.print(
        f"Demo home: {HOME.relative_to(ROOT)} (HASHFED_HOME); media in {MEDIA.relative_to(ROOT)}"
    )

    step("1. Create a node for the member acme.example")
    print(hashfed("init", "--origin", ORIGIN).stdout)

    step(f"2. Generate {PICTURES} pictures and publish their hashes with labels")
    originals = []
    for seed in range(PICTURES):
        path = MEDIA / f"original-{seed}.png"
        path.write_bytes(sample_media.png_bytes(sample_media.generate(seed)))
        originals.append(path)
    print(
        hashfed(
            "add",
            *map(str, originals),
            "--entity",
            "Example Front",
            "--content-type",
            "image",
            "--behaviour",
            "glorification",
            "--tag",
            "demo",
        ).stdout
    )

    step("3. Match edited copies of each picture, and one unrelated picture")
    queries: list[tuple[Path, str, int | None]] = []
    for seed, _original in enumerate(originals):
        image = sample_media.generate(seed)
        for label, transform in sample_media.TRANSFORMS.items():
            path = MEDIA / f"copy-{seed}-{label.split()[0].lower()}.jpg"
            path.write_bytes(sample_media.jpeg_bytes(transform(image), quality=90))
            queries.append((path, label, seed))
    unrelated = MEDIA / "unrelated.jpg"
    unrelated.write_bytes(sample_media.jpeg_bytes(sample_media.generate(10_000)))
    queries.append((unrelated, "unrelated picture", None))
    proc = hashfed("match", "--json", *(str(q[0]) for q in queries))
    results = json.loads(proc.stdout)

    table = Table("edited copy", "edit", "matched entry", "signal distances")
    failures = []
    for (path, label, seed), result in zip(queries, results, strict=True):
        matches = result["matches"]
        if matches:
            m = matches[0]
            signals = ", ".join(f"{s['type']} {s['distance']}" for s in m["signals"])
            table.add_row(path.name, label, f"{m['origin']} #{m['entry_index']}", signals)
        else:
            table.add_row(path.name, label, "[dim]no match[/]", "")
        expected = seed is not None
        if expected and not any(m["entry_index"] == seed for m in matches):
            failures.append(f"{path.name} ({label}) did not match entry {seed}")
        if not expected and matches:
            failures.append(f"{path.name} matched something it should not")
    console.print(table)
    console.print(
        "Distances are bits that differ: PDQ matches up to 31 of 256, pHash/dHash up "
        "to 10 of 64; PDQ does not survive cropping, pHash/dHash do."
    )
    copies = len(queries) - 1
    console.print(
        f"{copies - len(failures)} of {copies} edited copies matched their original; "
        f"the unrelated picture matched {len(results[-1]['matches'])} entries."
    )

    step("4. Prove provenance: a bundle anyone can check offline with acme's key alone")
    bundle = DEMO / "bundle-2.json"
    hashfed("proof", ORIGIN, "2", "--output", str(bundle))
    card = json.loads(hashfed("identity").stdout)
    console.print(
        f"[bold cyan]$ python scripts/verify_bundle.py {bundle.relative_to(ROOT)} "
        f"--key {card['verifier_key']}[/]"
    )
    verify = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "verify_bundle.py"),
            str(bundle),
            "--key",
            card["verifier_key"],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    console.print(verify.stdout.strip() or verify.stderr.strip())
    if verify.returncode != 0:
        failures.append("the provenance bundle did not verify")

    step("5. Retract entry 0: its copies stop matching")
    print(hashfed("retract", "0", "--reason", "demo: shared by mistake").stdout)
    again = json.loads(hashfed("match", "--json", str(queries[0][0])).stdout)
    still = [m for m in again[0]["matches"] if m["entry_index"] == 0]
    console.print(f"{queries[0][0].name}: {'still matches!' if still else 'no match any more'}")
    if still:
        failures.append("a retracted entry still matched")
    print(hashfed("log").stdout)

    if failures:
        console.print("[bold red]Demo expectations failed:[/]", *failures, sep="\n  ")
        return 1
    console.print(
        "[bold green]Demo complete:[/] every edited copy matched, the unrelated picture "
        "did not, the bundle verified offline, and the retraction took effect."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
