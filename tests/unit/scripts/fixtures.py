"""Real logs, keys, checkpoints, cosignatures and files for the auditor-script tests.

Everything is built with the node's own implementation (``node.log``), so the auditor scripts,
which share no code with it, cross-check it: a format either side misreads fails these tests.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.cosignature import CosignerKey, with_cosignatures
from node.log.entry import Add, Entry, EntryRef, Labels, Opinion, Retract, Verdict, encode_entry
from node.log.keys import SignerKey
from node.log.merkle import leaf_hash, root_of
from node.log.proofs import consistency_proof, inclusion_proof

ROOT = Path(__file__).resolve().parents[3]
SCRIPTS = ROOT / "scripts"
ORIGIN = "acme.example"
MILLIS = 1_700_000_000_000


def load_script(name: str) -> ModuleType:
    """Import ``scripts/<name>.py`` by path, as an auditor would run it (not as a package)."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def load_auditlib(module: str) -> ModuleType:
    """Import ``scripts/auditlib/<module>.py`` as the scripts do (``scripts/`` on the path)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(f"auditlib.{module}")


def run_script(
    name: str,
    *args: str | Path,
    input: str | bytes | None = None,
    text: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """Run ``scripts/<name>`` (``.py`` optional) in a child process from the repository root, as
    an auditor would; its output is captured and its exit code left for the caller to check."""
    return subprocess.run(
        [sys.executable, str(SCRIPTS / Path(name).with_suffix(".py")), *map(str, args)],
        input=input,
        capture_output=True,
        text=text,
        check=False,
        timeout=timeout,
        cwd=ROOT,
    )


def add_entry(origin: str, number: int) -> bytes:
    signal = ComputedSignal(parse_signal(f"md5:{number:032x}"), None)
    statement = Add((signal,), Labels(entity="Example Front", tags=("t",)), note=f"n{number}")
    return encode_entry(Entry(origin, MILLIS + number, statement))


def retract_entry(origin: str, target: int) -> bytes:
    return encode_entry(Entry(origin, MILLIS, Retract(target, "mistake")))


def opinion_entry(origin: str, target_origin: str, index: int, target: bytes) -> bytes:
    ref = EntryRef(target_origin, index, leaf_hash(target))
    return encode_entry(Entry(origin, MILLIS, Opinion(ref, Verdict.FALSE_POSITIVE, False)))


@dataclass
class Log:
    """An origin's log: entries, and a signed (optionally cosigned) checkpoint per batch."""

    origin: str = ORIGIN
    signer: SignerKey = field(default=None)  # type: ignore[assignment]
    entries: list[bytes] = field(default_factory=list)
    checkpoints: list[tuple[int, str]] = field(default_factory=list)  # (size, cosigned note)

    def __post_init__(self) -> None:
        if self.signer is None:
            self.signer = SignerKey.generate(self.origin)

    @property
    def vkey(self) -> str:
        return str(self.signer.verifier())

    def leaves(self, size: int | None = None) -> list[bytes]:
        return [leaf_hash(e) for e in self.entries[:size]]

    def root(self, size: int | None = None) -> bytes:
        return root_of(self.leaves(size))

    def sign(self, size: int | None = None, root: bytes | None = None) -> str:
        """The origin's signed note for the tree of ``size`` (default: every entry)."""
        size = len(self.entries) if size is None else size
        root = self.root(size) if root is None else root
        return SignedCheckpoint.sign(Checkpoint(self.origin, size, root), self.signer).text()

    def publish(self, *entries: bytes, witnesses: tuple[CosignerKey, ...] = ()) -> str:
        """Append a batch and a checkpoint covering it, cosigned by ``witnesses``."""
        self.entries.extend(entries)
        note = cosign(self.sign(), witnesses)
        self.checkpoints.append((len(self.entries), note))
        return note

    def consistency(self, old: int, new: int | None = None) -> list[bytes]:
        return consistency_proof(old, self.leaves(new))

    def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, self.leaves(size))


def cosign(note: str, witnesses: tuple[CosignerKey, ...], timestamp: int = 1_700_000_000) -> str:
    if not witnesses:
        return note
    body = note.split("\n\n", maxsplit=1)[0] + "\n"
    return with_cosignatures(note, [w.cosign(body, timestamp) for w in witnesses])


def sample_log(origin: str = ORIGIN, witnesses: tuple[CosignerKey, ...] = ()) -> Log:
    """Three batches: 3 ADDs; 2 ADDs, a RETRACT; an ADD and an OPINION (9 entries)."""
    log = Log(origin)
    log.publish(*(add_entry(origin, i) for i in range(3)), witnesses=witnesses)
    log.publish(
        add_entry(origin, 3), add_entry(origin, 4), retract_entry(origin, 1), witnesses=witnesses
    )
    log.publish(
        add_entry(origin, 6),
        opinion_entry(origin, origin, 0, log.entries[0]),
        add_entry(origin, 8),
        witnesses=witnesses,
    )
    return log


def write_export(folder: Path, *logs: Log, exported_by: str = "b.example") -> Path:
    """A hashfed-export/v1 folder, written from the spec (docs/audit.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    origins = []
    for log in logs:
        sub = folder / log.origin
        sub.mkdir()
        with (sub / "entries.jsonl").open("w", encoding="utf-8", newline="\n") as f:
            for index, entry in enumerate(log.entries):
                record = {"index": index, "entry": base64.b64encode(entry).decode()}
                f.write(json.dumps(record) + "\n")
        with (sub / "checkpoints.jsonl").open("w", encoding="utf-8", newline="\n") as f:
            for size, note in log.checkpoints:
                f.write(json.dumps({"size": size, "note": note}) + "\n")
        origins.append(
            {
                "origin": log.origin,
                "verifier_key": log.vkey,
                "witness_key": None,
                "size": len(log.entries),
            }
        )
    manifest = {
        "format": "hashfed-export/v1",
        "exported_by": exported_by,
        "exported_at_ms": MILLIS,
        "origins": origins,
        "witnesses": {},
    }
    (folder / "export.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder
