"""The checks of one origin's log, one function per step of ``verify_log.py``'s docstring.

Each step raises :class:`auditlib.errors.VerificationError` at the first thing that is wrong, so
the order :class:`verify_log.LogAuditor` calls them in decides which failure an origin reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from auditlib.cosignatures import verify_cosignatures, witness_names
from auditlib.entry import MAX_ENTRY_BYTES, read_entry
from auditlib.errors import VerificationError, fail, show
from auditlib.keys import VerifierKey
from auditlib.merkle import EMPTY_ROOT, TreeBuilder, leaf_hash
from auditlib.notes import SignedCheckpoint, open_checkpoint

from verify_log_steps.report import (
    CheckpointReport,
    OriginReport,
    Policy,
    Recorded,
    Result,
    tail_text,
)


def select_origins(
    origin: str | None, present: Iterable[str], policy: Policy, absent: str, result: Result
) -> list[str]:
    """The origins to audit (``origin``, else every one present), in order. An origin an
    earlier run verified (``--state``) that is no longer present is a rollback: every recorded
    one without ``--origin``, ``origin`` with it. Auditing nothing at all fails too."""
    available = list(present)
    expected = list(policy.state) if origin is None else [origin]
    for name in sorted(expected):
        recorded = policy.state.get(name)
        if recorded is not None and name not in available:
            result.failures.append(
                f"{name} ROLLBACK: {name} was verified at size {recorded.size} before (root "
                f"{recorded.root.hex()}) but is no longer {absent}; a log never disappears"
            )
    if origin is not None:
        return [origin] if origin in available else []
    if not available:
        result.failures.append(f"nothing to audit: no origin is {absent}")
    return available


def start_report(origin: str, policy: Policy) -> OriginReport:
    """Step 1 begins with the origin's ``--key``: an origin without one cannot be audited."""
    if origin not in policy.keys:
        fail(
            f"{origin}: no --key given for this origin; give its verifier key (obtained from "
            "the member) with --key, or audit only the origins you hold keys for with --origin"
        )
    key = policy.keys[origin]
    return OriginReport(
        origin,
        key.text,
        policy.minimum,
        bool(policy.witnesses),
        max_unwitnessed=policy.max_unwitnessed,
    )


def verify_checkpoints(
    origin: str, notes: Sequence[tuple[int | None, str]], policy: Policy, report: OriginReport
) -> list[SignedCheckpoint]:
    """Open every note with the origin's key; ascending sizes; verify witness cosignatures."""
    key = policy.keys[origin]
    verified: list[SignedCheckpoint] = []
    for number, (declared, note) in enumerate(notes, start=1):
        what = f"{origin} checkpoint {number}"
        signed = open_checkpoint(note, key, what)
        if declared is not None and declared != signed.size:
            fail(f"{what} is listed with size {declared} but its signed size is {signed.size}")
        if verified and signed.size <= verified[-1].size:
            previous = verified[-1]
            if signed.size == previous.size and signed.root != previous.root:
                fail(
                    f"{origin} EQUIVOCATION: two checkpoints of size {signed.size}, both signed "
                    f"by {key.text}, with roots {previous.root.hex()} and {signed.root.hex()}"
                )
            if signed.size == previous.size and signed.note.text == previous.note.text:
                continue  # the same checkpoint twice (e.g. newest listed separately)
            fail(
                f"{what} has size {signed.size} after one of size {previous.size}; expected "
                "checkpoints in strictly ascending size"
            )
        cosigned = verify_cosignatures(signed.note, policy.witnesses, what)
        names = tuple(witness_names(cosigned, origin))
        others = len(signed.note.lines) - 1
        report.checkpoints.append(CheckpointReport(signed.size, signed.root, names, others))
        verified.append(signed)
    return verified


def check_no_rollback(
    origin: str, checkpoints: Sequence[SignedCheckpoint], recorded: Recorded | None
) -> None:
    """Step 4, before any entry is read: the newest checkpoint is not below the recorded one."""
    newest_size = checkpoints[-1].size if checkpoints else 0
    if recorded is not None and newest_size < recorded.size:
        fail(
            f"{origin} ROLLBACK: the newest checkpoint has size {newest_size}, but an earlier "
            f"audit verified a checkpoint of size {recorded.size} (root {recorded.root.hex()}); "
            "a log never shrinks"
        )


def replay_entries(
    origin: str,
    key: VerifierKey,
    checkpoints: Sequence[SignedCheckpoint],
    recorded: Recorded | None,
    entries: Iterable[bytes],
    report: OriginReport,
    keep: Callable[[int], bool],
) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Step 2 (and step 4's rewrite check at the recorded size): read every entry and recompute
    the root after each one. Return the roots at checkpoint and recorded sizes, and the entries
    at the indices ``keep`` asks for (for the live proof checks)."""
    newest_size = checkpoints[-1].size if checkpoints else 0
    want = {cp.size: cp.root for cp in checkpoints}
    roots: dict[int, bytes] = {0: EMPTY_ROOT}
    kept: dict[int, bytes] = {}
    tree = TreeBuilder()
    previous = 0

    def check_root() -> None:
        nonlocal previous
        size, root = tree.size, tree.root()
        roots[size] = root
        if size in want:
            if root != want[size]:
                fail(
                    f"{origin}: entries 0..{size - 1} give root {root.hex()}, but the checkpoint "
                    f"of size {size} signed by {key.name} has root {want[size].hex()}: one of "
                    f"entries {previous}..{size - 1} is not what the origin signed"
                )
            previous = size
        if recorded is not None and size == recorded.size and root != recorded.root:
            fail(
                f"{origin} REWRITE: the log's root at size {size} is now {root.hex()}, but an "
                f"earlier audit verified root {recorded.root.hex()} at that size; the history "
                "was rewritten"
            )

    check_root()
    for index, entry in enumerate(entries):
        what = f"{origin} entry {index}"
        if index >= newest_size:
            fail(
                f"{what} lies beyond the newest checkpoint (size {newest_size}); expected no "
                "entries a signed checkpoint does not cover"
            )
        if len(entry) > MAX_ENTRY_BYTES:
            fail(f"{what} is {len(entry)} bytes; expected at most {MAX_ENTRY_BYTES}")
        try:
            info = read_entry(entry, what)
        except VerificationError as exc:
            if str(exc).startswith(what):
                raise
            fail(f"{what} is not a valid hashfed.v1.Entry: {exc}")
        if info.origin != origin:
            fail(f"{what} names origin {show(info.origin)} in its field 1; expected {origin!r}")
        if info.statement == "none":
            fail(f"{what} carries no statement; expected ADD, RETRACT or OPINION")
        report.counts[info.statement] += 1
        if keep(index):
            kept[index] = entry
        tree.append(leaf_hash(entry))
        check_root()
    if tree.size < newest_size:
        fail(
            f"{origin}: only {tree.size} entries, but the newest checkpoint has size "
            f"{newest_size}; expected every entry it covers"
        )
    report.entries = tree.size
    if checkpoints:
        report.newest = checkpoints[-1]
    else:
        report.notes.append("no checkpoint: nothing signed to verify")
    return roots, kept


def check_witnessed(report: OriginReport, policy: Policy) -> None:
    """Step 3, ``--min``: some checkpoint must meet it, and the entries after the newest that
    does (the unwitnessed tail, which honest witnesses cosign after they sync) must not exceed
    ``--max-unwitnessed``. Without ``--min`` there is nothing to check."""
    if policy.minimum <= 0:
        return
    origin, minimum = report.origin, policy.minimum
    meeting = [cp for cp in report.checkpoints if len(cp.witnesses) >= minimum]
    if not meeting:
        best = max(report.checkpoints, key=lambda cp: len(cp.witnesses), default=None)
        most = (
            "there is no checkpoint"
            if best is None
            else f"the most any has is {len(best.witnesses)} "
            f"({', '.join(best.witnesses) or 'none'}, on the checkpoint of size {best.size})"
        )
        fail(
            f"{origin} NOT WITNESSED: no checkpoint has valid cosignatures by at least {minimum} "
            f"of the given witnesses other than the origin ({most}); expected at least one "
            f"checkpoint meeting --min {minimum}"
        )
    assert report.newest is not None
    start, size = meeting[-1].size, report.newest.size
    report.witnessed = start
    limit = policy.max_unwitnessed
    if limit is not None and size - start > limit:
        fail(
            f"{origin} UNWITNESSED TAIL TOO LONG: witnessed up to size {start}, but "
            f"{tail_text(start, size, minimum)}; expected at most {limit} "
            f"(--max-unwitnessed {limit})"
        )


def note_state(report: OriginReport, recorded: Recorded | None) -> None:
    """Step 4's verdict in the report: the log neither shrank nor was rewritten."""
    newest_size = report.newest.size if report.newest is not None else 0
    if recorded is not None:
        report.notes.append(
            f"state: newest size {newest_size} >= recorded {recorded.size}, and the root at "
            f"size {recorded.size} is the recorded one (no rollback, no rewrite)"
        )
