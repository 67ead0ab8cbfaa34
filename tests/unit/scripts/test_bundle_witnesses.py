"""scripts/verify_bundle.py --witness/--min: the witness policy on a bundle's cosigned checkpoint.

Bundles come from the node's own ``Bundle`` and cosignatures from ``node.log.cosignature``.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from node.log.bundle import Bundle
from node.log.cosignature import CosignerKey
from tests.unit.scripts.fixtures import ORIGIN, Log, cosign, load_script, run_script, sample_log

vb = load_script("verify_bundle")

W1, W2, W3 = (CosignerKey.generate(f"w{i}.example") for i in (1, 2, 3))
WITNESSES = [str(w.verifier()) for w in (W1, W2, W3)]


@pytest.fixture(scope="module")
def log() -> Log:
    return sample_log()


def bundle(log: Log, note: str, index: int = 4) -> bytes:
    size = int(note.split("\n")[1])
    made = Bundle(ORIGIN, index, log.entries[index], tuple(log.inclusion(index, size)), note)
    return made.to_json().encode()


def check(data: bytes, log: Log, witnesses: list[str], minimum: int) -> tuple[int, str]:
    code, text = vb.check_bundle(data, log.vkey, witnesses, minimum)
    return int(code), str(text)


def test_cosigned_bundle_meets_the_policy_and_reports_the_witnesses(log: Log) -> None:
    data = bundle(log, cosign(log.sign(), (W1, W2)))

    code, text = check(data, log, WITNESSES, 2)

    assert code == 0, text
    assert text.endswith(
        "\n  witnesses: 2 of 3 given cosigned (w1.example, w2.example); at least 2 required: met"
    )


def test_too_few_witnesses_fail(log: Log) -> None:
    data = bundle(log, cosign(log.sign(), (W1,)))

    code, text = check(data, log, WITNESSES, 2)

    assert code == 1
    assert text == (
        "FAIL: checkpoint has valid cosignatures by 1 of the 3 given witnesses other than the "
        "origin (w1.example); expected at least 2 (--min)"
    )


def test_without_a_policy_the_report_is_unchanged(log: Log) -> None:
    data = bundle(log, cosign(log.sign(), (W1, W2)))

    code, text = vb.check_bundle(data, log.vkey)

    assert code == 0
    assert "witnesses" not in text


def test_cosignatures_by_witnesses_not_given_are_ignored(log: Log) -> None:
    stranger = CosignerKey.generate("stranger.example")
    data = bundle(log, cosign(log.sign(), (stranger, W3)))

    assert check(data, log, WITNESSES, 1)[0] == 0
    assert check(data, log, WITNESSES, 2)[0] == 1


def test_the_origins_own_witness_key_never_counts(log: Log) -> None:
    own = CosignerKey.generate(ORIGIN)
    data = bundle(log, cosign(log.sign(), (own, W1)))

    code, text = check(data, log, [*WITNESSES, str(own.verifier())], 1)

    assert code == 0, text
    assert "1 of 3 given cosigned (w1.example)" in text


def test_two_keys_of_one_witness_count_once(log: Log) -> None:
    rotated = CosignerKey.generate("w1.example")
    data = bundle(log, cosign(log.sign(), (W1, rotated)))

    assert check(data, log, [WITNESSES[0], str(rotated.verifier())], 1)[0] == 0
    assert check(data, log, [*WITNESSES, str(rotated.verifier())], 2)[0] == 1


def test_a_cosignature_of_another_checkpoint_fails(log: Log) -> None:
    other = cosign(log.sign(6), (W1,))
    w1_line = next(x for x in other.splitlines(keepends=True) if x.startswith("\u2014 w1."))
    data = bundle(log, log.sign() + w1_line)

    code, text = check(data, log, WITNESSES, 0)

    assert code == 1
    assert "signature line 2 (witness w1.example+" in text
    assert "does not verify over the checkpoint text" in text


def test_a_cosignature_line_of_the_wrong_length_fails(log: Log) -> None:
    # The origin's own signature line copied under the witness's name and key id: 64 bytes
    # after the key id, where tlog-cosignature/v1 has 72.
    note = log.sign()
    origin_line = note.split("\n\n")[1]
    raw = base64.b64decode(origin_line.split(" ")[2].strip())
    key = vb.parse_witness_key(WITNESSES[0])
    forged = "\u2014 w1.example " + base64.b64encode(key.key_id + raw[4:]).decode() + "\n"
    data = bundle(log, note + forged)

    code, text = check(data, log, WITNESSES, 0)

    assert code == 1
    assert "holds 64 bytes after its key id; expected 72" in text


def test_every_single_byte_change_of_a_cosignature_fails(log: Log) -> None:
    note = cosign(log.sign(), (W1, W2))
    data = bundle(log, note)
    start = data.index(b"\\u2014 w1.example ") + len(b"\\u2014 w1.example ")
    end = data.index(b"\\n", start)
    for position in range(start, end):
        changed = bytearray(data)
        changed[position] ^= 0x01
        assert check(bytes(changed), log, WITNESSES, 2)[0] == 1, position


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_script("verify_bundle.py", *args)


def test_cli_policy_options(log: Log, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(bundle(log, cosign(log.sign(), (W1, W2))))
    witness_file = tmp_path / "w3.vkey"
    witness_file.write_text(WITNESSES[2] + "\n")
    base = [str(path), "--key", log.vkey]

    ok = _cli(*base, "--witness", WITNESSES[0], "--witness", WITNESSES[1], "--min", "2")
    short = _cli(*base, "--witness", WITNESSES[0], "--witness", f"@{witness_file}", "--min", "2")
    impossible = _cli(*base, "--witness", WITNESSES[0], "--min", "2")
    wrong_type = _cli(*base, "--witness", log.vkey)
    not_a_number = _cli(*base, "--min", "two")

    assert ok.returncode == 0, ok.stderr
    assert "witnesses: 2 of 2 given cosigned (w1.example, w2.example)" in ok.stdout
    assert short.returncode == 1
    assert "by 1 of the 2 given witnesses" in short.stderr
    assert impossible.returncode == 2
    assert "can never be met" in impossible.stderr
    assert wrong_type.returncode == 2
    assert "expected 0x04 (witness key)" in wrong_type.stderr
    assert not_a_number.returncode == 2
