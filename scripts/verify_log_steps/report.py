"""What an audit of hashfed logs found: per-origin reports, the run's result, and its policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from auditlib.keys import VerifierKey
from auditlib.notes import SignedCheckpoint


@dataclass(frozen=True)
class CheckpointReport:
    size: int
    root: bytes
    witnesses: tuple[str, ...]
    other_lines: int  # signature lines besides the origin's (cosignatures, checked or not)


@dataclass
class OriginReport:
    """The summary of one origin that verified."""

    origin: str
    key: str
    minimum: int
    witnesses_given: bool = False
    entries: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"ADD": 0, "RETRACT": 0, "OPINION": 0})
    checkpoints: list[CheckpointReport] = field(default_factory=list)
    newest: SignedCheckpoint | None = None
    witnessed: int | None = None  # size of the newest checkpoint meeting --min (when --min > 0)
    max_unwitnessed: int | None = None
    notes: list[str] = field(default_factory=list)  # further lines: state, proofs, warnings

    @property
    def text(self) -> str:
        c = self.counts
        lines = [
            f"OK: {self.origin}: {self.entries} entries ({c['ADD']} ADD, {c['RETRACT']} "
            f"retractions, {c['OPINION']} opinions), {len(self.checkpoints)} checkpoints "
            f"signed by {self.key}"
        ]
        if self.checkpoints:
            lines.append(
                "  every checkpoint's root was recomputed from the entries, so every pair of "
                f"the {len(self.checkpoints)} checkpoints is consistent (one append-only log)"
            )
        for cp in self.checkpoints:
            head = f"  checkpoint size {cp.size} root {cp.root.hex()[:16]}: "
            if not self.witnesses_given:
                lines.append(
                    f"{head}{cp.other_lines} cosignature lines, not checked (no --witness given)"
                )
                continue
            verdict = "meets" if len(cp.witnesses) >= self.minimum else "below"
            names = ", ".join(cp.witnesses) or "none"
            lines.append(
                f"{head}{len(cp.witnesses)} witnesses ({names}), {verdict} --min {self.minimum}"
            )
        if self.witnessed is not None and self.newest is not None:
            lines.append(f"  {_witnessed_line(self)}")
        lines.extend(f"  {note}" for note in self.notes)
        return "\n".join(lines)


def tail_text(start: int, size: int, minimum: int) -> str:
    count = size - start
    return (
        f"entries {start}..{size - 1} ({count} {'entry' if count == 1 else 'entries'}) are not "
        f"yet covered by a checkpoint with {minimum} witnesses"
    )


def _witnessed_line(report: OriginReport) -> str:
    """``witnessed up to size S``, and the unwitnessed tail after it (if any)."""
    assert report.witnessed is not None and report.newest is not None
    start, size = report.witnessed, report.newest.size
    line = f"witnessed up to size {start} (newest checkpoint meeting --min {report.minimum})"
    if start >= size:
        return f"{line}; no unwitnessed tail"
    limit = report.max_unwitnessed
    allowed = "no --max-unwitnessed limit" if limit is None else f"within --max-unwitnessed {limit}"
    return f"{line}; unwitnessed tail: {tail_text(start, size, report.minimum)} ({allowed})"


@dataclass
class Result:
    """Everything one run found: summaries, failures, and the state to save on success."""

    reports: list[OriginReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def stdout(self) -> str:
        return "".join(r.text + "\n" for r in self.reports)

    @property
    def stderr(self) -> str:
        return "".join(f"FAIL: {f}\n" for f in self.failures)


@dataclass(frozen=True)
class Recorded:
    """The last checkpoint of an origin verified by an earlier run (from the state file)."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Policy:
    keys: dict[str, VerifierKey]
    witnesses: tuple[VerifierKey, ...]
    minimum: int
    state: dict[str, Recorded]
    max_unwitnessed: int | None = None


def make_policy(
    keys: Sequence[VerifierKey],
    witnesses: Sequence[VerifierKey],
    minimum: int,
    state: dict[str, Recorded] | None,
    max_unwitnessed: int | None = None,
) -> Policy:
    by_name: dict[str, VerifierKey] = {}
    for key in keys:
        if key.name in by_name and by_name[key.name] != key:
            raise ValueError(f"two different --key values for origin {key.name}")
        by_name[key.name] = key
    return Policy(by_name, tuple(dict.fromkeys(witnesses)), minimum, state or {}, max_unwitnessed)
