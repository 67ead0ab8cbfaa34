"""scripts/verify_log.py on export folders: every check, the state file, the command line.

Logs, checkpoints and cosignatures are made with the node's implementation; the export folder is
written from docs/audit.md by the test (the node's own ``export`` is covered in
tests/integration/test_verify_log_export.py).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.log.cosignature import CosignerKey
from node.log.keys import SignerKey
from tests.unit.scripts.fixtures import (
    ORIGIN,
    Log,
    add_entry,
    cosign,
    load_script,
    run_script,
    sample_log,
    write_export,
)

vl = load_script("verify_log")

W1, W2, W3 = (CosignerKey.generate(f"w{i}.example") for i in (1, 2, 3))
WITNESSES = [str(w.verifier()) for w in (W1, W2, W3)]


@pytest.fixture(scope="module")
def log() -> Log:
    return sample_log(witnesses=(W1, W2))


def audit(
    folder: Path,
    *keys: str,
    witnesses: list[str] | None = None,
    minimum: int = 0,
    origin: str | None = None,
    state: dict[str, Any] | None = None,
    max_unwitnessed: int | None = None,
) -> Any:
    return vl.audit_export(
        folder,
        [vl.parse_verifier_key(k) for k in keys],
        [vl.parse_witness_key(w) for w in (witnesses or [])],
        minimum,
        origin,
        state,
        max_unwitnessed,
    )


def failure(folder: Path, *keys: str, **options: object) -> str:
    result = audit(folder, *keys, **options)  # type: ignore[arg-type]
    assert isinstance(result, vl.Result)
    assert not result.ok, result.stdout
    return "\n".join(result.failures)


def entries_file(folder: Path, origin: str = ORIGIN) -> Path:
    return folder / origin / "entries.jsonl"


def checkpoints_file(folder: Path, origin: str = ORIGIN) -> Path:
    return folder / origin / "checkpoints.jsonl"


def rewrite_lines(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    change(lines)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


# --- what passes, and the summary -------------------------------------------------------------


def test_a_faithful_export_verifies_with_a_summary(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)

    result = audit(folder, log.vkey, witnesses=WITNESSES, minimum=2)

    assert result.ok, result.failures
    text = result.stdout
    assert text.startswith(
        f"OK: {ORIGIN}: 9 entries (7 ADD, 1 retractions, 1 opinions), 3 checkpoints signed by "
        f"{log.vkey}"
    )
    assert "every pair of the 3 checkpoints is consistent" in text
    for size in (3, 6, 9):
        assert (
            f"checkpoint size {size} root {log.root(size).hex()[:16]}: 2 witnesses "
            "(w1.example, w2.example), meets --min 2" in text
        )


def test_several_origins_are_audited_and_one_can_be_chosen(log: Log, tmp_path: Path) -> None:
    other = sample_log("globex.example")
    folder = write_export(tmp_path / "x", log, other)

    both = audit(folder, log.vkey, other.vkey)
    one = audit(folder, other.vkey, origin="globex.example")
    unknown = audit(folder, log.vkey, origin="initech.example")

    assert both.ok and [r.origin for r in both.reports] == [ORIGIN, "globex.example"]
    assert one.ok and [r.origin for r in one.reports] == ["globex.example"]
    assert "'initech.example' is not in the export" in unknown.failures[0]


def test_an_origin_without_a_key_fails_and_the_others_are_still_reported(
    log: Log, tmp_path: Path
) -> None:
    folder = write_export(tmp_path / "x", log, sample_log("globex.example"))

    result = audit(folder, log.vkey)

    assert [r.origin for r in result.reports] == [ORIGIN]
    assert result.failures == [
        "globex.example: no --key given for this origin; give its verifier key (obtained from "
        "the member) with --key, or audit only the origins you hold keys for with --origin"
    ]


def test_an_empty_log_verifies(tmp_path: Path) -> None:
    log = Log()
    log.checkpoints.append((0, log.sign(0)))
    folder = write_export(tmp_path / "x", log)

    result = audit(folder, log.vkey)

    assert result.ok, result.failures
    assert "0 entries" in result.stdout


# --- signatures ----------------------------------------------------------------------------


def test_another_key_of_the_same_name_fails(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    impostor = str(SignerKey.generate(ORIGIN).verifier())

    assert "acme.example checkpoint 1 has no signature by the given key" in failure(
        folder, impostor
    )


def test_a_checkpoint_signed_by_another_key_fails(log: Log, tmp_path: Path) -> None:
    forger = Log(ORIGIN, SignerKey.generate(ORIGIN), list(log.entries))
    folder = write_export(tmp_path / "x", log)
    rewrite_lines(checkpoints_file(folder), lambda cps: cps[1].update(note=forger.sign(6)))

    assert "acme.example checkpoint 2 has no signature by the given key" in failure(
        folder, log.vkey
    )


def test_checkpoint_listed_under_another_size_fails(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    rewrite_lines(checkpoints_file(folder), lambda cps: cps[0].update(size=4))

    assert "is listed with size 4 but its signed size is 3" in failure(folder, log.vkey)


def test_checkpoints_out_of_order_fail(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    rewrite_lines(checkpoints_file(folder), lambda cps: cps.reverse())

    assert "expected checkpoints in strictly ascending size" in failure(folder, log.vkey)


def test_two_roots_for_one_size_is_reported_as_equivocation(log: Log, tmp_path: Path) -> None:
    fork = Log(ORIGIN, log.signer, [*log.entries[:5], add_entry(ORIGIN, 99)])
    folder = write_export(tmp_path / "x", log)
    rewrite_lines(
        checkpoints_file(folder), lambda cps: cps.insert(2, {"size": 6, "note": fork.sign(6)})
    )

    assert "acme.example EQUIVOCATION: two checkpoints of size 6" in failure(folder, log.vkey)


# --- entries -------------------------------------------------------------------------------


def test_a_changed_entry_fails_naming_the_entries_and_the_roots(log: Log, tmp_path: Path) -> None:
    changed = Log(ORIGIN, log.signer, list(log.entries), list(log.checkpoints))
    changed.entries[4] = add_entry(ORIGIN, 44)
    folder = write_export(tmp_path / "x", changed)

    reason = failure(folder, log.vkey)

    assert reason == (
        f"acme.example: entries 0..5 give root {changed.root(6).hex()}, but the checkpoint of "
        f"size 6 signed by acme.example has root {log.root(6).hex()}: one of entries 3..5 is "
        "not what the origin signed"
    )


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_single_byte_change_of_any_entry_fails(
    log: Log, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(log.entries) - 1))
    entry = log.entries[index]
    position = data.draw(st.integers(0, len(entry) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != entry[position]))
    changed = Log(ORIGIN, log.signer, list(log.entries), list(log.checkpoints))
    changed.entries[index] = entry[:position] + bytes([value]) + entry[position + 1 :]
    folder = write_export(tmp_path_factory.mktemp("x"), changed)

    assert f"{ORIGIN}" in failure(folder, log.vkey)


def test_every_single_byte_change_of_the_entries_file_fails(tmp_path: Path) -> None:
    log = Log()
    log.publish(add_entry(ORIGIN, 0), add_entry(ORIGIN, 1))
    folder = write_export(tmp_path / "x", log)
    path = entries_file(folder)
    data = path.read_bytes()
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x01
        path.write_bytes(bytes(changed))
        assert not audit(folder, log.vkey).ok, position
    path.write_bytes(data)
    assert audit(folder, log.vkey).ok


def test_an_entry_naming_another_origin_fails_even_when_signed(tmp_path: Path) -> None:
    log = Log()
    log.publish(add_entry(ORIGIN, 0), add_entry("globex.example", 1))
    folder = write_export(tmp_path / "x", log)

    assert failure(folder, log.vkey) == (
        "acme.example entry 1 names origin 'globex.example' in its field 1; expected 'acme.example'"
    )


def test_an_entry_without_a_statement_fails_even_when_signed(tmp_path: Path) -> None:
    log = Log()
    log.publish(b"\x0a\x0c" + ORIGIN.encode())
    folder = write_export(tmp_path / "x", log)

    assert "acme.example entry 0 carries no statement" in failure(folder, log.vkey)


def test_missing_extra_and_misnumbered_entries_fail(log: Log, tmp_path: Path) -> None:
    cases = {
        "only 8 entries, but the newest checkpoint has size 9": lambda es: es.pop(),
        "entry 9 lies beyond the newest checkpoint": lambda es: es.append(dict(es[0], index=9)),
        "line 4 has index 4; expected 3": lambda es: es.pop(3),
    }
    for message, change in cases.items():
        folder = write_export(tmp_path / message[:12].replace(" ", "-"), log)
        rewrite_lines(entries_file(folder), change)
        assert message in failure(folder, log.vkey)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"index": 0}\n', "expected exactly index, entry"),
        (b'{"index": 0, "entry": "CgxhY21lLmV4YW1wbGU=", "x": 1}\n', "expected exactly"),
        (b'{"index": 0, "entry": "CgxhY21lLmV4YW1wbGV="}\n', "not canonical base64"),
        (b'{"index": 0, "index": 0, "entry": ""}\n', "twice"),
        (b"[]\n", "expected a JSON object"),
        (b'{"index": 0, "entry": ""}', "does not end with a newline"),
    ],
)
def test_malformed_entry_lines_fail(tmp_path: Path, line: bytes, message: str) -> None:
    log = Log()
    log.publish(add_entry(ORIGIN, 0))
    folder = write_export(tmp_path / "x", log)
    entries_file(folder).write_bytes(line)

    assert message in failure(folder, log.vkey)


def test_manifest_checks(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    manifest = json.loads((folder / "export.json").read_text())
    cases = [
        (dict(manifest, format="hashfed-export/v2"), "export.json format"),
        (dict(manifest, origins=[dict(manifest["origins"][0], size=8)]), "has 8 entries"),
        (dict(manifest, origins=[dict(manifest["origins"][0], origin="../etc")]), "not an origin"),
        (dict(manifest, origins=manifest["origins"] * 2), "twice"),
    ]
    for changed, message in cases:
        (folder / "export.json").write_text(json.dumps(changed))
        assert message in failure(folder, log.vkey)
    shutil.rmtree(folder / ORIGIN)
    (folder / "export.json").write_text(json.dumps(manifest))
    assert "cannot read acme.example/checkpoints.jsonl" in failure(folder, log.vkey)


def test_keys_in_the_export_are_never_used(log: Log, tmp_path: Path) -> None:
    forger = Log(ORIGIN)
    forger.publish(*log.entries)
    folder = write_export(tmp_path / "x", forger)  # lists the forger's key in export.json

    assert "has no signature by the given key" in failure(folder, log.vkey)
    ok = audit(folder, forger.vkey)
    assert ok.ok


def test_a_differing_key_in_the_manifest_is_noted(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    manifest = json.loads((folder / "export.json").read_text())
    manifest["origins"][0]["verifier_key"] = str(SignerKey.generate(ORIGIN).verifier())
    (folder / "export.json").write_text(json.dumps(manifest))

    assert "not the --key given (only --key was used)" in audit(folder, log.vkey).stdout


# --- witnesses -----------------------------------------------------------------------------


def _lagging_log() -> Log:
    """Sizes 1 (cosigned by w1, w2), 2 (by w1: w2 has not synced yet) and 3 (by nobody yet)."""
    log = Log()
    log.publish(add_entry(ORIGIN, 0), witnesses=(W1, W2))
    log.publish(add_entry(ORIGIN, 1), witnesses=(W1,))
    log.publish(add_entry(ORIGIN, 2))
    return log


LAGGING = _lagging_log()


def test_a_newest_checkpoint_below_min_is_an_unwitnessed_tail_not_a_failure(
    tmp_path: Path,
) -> None:
    log = LAGGING
    folder = write_export(tmp_path / "x", log)

    two = audit(folder, log.vkey, witnesses=WITNESSES, minimum=2)
    one = audit(folder, log.vkey, witnesses=WITNESSES, minimum=1)

    assert two.ok, two.failures
    assert "checkpoint size 2 root" in two.stdout
    assert "1 witnesses (w1.example), below --min 2" in two.stdout  # per-checkpoint lines kept
    assert "0 witnesses (none), below --min 2" in two.stdout
    assert (
        "witnessed up to size 1 (newest checkpoint meeting --min 2); unwitnessed tail: entries "
        "1..2 (2 entries) are not yet covered by a checkpoint with 2 witnesses (no "
        "--max-unwitnessed limit)" in two.stdout
    )
    assert one.ok, one.failures
    assert "1 witnesses (w1.example), meets --min 1" in one.stdout
    assert (
        "witnessed up to size 2 (newest checkpoint meeting --min 1); unwitnessed tail: entries "
        "2..2 (1 entry)" in one.stdout
    )


def test_a_fully_witnessed_log_has_no_tail(log: Log, tmp_path: Path) -> None:
    result = audit(write_export(tmp_path / "x", log), log.vkey, witnesses=WITNESSES, minimum=2)

    assert result.ok, result.failures
    assert "witnessed up to size 9 (newest checkpoint meeting --min 2); no unwitnessed tail" in (
        result.stdout
    )


def test_no_checkpoint_meeting_min_fails(tmp_path: Path) -> None:
    log = Log()
    log.publish(add_entry(ORIGIN, 0), witnesses=(W1,))
    log.publish(add_entry(ORIGIN, 1), witnesses=(W2,))
    folder = write_export(tmp_path / "x", log)

    reason = failure(folder, log.vkey, witnesses=WITNESSES, minimum=2)

    assert reason == (
        "acme.example NOT WITNESSED: no checkpoint has valid cosignatures by at least 2 of the "
        "given witnesses other than the origin (the most any has is 1 (w1.example, on the "
        "checkpoint of size 1)); expected at least one checkpoint meeting --min 2"
    )


def test_no_checkpoint_at_all_does_not_meet_min(tmp_path: Path) -> None:
    log = Log()
    folder = write_export(tmp_path / "x", log)

    reason = failure(folder, log.vkey, witnesses=WITNESSES, minimum=1)

    assert reason.startswith("acme.example NOT WITNESSED: no checkpoint has valid cosignatures")
    assert "(there is no checkpoint)" in reason


@pytest.mark.parametrize(("limit", "ok"), [(0, False), (1, False), (2, True), (5, True)])
def test_max_unwitnessed_bounds_the_tail(tmp_path: Path, limit: int, ok: bool) -> None:
    log = LAGGING
    folder = write_export(tmp_path / "x", log)

    result = audit(folder, log.vkey, witnesses=WITNESSES, minimum=2, max_unwitnessed=limit)

    assert result.ok == ok, result.failures
    if ok:
        assert (
            "(2 entries) are not yet covered by a checkpoint with 2 witnesses (within "
            f"--max-unwitnessed {limit})" in result.stdout
        )
    else:
        assert result.failures == [
            "acme.example UNWITNESSED TAIL TOO LONG: witnessed up to size 1, but entries 1..2 "
            "(2 entries) are not yet covered by a checkpoint with 2 witnesses; expected at most "
            f"{limit} (--max-unwitnessed {limit})"
        ]


def test_unknown_witnesses_are_ignored_and_the_origin_never_counts(tmp_path: Path) -> None:
    log = Log()
    own = CosignerKey.generate(ORIGIN)  # the origin's own witness key
    stranger = CosignerKey.generate("stranger.example")
    log.publish(add_entry(ORIGIN, 0), witnesses=(own, stranger, W3))
    folder = write_export(tmp_path / "x", log)

    result = audit(folder, log.vkey, witnesses=[*WITNESSES, str(own.verifier())], minimum=1)

    assert result.ok, result.failures
    assert "1 witnesses (w3.example), meets --min 1" in result.stdout


def test_a_cosignature_claiming_a_given_witness_that_does_not_verify_fails(
    tmp_path: Path,
) -> None:
    log = Log()
    log.publish(add_entry(ORIGIN, 0))
    other_body = Log(ORIGIN, log.signer, [add_entry(ORIGIN, 5)]).sign()
    lines = cosign(other_body, (W1,)).splitlines(keepends=True)
    bad_line = next(x for x in lines if x.startswith("\u2014 w1.example "))  # of another tree
    note = log.checkpoints[0][1] + bad_line
    log.checkpoints[0] = (1, note)
    folder = write_export(tmp_path / "x", log)

    reason = failure(folder, log.vkey, witnesses=WITNESSES)

    assert "signature line 2 (witness w1.example+" in reason
    assert "does not verify over the acme.example checkpoint 1 text" in reason


# --- the state file: rollback and rewrite ----------------------------------------------------


def _grown(log: Log) -> Log:
    grown = Log(ORIGIN, log.signer, list(log.entries), list(log.checkpoints))
    grown.publish(add_entry(ORIGIN, 20), add_entry(ORIGIN, 21))
    return grown


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_script("verify_log.py", *args)


def test_state_records_the_newest_checkpoint_and_accepts_growth(log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = write_export(tmp_path / "one", log)
    second = write_export(tmp_path / "two", _grown(log))

    one = _cli("--export", str(first), "--key", log.vkey, "--state", str(state))
    recorded = json.loads(state.read_text())
    two = _cli("--export", str(second), "--key", log.vkey, "--state", str(state))

    assert one.returncode == 0, one.stderr
    assert recorded["format"] == "hashfed-verify-log-state/v1"
    assert recorded["origins"][ORIGIN] == {
        "size": 9,
        "root": log.root().hex(),
        "note": log.checkpoints[-1][1],
    }
    assert two.returncode == 0, two.stderr
    assert "state: newest size 11 >= recorded 9" in two.stdout
    assert json.loads(state.read_text())["origins"][ORIGIN]["size"] == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "state.json", "two"]


def test_rollback_is_detected_and_the_state_is_kept(log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    newer = write_export(tmp_path / "new", _grown(log))
    older = write_export(tmp_path / "old", log)
    assert _cli("--export", str(newer), "--key", log.vkey, "--state", str(state)).returncode == 0
    before = state.read_bytes()

    rolled = _cli("--export", str(older), "--key", log.vkey, "--state", str(state))

    assert rolled.returncode == 1
    assert rolled.stderr.startswith(
        "FAIL: acme.example ROLLBACK: the newest checkpoint has size 9, but an earlier audit "
        "verified a checkpoint of size 11"
    )
    assert state.read_bytes() == before


def test_rewriting_is_detected_and_the_state_is_kept(log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    assert (
        _cli(
            "--export",
            str(write_export(tmp_path / "a", log)),
            "--key",
            log.vkey,
            "--state",
            str(state),
        ).returncode
        == 0
    )
    before = state.read_bytes()
    # The origin re-signs a different history that still grows: every checkpoint verifies and
    # reproduces its entries, but the tree at the recorded size is not the one audited before.
    rewritten = Log(ORIGIN, log.signer)
    rewritten.publish(*log.entries[:8], add_entry(ORIGIN, 77))
    rewritten.publish(add_entry(ORIGIN, 78))

    run = _cli(
        "--export",
        str(write_export(tmp_path / "b", rewritten)),
        "--key",
        log.vkey,
        "--state",
        str(state),
    )

    assert run.returncode == 1
    assert run.stderr.startswith(
        f"FAIL: acme.example REWRITE: the log's root at size 9 is now {rewritten.root(9).hex()}, "
        f"but an earlier audit verified root {log.root().hex()} at that size"
    )
    assert state.read_bytes() == before


def test_state_of_other_origins_is_kept(log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    other = sample_log("globex.example")
    folder = write_export(tmp_path / "x", log, other)
    base = ["--export", str(folder), "--key", log.vkey, "--key", other.vkey, "--state", str(state)]

    assert _cli(*base).returncode == 0
    assert _cli(*base, "--origin", ORIGIN).returncode == 0
    assert sorted(json.loads(state.read_text())["origins"]) == ["acme.example", "globex.example"]


def _record(tmp_path: Path, *logs: Log) -> tuple[Path, bytes, list[str]]:
    """A state file recording ``logs`` (one CLI run over an export of all of them)."""
    state = tmp_path / "state.json"
    keys = [arg for log in logs for arg in ("--key", log.vkey)]
    folder = write_export(tmp_path / "recorded", *logs)
    first = _cli("--export", str(folder), *keys, "--state", str(state))
    assert first.returncode == 0, first.stderr
    return state, state.read_bytes(), keys


def test_a_recorded_origin_missing_from_the_export_is_a_rollback(log: Log, tmp_path: Path) -> None:
    other = sample_log("globex.example")
    state, before, keys = _record(tmp_path, log, other)
    dropped = write_export(tmp_path / "dropped", other)  # the node dropped acme.example's log

    run = _cli("--export", str(dropped), *keys, "--state", str(state))

    assert run.returncode == 1
    assert run.stderr == (
        f"FAIL: acme.example ROLLBACK: acme.example was verified at size 9 before (root "
        f"{log.root().hex()}) but is no longer exported; a log never disappears\n"
    )
    assert run.stdout.startswith("OK: globex.example: 9 entries")  # the others still reported
    assert state.read_bytes() == before


def test_a_chosen_recorded_origin_missing_from_the_export_is_a_rollback(
    log: Log, tmp_path: Path
) -> None:
    other = sample_log("globex.example")
    state, before, keys = _record(tmp_path, log, other)
    dropped = write_export(tmp_path / "dropped", other)

    chosen = _cli("--export", str(dropped), *keys, "--state", str(state), "--origin", ORIGIN)
    # Auditing only globex.example judges only it: acme.example is not asked about.
    only_other = _cli(
        "--export", str(dropped), *keys, "--state", str(state), "--origin", "globex.example"
    )

    assert chosen.returncode == 1
    assert chosen.stdout == ""
    assert chosen.stderr.startswith(
        "FAIL: acme.example ROLLBACK: acme.example was verified at size 9 before"
    )
    assert "is no longer exported" in chosen.stderr
    assert "is not in the export" not in chosen.stderr
    assert only_other.returncode == 0, only_other.stderr
    assert json.loads(state.read_text())["origins"][ORIGIN]["size"] == 9  # still recorded
    assert json.loads(before)["origins"] == json.loads(state.read_text())["origins"]


def test_an_export_without_origins_is_nothing_to_audit(log: Log, tmp_path: Path) -> None:
    empty = write_export(tmp_path / "empty")
    fresh_state = tmp_path / "fresh.json"

    fresh = _cli("--export", str(empty), "--key", log.vkey, "--state", str(fresh_state))
    without_state = audit(empty, log.vkey)
    state, before, keys = _record(tmp_path, log)
    recorded = _cli("--export", str(empty), *keys, "--state", str(state))

    assert fresh.returncode == 1
    assert fresh.stderr == "FAIL: nothing to audit: no origin is exported\n"
    assert not fresh_state.exists()
    assert without_state.failures == ["nothing to audit: no origin is exported"]
    assert recorded.returncode == 1
    assert recorded.stderr.splitlines() == [
        f"FAIL: acme.example ROLLBACK: acme.example was verified at size 9 before (root "
        f"{log.root().hex()}) but is no longer exported; a log never disappears",
        "FAIL: nothing to audit: no origin is exported",
    ]
    assert state.read_bytes() == before


def test_an_unknown_origin_not_recorded_is_not_a_rollback(log: Log, tmp_path: Path) -> None:
    state, before, keys = _record(tmp_path, log)
    folder = write_export(tmp_path / "x", log)

    run = _cli("--export", str(folder), *keys, "--state", str(state), "--origin", "initech.example")

    assert run.returncode == 1
    assert run.stderr == (
        "FAIL: origin 'initech.example' is not in the export (it holds acme.example)\n"
    )
    assert state.read_bytes() == before


def test_witness_failures_keep_the_state(tmp_path: Path) -> None:
    log = LAGGING
    state = tmp_path / "state.json"
    folder = write_export(tmp_path / "x", log)
    base = ["--export", str(folder), "--key", log.vkey, "--state", str(state)]
    witnesses = [arg for w in WITNESSES for arg in ("--witness", w)]
    lagging = _cli(*base, *witnesses, "--min", "2")
    before = state.read_bytes()

    tail = _cli(*base, *witnesses, "--min", "2", "--max-unwitnessed", "1")
    unmet = _cli(*base, *witnesses[:2], "--min", "1", "--max-unwitnessed", "0")
    never = _cli(*base, "--witness", WITNESSES[2], "--min", "1")

    assert lagging.returncode == 0, lagging.stderr
    assert "witnessed up to size 1" in lagging.stdout
    assert json.loads(before)["origins"][ORIGIN]["size"] == 3  # the newest checkpoint
    assert tail.returncode == 1
    assert tail.stdout == ""
    assert tail.stderr.startswith("FAIL: acme.example UNWITNESSED TAIL TOO LONG: witnessed up to ")
    assert unmet.returncode == 1
    assert "UNWITNESSED TAIL TOO LONG: witnessed up to size 2, but entries 2..2" in unmet.stderr
    assert never.returncode == 1
    assert never.stderr.startswith("FAIL: acme.example NOT WITNESSED: ")
    assert state.read_bytes() == before


def test_a_malformed_state_file_fails(log: Log, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": "something else", "origins": {}}')
    folder = write_export(tmp_path / "x", log)

    run = _cli("--export", str(folder), "--key", log.vkey, "--state", str(state))

    assert run.returncode == 1
    assert "FAIL: state file" in run.stderr


# --- the command line ------------------------------------------------------------------------


def test_cli_reads_keys_from_files_and_prints_the_summary(log: Log, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", log)
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{log.vkey}\n\n{SignerKey.generate('globex.example').verifier()}\n")
    witnesses = tmp_path / "witnesses.txt"
    witnesses.write_text("\n".join(WITNESSES) + "\n")

    run = _cli(
        "--export", str(folder), "--key", f"@{keys}", "--witness", f"@{witnesses}", "--min", "2"
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"OK: {ORIGIN}: 9 entries")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "{x}"], "--key"),
        (["--export", "{x}", "--key", "acme.example+00000000+AAAA"], "verifier key"),
        (["--export", "{x}", "--key", "{w}"], "expected 0x01"),
        (["--export", "{x}", "--key", "{k}", "--witness", "{k}"], "expected 0x04"),
        (["--export", "{x}", "--key", "{k}", "--min", "1"], "can never be met"),
        (["--export", "{x}", "--key", "{k}", "--min", "-1"], "whole number"),
        (["--export", "{x}", "--key", "{k}", "--max-unwitnessed", "1"], "needs --min"),
        (["--export", "{x}", "--key", "{k}", "--max-unwitnessed", "x"], "whole number"),
        (["--export", "{x}/none", "--key", "{k}"], "is not a folder"),
        (["--node", "127.0.0.1:1", "--key", "{k}"], "--auditor-home"),
        (["--export", "{x}", "--node", "127.0.0.1:1", "--key", "{k}"], "not allowed with"),
        (["--export", "{x}", "--key", "{k}", "--state", "{x}"], "is a folder"),
        (["--export", "{x}", "--key", "{k}", "--key", "{k2}"], "two different --key"),
    ],
)
def test_cli_usage_errors_exit_2(log: Log, tmp_path: Path, args: list[str], message: str) -> None:
    folder = write_export(tmp_path / "x", log)
    values = {
        "x": str(folder),
        "k": log.vkey,
        "k2": str(SignerKey.generate(ORIGIN).verifier()),
        "w": WITNESSES[0],
    }

    run = _cli(*(a.format(**values) for a in args))

    assert run.returncode == 2
    assert message in run.stderr


def test_cli_failure_exits_1_with_the_reason_on_stderr(log: Log, tmp_path: Path) -> None:
    changed = Log(ORIGIN, log.signer, list(log.entries), list(log.checkpoints))
    changed.entries[0] = base64.b64decode(base64.b64encode(add_entry(ORIGIN, 50)))
    folder = write_export(tmp_path / "x", changed)

    run = _cli("--export", str(folder), "--key", log.vkey)

    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.startswith("FAIL: acme.example: entries 0..2 give root")


def test_without_witness_keys_cosignature_lines_are_listed_not_counted(
    log: Log, tmp_path: Path
) -> None:
    folder = write_export(tmp_path / "x", log)

    result = audit(folder, log.vkey)

    assert result.ok, result.failures
    assert (
        f"checkpoint size 9 root {log.root().hex()[:16]}: 2 cosignature lines, not checked "
        "(no --witness given)" in result.stdout
    )
