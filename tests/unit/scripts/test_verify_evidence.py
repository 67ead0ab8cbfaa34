"""scripts/verify_evidence.py: equivocation proven offline from an evidence file and one key.

Evidence files are built with the node's implementation (keys, checkpoints, Merkle proofs) in the
shape ``hashfed evidence export`` writes (docs/audit.md, hashfed-evidence/v1).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.log.keys import SignerKey
from tests.unit.scripts.fixtures import ORIGIN, Log, add_entry, load_script, run_script, sample_log

ve = load_script("verify_evidence")


def document(kind: str, first: str, second: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": "hashfed-evidence/v1",
        "id": 3,
        "origin": ORIGIN,
        "kind": kind,
        "first_checkpoint": first,
        "second_checkpoint": second,
        "detail": detail,
        "relayed_by": "b.example",
        "detected_at_ms": 1_700_000_000_000,
    }


def encode(doc: dict[str, Any]) -> bytes:
    """As the node writes it: indented, sorted keys, final newline."""
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def forked(log: Log, size: int) -> Log:
    """Another history of ``log``'s origin under the same key: its entry ``size - 1`` differs."""
    fork = Log(log.origin, log.signer)
    fork.entries = [*log.entries[: size - 1], add_entry(log.origin, 100)]
    return fork


def same_size(log: Log) -> dict[str, Any]:
    fork = forked(log, 5)
    detail = {"size": 5, "first_root": log.root(5).hex(), "second_root": fork.root(5).hex()}
    return document("same-size-different-roots", log.sign(5), fork.sign(5), detail)


def inconsistent(log: Log, kind: str, m: int = 3, n: int = 9) -> dict[str, Any]:
    """The origin signed ``log`` at size n and a fork at size m < n."""
    fork = forked(log, m)
    detail = {
        "smaller_size": m,
        "smaller_root": fork.root(m).hex(),
        "larger_size": n,
        "larger_root": log.root(n).hex(),
        "prefix_root": log.root(m).hex(),
        "consistency_proof": [h.hex() for h in log.consistency(m, n)],
        "explanation": "the signed larger tree begins with another tree of size m",
    }
    larger, smaller = log.sign(n), fork.sign(m)
    if kind == "inconsistent-smaller":  # ours (larger) first, theirs (smaller) second
        return document(kind, larger, smaller, detail)
    return document(kind, smaller, larger, detail)


@pytest.fixture(scope="module")
def log() -> Log:
    return sample_log()


KINDS = ["same-size-different-roots", "inconsistent-smaller", "inconsistent-larger"]


def build(log: Log, kind: str) -> dict[str, Any]:
    return same_size(log) if kind == "same-size-different-roots" else inconsistent(log, kind)


def reason(doc: dict[str, Any] | bytes, key: str) -> str:
    code, text = ve.check_evidence(doc if isinstance(doc, bytes) else encode(doc), key)
    assert code == 1, text
    assert text.startswith("FAIL: ")
    return str(text)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_proven(log: Log, kind: str) -> None:
    code, text = ve.check_evidence(encode(build(log, kind)), log.vkey)

    assert code == 0, text
    assert text.startswith(f"PROVEN: {ORIGIN} equivocated ({kind}); both checkpoints verify")


def test_the_smaller_checkpoint_may_come_first_or_second(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-larger")
    doc["first_checkpoint"], doc["second_checkpoint"] = (
        doc["second_checkpoint"],
        doc["first_checkpoint"],
    )

    assert ve.check_evidence(encode(doc), log.vkey)[0] == 0


@pytest.mark.parametrize(("m", "n"), [(1, 2), (1, 9), (2, 9), (4, 9), (7, 8), (8, 9)])
def test_inconsistency_at_every_shape_of_tree(log: Log, m: int, n: int) -> None:
    doc = inconsistent(log, "inconsistent-smaller", m, n)

    assert ve.check_evidence(encode(doc), log.vkey)[0] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_another_key_of_the_same_name_proves_nothing(log: Log, kind: str) -> None:
    other = str(SignerKey.generate(ORIGIN).verifier())

    assert "has no signature by the given key" in reason(build(log, kind), other)


def test_the_key_of_another_origin_proves_nothing(log: Log) -> None:
    other = str(SignerKey.generate("globex.example").verifier())

    assert "is not the verifier key's name" in reason(same_size(log), other)


def test_consistent_checkpoints_are_no_evidence(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    doc["second_checkpoint"] = log.sign(3)  # the honest tree of size 3
    doc["detail"]["smaller_root"] = log.root(3).hex()

    assert "are consistent, so this is no evidence" in reason(doc, log.vkey)


def test_same_size_with_equal_roots_is_no_evidence(log: Log) -> None:
    doc = same_size(log)
    doc["second_checkpoint"] = doc["first_checkpoint"]
    doc["detail"]["second_root"] = doc["detail"]["first_root"]

    assert "have the same root" in reason(doc, log.vkey)


def test_same_size_kind_needs_equal_sizes(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    doc["kind"] = "same-size-different-roots"

    assert "needs equal sizes" in reason(doc, log.vkey)


def test_inconsistent_kind_needs_different_sizes(log: Log) -> None:
    doc = same_size(log)
    doc["kind"] = "inconsistent-smaller"

    assert "needs two different sizes" in reason(doc, log.vkey)


@pytest.mark.parametrize("change", ["truncate", "pad", "drop-first", "swap"])
def test_altered_consistency_proofs_are_refused(log: Log, change: str) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    proof = doc["detail"]["consistency_proof"]
    if change == "truncate":
        proof.pop()
    elif change == "pad":
        proof.append("00" * 32)
    elif change == "drop-first":
        proof.pop(0)
    else:
        proof[0], proof[-1] = proof[-1], proof[0]

    assert "the consistency proof does not bind" in reason(doc, log.vkey)


def test_a_prefix_root_the_proof_does_not_bind_is_refused(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    doc["detail"]["prefix_root"] = forked(log, 3).root(3).hex()  # claims the fork's root

    assert "leads to old root" in reason(doc, log.vkey)


def test_detail_roots_must_be_the_signed_ones(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-larger")
    doc["detail"]["larger_root"] = "00" * 32

    assert "detail.larger_root" in reason(doc, log.vkey)


def test_evidence_from_a_size_zero_checkpoint_is_refused(log: Log) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    doc["second_checkpoint"] = log.sign(0, root=b"\x07" * 32)
    del doc["detail"]["smaller_size"], doc["detail"]["smaller_root"]

    assert "size 0" in reason(doc, log.vkey)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="hashfed-evidence/v2"), "evidence format"),
        (lambda d: d.update(kind="rollback"), "evidence kind"),
        (lambda d: d.update(extra=1), "unknown member"),
        (lambda d: d.pop("detail"), "missing detail"),
        (lambda d: d.update(id="3"), "evidence id"),
        (lambda d: d.update(relayed_by=7), "relayed_by"),
        (lambda d: d["detail"].pop("consistency_proof"), "missing consistency_proof"),
        (lambda d: d["detail"].update(prefix_root="AB" * 32), "64 lower-case hex"),
        (lambda d: d.update(first_checkpoint="not a note\n"), "no blank line"),
    ],
)
def test_malformed_evidence_is_refused(log: Log, change: Any, message: str) -> None:
    doc = inconsistent(log, "inconsistent-smaller")
    change(doc)

    assert message in reason(doc, log.vkey)


def test_repeated_json_keys_are_refused(log: Log) -> None:
    data = encode(same_size(log)).replace(b'"id": 3', b'"id": 3, "id": 4')

    assert "twice" in reason(data, log.vkey)


def _proven(data: bytes, key: str) -> Any:
    try:
        return ve.verify_evidence(data, key)
    except ve.VerificationError:
        return None


def _spans(data: bytes, doc: dict[str, Any]) -> list[tuple[int, int]]:
    """Byte ranges of the values that carry the proof: notes, origin, kind, root, proof."""
    values = [doc["first_checkpoint"], doc["second_checkpoint"], doc["origin"], doc["kind"]]
    detail = doc["detail"]
    values += [detail.get("prefix_root", ""), *detail.get("consistency_proof", [])]
    spans = []
    for value in values:
        if value:
            needle = json.dumps(value).encode()
            start = data.index(needle)
            spans.append((start + 1, start + len(needle) - 1))  # inside the quotes
    return spans


@pytest.mark.parametrize("kind", KINDS)
def test_every_single_byte_change_fails_or_proves_the_same(log: Log, kind: str) -> None:
    """Changing any one byte either breaks the proof or leaves what it proves unchanged (a
    change to an informational field such as ``relayed_by``); inside the notes and the proof
    it always breaks it."""
    doc = build(log, kind)
    data = encode(doc)
    original = ve.verify_evidence(data, log.vkey)
    spans = _spans(data, doc)
    for position in range(len(data)):
        changed = bytearray(data)
        changed[position] ^= 0x01
        result = _proven(bytes(changed), log.vkey)
        inside = any(lo <= position < hi for lo, hi in spans)
        assert result is None or (not inside and result == original), position


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_byte_change_never_proves_something_else(log: Log, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    doc = build(log, kind)
    raw = encode(doc)
    position = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != raw[position]))
    changed = bytearray(raw)
    changed[position] = value

    result = _proven(bytes(changed), log.vkey)

    inside = any(lo <= position < hi for lo, hi in _spans(raw, doc))
    assert result is None or (not inside and result == ve.verify_evidence(raw, log.vkey))


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return run_script("verify_evidence.py", *args, input=stdin, text=False)


def test_cli_exit_codes(log: Log, tmp_path: Path) -> None:
    good = tmp_path / "evidence.json"
    good.write_bytes(encode(inconsistent(log, "inconsistent-larger")))
    key_file = tmp_path / "acme.vkey"
    key_file.write_text(log.vkey + "\n")
    bad = tmp_path / "bad.json"
    doc = inconsistent(log, "inconsistent-larger")
    doc["detail"]["consistency_proof"].pop()
    bad.write_bytes(encode(doc))

    ok = _run(str(good), "--key", f"@{key_file}")
    failed = _run(str(bad), "--key", log.vkey)
    stdin = _run("-", "--key", log.vkey, stdin=good.read_bytes())
    usage = [
        _run(str(good)),
        _run(str(good), "--key", "acme.example+00000000+AAAA"),
        _run(str(tmp_path / "missing.json"), "--key", log.vkey),
    ]

    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.decode().startswith("PROVEN: acme.example equivocated (inconsistent-larger)")
    assert failed.returncode == 1
    assert failed.stderr.decode().startswith("FAIL: the consistency proof does not bind")
    assert stdin.returncode == 0
    assert [u.returncode for u in usage] == [2, 2, 2]
