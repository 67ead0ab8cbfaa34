"""scripts/verify_log.py's LogAuditor: one loop over any LogSource, whatever the source is.

A third source, a log held in memory, goes through the same auditor as an export folder and
gives the same reports and the same failures: the source only says what to read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.unit.scripts.fixtures import ORIGIN, Log, load_auditlib, load_script, sample_log
from tests.unit.scripts.fixtures import write_export as export_of

vl = load_script("verify_log")
errors = load_auditlib("errors")


class MemorySource(vl.LogSource):
    """Logs held in memory; ``confirm`` records what the auditor hands it, and can refuse."""

    absent = "in memory"

    def __init__(self, logs: dict[str, Log], wanted: frozenset[int] = frozenset()) -> None:
        self.logs = logs
        self.indices = wanted
        self.confirmed: dict[str, tuple[dict[int, bytes], dict[int, bytes]]] = {}
        self.refuse: set[str] = set()
        self.closed = False

    def origins(self) -> list[str]:
        return sorted(self.logs)

    def not_held(self, origin: str) -> str:
        return f"origin {origin!r} is not in memory"

    def checkpoints(self, origin: str) -> list[tuple[int | None, str]]:
        return [(size, note) for size, note in self.logs[origin].checkpoints]

    def entries(self, origin: str, notes: Sequence[tuple[int | None, str]]) -> Iterator[bytes]:
        return iter(self.logs[origin].entries)

    def wanted(self, notes: Sequence[tuple[int | None, str]]) -> frozenset[int]:
        return self.indices

    def confirm(
        self, report: Any, roots: dict[int, bytes], kept: dict[int, bytes], policy: Any
    ) -> None:
        self.confirmed[report.origin] = (roots, kept)
        if report.origin in self.refuse:
            errors.fail(f"{report.origin}: refused by the source")

    def close(self) -> None:
        self.closed = True


def policy(*logs: Log) -> Any:
    keys = [vl.parse_verifier_key(log.vkey) for log in logs]
    return vl.make_policy(keys, [], 0, None)


def test_a_log_in_memory_reports_exactly_what_its_export_reports(tmp_path: Path) -> None:
    log = sample_log()
    source = MemorySource({ORIGIN: log})

    from_memory = vl.LogAuditor(source, policy(log)).run()
    from_export = vl.audit_export(export_of(tmp_path / "x", log), [vl.parse_verifier_key(log.vkey)])

    assert from_memory.failures == [] and from_export.failures == []
    assert from_memory.stdout == from_export.stdout
    assert from_memory.stdout.startswith(f"OK: {ORIGIN}: 9 entries (7 ADD, 1 retractions,")


def test_an_altered_entry_fails_with_the_same_words_from_any_source(tmp_path: Path) -> None:
    log = sample_log()
    folder = export_of(tmp_path / "x", log)
    log.entries[1] = log.entries[2]  # a duplicate in place of entry 1: the signed root breaks

    from_memory = vl.LogAuditor(MemorySource({ORIGIN: log}), policy(log)).run()
    from_export = vl.audit_export(export_of(tmp_path / "y", log), [vl.parse_verifier_key(log.vkey)])

    assert len(from_memory.failures) == 1
    assert "entries 0..2 give root" in from_memory.failures[0]
    assert from_memory.failures == from_export.failures
    assert vl.audit_export(folder, [vl.parse_verifier_key(log.vkey)]).ok  # the first export


def test_the_source_confirms_last_with_the_verified_roots_and_the_entries_it_asked_for() -> None:
    log = sample_log()
    source = MemorySource({ORIGIN: log}, wanted=frozenset({0, 8}))

    result = vl.LogAuditor(source, policy(log)).run()

    assert result.ok, result.stderr
    roots, kept = source.confirmed[ORIGIN]
    assert kept == {0: log.entries[0], 8: log.entries[8]}
    assert {size: roots[size] for size in (3, 6, 9)} == {s: log.root(s) for s in (3, 6, 9)}


def test_a_failure_in_one_origin_leaves_the_others_reported() -> None:
    first, second = sample_log("a.example"), sample_log("b.example")
    source = MemorySource({"a.example": first, "b.example": second})
    source.refuse.add("a.example")

    result = vl.LogAuditor(source, policy(first, second)).run()

    assert result.failures == ["a.example: refused by the source"]
    assert [r.origin for r in result.reports] == ["b.example"]


def test_an_origin_the_source_does_not_hold_is_worded_by_the_source() -> None:
    log = sample_log()

    result = vl.LogAuditor(MemorySource({ORIGIN: log}), policy(log)).run("other.example")

    assert result.failures == ["origin 'other.example' is not in memory"]
    assert result.reports == []
