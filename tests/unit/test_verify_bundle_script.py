"""scripts/verify_bundle.py: the auditor's offline check of one provenance bundle.

Bundles are built here from first principles (real Ed25519 keys, RFC 9162 trees computed by the
recursive definition, a few lines of protobuf encoding), never with the script's own helpers, so
a misreading of a format in the script cannot be mirrored by the tests. The CLI contract runs the
script as a subprocess; the many-case checks import it by path and call it in-process.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify_bundle.py"
ORIGIN = "acme.example"
EM_DASH = "\u2014"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_bundle_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


vb = _load_script()


# --- building bundles -----------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _entry(origin: str = ORIGIN, millis: int = 1_700_000_000_000, statement: int = 10) -> bytes:
    """hashfed.v1.Entry: origin (1), create_time_unix_millis (2), an empty statement message."""
    return _len_field(1, origin.encode()) + _int_field(2, millis) + _len_field(statement, b"")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _split(n: int) -> int:
    """Largest power of two smaller than n (RFC 9162 section 2.1.1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(entries: list[bytes]) -> bytes:
    if len(entries) == 1:
        return _leaf(entries[0])
    k = _split(len(entries))
    return hashlib.sha256(b"\x01" + _mth(entries[:k]) + _mth(entries[k:])).digest()


def _path(m: int, entries: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 section 2.1.3.1."""
    if len(entries) == 1:
        return []
    k = _split(len(entries))
    if m < k:
        return [*_path(m, entries[:k]), _mth(entries[k:])]
    return [*_path(m - k, entries[k:]), _mth(entries[:k])]


@dataclass
class Signer:
    """A note signer whose Ed25519 key is derived from ``seed``: every run builds the same bytes."""

    name: str
    seed: str = "member"

    @property
    def private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(self.seed.encode()).digest())

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(self.name.encode() + b"\n\x01" + self.public).digest()[:4]

    @property
    def vkey(self) -> str:
        raw = b"\x01" + self.public
        return f"{self.name}+{self.key_id.hex()}+{_b64(raw)}"

    def signature_line(self, text: str) -> str:
        signature = self.private.sign(text.encode())
        return f"{EM_DASH} {self.name} {_b64(self.key_id + signature)}\n"

    def sign(self, text: str) -> str:
        return f"{text}\n{self.signature_line(text)}"


def _checkpoint_text(origin: str, size: int, root: bytes, *extensions: str) -> str:
    return "".join(f"{line}\n" for line in (origin, str(size), _b64(root), *extensions))


def make_bundle(
    signer: Signer, size: int = 5, index: int = 2, entries: list[bytes] | None = None
) -> dict[str, Any]:
    if entries is None:
        entries = [_entry(millis=1_700_000_000_000 + i) for i in range(size)]
    return {
        "format": "hashfed-provenance-bundle/v1",
        "origin": signer.name,
        "entry_index": index,
        "entry": _b64(entries[index]),
        "inclusion_proof": [_b64(h) for h in _path(index, entries)],
        "checkpoint": signer.sign(_checkpoint_text(signer.name, size, _mth(entries))),
    }


def encode(bundle: dict[str, Any]) -> bytes:
    """The canonical bytes (members in insertion order, which make_bundle keeps canonical)."""
    return (json.dumps(bundle, separators=(",", ":"), ensure_ascii=True) + "\n").encode()


def fail_reason(bundle: dict[str, Any] | bytes, key: str) -> str:
    data = bundle if isinstance(bundle, bytes) else encode(bundle)
    code, text = vb.check_bundle(data, key)
    assert code == 1, text
    assert text.startswith("FAIL: ")
    return str(text)


def _noncanonical(b64: str) -> str:
    """The same bytes with unused low bits set in the last character before the padding."""
    assert b64.endswith("=")
    body = b64.rstrip("=")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet[alphabet.index(body[-1]) ^ 1]  # an unused bit: the bytes stay the same
    result = body[:-1] + last + b64[len(body) :]
    assert base64.b64decode(result) == base64.b64decode(b64) and result != b64
    return result


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(ORIGIN)


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


def _run(*args: str, stdin: bytes = b"") -> Run:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    return Run(result.returncode, result.stdout.decode(), result.stderr.decode())


# --- valid bundles --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "index"), [(size, index) for size in (1, 2, 5, 8, 13) for index in range(size)]
)
def test_every_leaf_of_trees_of_several_sizes_verifies(
    signer: Signer, size: int, index: int
) -> None:
    verified = vb.verify_bundle(encode(make_bundle(signer, size, index)), signer.vkey)

    assert (verified.origin, verified.entry_index, verified.tree_size) == (ORIGIN, index, size)
    assert verified.key_name == ORIGIN
    assert verified.entry.statement == "ADD"


def test_cli_prints_ok_line_and_entry_summary(signer: Signer, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(encode(make_bundle(signer, 13, 7)))

    result = _run(str(path), "--key", signer.vkey)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"OK: {ORIGIN} entry 7 is included in checkpoint of size 13 signed by {ORIGIN}",
        "  entry: ADD (signals: none), created 2023-11-14T22:13:20.007Z",
    ]
    assert result.stderr == ""


def test_cli_reads_key_from_file(signer: Signer, tmp_path: Path) -> None:
    (tmp_path / "acme.vkey").write_text(signer.vkey + "\n")
    (tmp_path / "bundle.json").write_bytes(encode(make_bundle(signer)))

    result = _run(str(tmp_path / "bundle.json"), "--key", f"@{tmp_path / 'acme.vkey'}")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {ORIGIN} entry 2 is included")


def test_cli_reads_bundle_from_stdin(signer: Signer) -> None:
    result = _run("-", "--key", signer.vkey, stdin=encode(make_bundle(signer, 8, 0)))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"OK: {ORIGIN} entry 0 is included in checkpoint of size 8")


def test_cli_failure_exits_1_with_reason_on_stderr(signer: Signer) -> None:
    other = Signer("other.example", seed="other")

    result = _run("-", "--key", other.vkey, stdin=encode(make_bundle(signer)))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "FAIL: bundle origin 'acme.example' is not the verifier key's name; "
        "expected 'other.example'\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required"),
        (["bundle.json"], "the following arguments are required: --key"),
        (["-", "--key", "acme.example+00000000+AA=="], "verifier key holds 1 bytes"),
        (["-", "--key", "@/nonexistent/acme.vkey"], "cannot read key file"),
        (["/nonexistent/bundle.json", "--key", "KEY"], "cannot read bundle"),
    ],
)
def test_cli_usage_errors_exit_2(signer: Signer, args: list[str], message: str) -> None:
    args = [signer.vkey if arg == "KEY" else arg for arg in args]

    result = _run(*args)

    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert message in result.stderr


# --- one byte changed anywhere --------------------------------------------------------------


def _realistic_add(millis: int) -> bytes:
    """An ADD with one PDQ signal and labels, as a member would publish it."""
    signal = _len_field(1, b"pdq") + _len_field(2, hashlib.sha256(b"%d" % millis).digest())
    labels = _len_field(2, b"image") + _len_field(3, b"glorification")
    add = _len_field(1, signal) + _len_field(2, labels)
    return _len_field(1, ORIGIN.encode()) + _int_field(2, millis) + _len_field(10, add)


def test_every_single_byte_change_fails(signer: Signer) -> None:
    """Every one of the 255 other values at every position, and a byte inserted anywhere."""
    entries = [_realistic_add(1_700_000_000_000 + i) for i in range(13)]
    data = encode(make_bundle(signer, 13, 6, entries))
    assert 600 <= len(data) <= 800  # the bundle size this test is about
    assert vb.check_bundle(data, signer.vkey)[0] == 0

    survivors = []
    for position in range(len(data)):
        for value in range(256):
            if value == data[position]:
                continue
            mutated = bytearray(data)
            mutated[position] = value
            code, text = vb.check_bundle(bytes(mutated), signer.vkey)
            if code != 1 or not text.startswith("FAIL: "):
                survivors.append((position, value, text))
        inserted = data[:position] + b" " + data[position:]
        if vb.check_bundle(inserted, signer.vkey)[0] != 1:
            survivors.append((position, "insert", ""))

    assert survivors == []


def test_white_space_outside_strings_is_refused(signer: Signer) -> None:
    pretty = json.dumps(make_bundle(signer), indent=2).encode()
    assert "not in canonical form" in fail_reason(pretty, signer.vkey)


# --- the key comes from the command line, never from the bundle -----------------------------


def test_key_of_another_origin_fails(signer: Signer) -> None:
    reason = fail_reason(make_bundle(signer), Signer("other.example", seed="other").vkey)

    assert "bundle origin 'acme.example' is not the verifier key's name" in reason


def test_key_field_in_bundle_is_rejected_as_unknown(signer: Signer) -> None:
    impostor = Signer(ORIGIN, seed="impostor")
    bundle = make_bundle(impostor)
    bundle["key"] = impostor.vkey

    reason = fail_reason(bundle, signer.vkey)

    assert "unknown key(s) 'key'" in reason
    assert "never taken from the bundle" in reason
    assert "expected only checkpoint, entry, entry_index, format, inclusion_proof, origin" in reason


def test_bundle_signed_by_another_key_with_the_same_name_fails(signer: Signer) -> None:
    impostor = Signer(ORIGIN, seed="impostor")

    reason = fail_reason(make_bundle(impostor), signer.vkey)

    assert f"checkpoint has no signature by the given key {signer.vkey}" in reason


def test_signature_lines_of_other_signers_are_ignored(signer: Signer) -> None:
    bundle = make_bundle(signer)
    text = bundle["checkpoint"].split("\n\n")[0] + "\n"
    witness = Signer("witness.example", seed="witness")
    impostor = Signer(ORIGIN, seed="impostor")
    bundle["checkpoint"] = (
        text
        + "\n"
        + witness.signature_line(text)
        + signer.signature_line(text)
        # same name, another key id: not this key's signature, so not checked
        + impostor.signature_line("something else\n")
    )

    assert vb.check_bundle(encode(bundle), signer.vkey)[0] == 0


def test_a_bad_signature_by_the_given_key_fails(signer: Signer) -> None:
    bundle = make_bundle(signer)
    body = bundle["checkpoint"].split("\n\n")[0] + "\n"
    bundle["checkpoint"] = body + "\n" + signer.signature_line("another text\n")

    reason = fail_reason(bundle, signer.vkey)

    assert f"signature line 1: signature by {signer.vkey} does not verify" in reason


def test_a_second_signature_line_by_one_key_fails(signer: Signer) -> None:
    bundle = make_bundle(signer)
    bundle["checkpoint"] += signer.signature_line("another text\n")

    reason = fail_reason(bundle, signer.vkey)

    assert f"signature line 2 repeats signer 'acme.example' {signer.key_id.hex()}" in reason


def test_checkpoint_without_signature_lines_fails(signer: Signer) -> None:
    bundle = make_bundle(signer)
    bundle["checkpoint"] = bundle["checkpoint"].split("\n\n")[0] + "\n\n"

    assert "no signature lines after its blank line" in fail_reason(bundle, signer.vkey)


# --- index, proof and entry -----------------------------------------------------------------


@pytest.mark.parametrize("index", [0, 3, 6])
def test_wrong_index_fails(signer: Signer, index: int) -> None:
    bundle = make_bundle(signer, 8, 5)
    bundle["entry_index"] = index

    reason = fail_reason(bundle, signer.vkey)

    assert f"inclusion proof of entry {index} leads to root" in reason
    assert "expected the checkpoint's root" in reason


def test_index_outside_the_tree_fails(signer: Signer) -> None:
    bundle = make_bundle(signer, 5, 4)
    bundle["entry_index"] = 5

    reason = fail_reason(bundle, signer.vkey)

    assert "entry index 5 is not inside the tree of size 5; expected index < size" in reason


@pytest.mark.parametrize("value", [True, 2.0, -1, "2", None, "-0"])
def test_entry_index_must_be_a_non_negative_json_integer(signer: Signer, value: object) -> None:
    bundle = make_bundle(signer)
    if value == "-0":
        data = encode(bundle).replace(b'"entry_index":2', b'"entry_index":-0')
    else:
        bundle["entry_index"] = value
        data = encode(bundle)

    reason = fail_reason(data, signer.vkey)

    assert "bundle entry_index is" in reason
    assert "expected a JSON integer >= 0" in reason


def test_truncated_proof_fails(signer: Signer) -> None:
    bundle = make_bundle(signer, 13, 4)
    bundle["inclusion_proof"] = bundle["inclusion_proof"][:-1]

    reason = fail_reason(bundle, signer.vkey)

    assert "inclusion proof has 3 hashes; expected 4 for entry 4 in a tree of size 13" in reason


def test_padded_proof_fails(signer: Signer) -> None:
    bundle = make_bundle(signer, 13, 4)
    bundle["inclusion_proof"].append(_b64(bytes(32)))

    reason = fail_reason(bundle, signer.vkey)

    assert "inclusion proof has 5 hashes; expected 4" in reason


def test_proof_hash_of_wrong_length_fails(signer: Signer) -> None:
    bundle = make_bundle(signer, 8, 1)
    bundle["inclusion_proof"][1] = _b64(bytes(31))

    reason = fail_reason(bundle, signer.vkey)

    assert "inclusion proof hash 1 is 31 bytes; expected 32" in reason


def test_entry_of_another_origin_fails(signer: Signer) -> None:
    entries = [_entry(millis=i) for i in range(5)]
    entries[3] = _entry("evil.example", millis=3)

    reason = fail_reason(make_bundle(signer, 5, 3, entries), signer.vkey)

    assert "entry's origin field is 'evil.example'; expected 'acme.example'" in reason


def test_checkpoint_origin_must_equal_the_key_name(signer: Signer) -> None:
    bundle = make_bundle(signer)
    body = bundle["checkpoint"].split("\n\n")[0] + "\n"
    bundle["checkpoint"] = signer.sign(body.replace(ORIGIN, "other.example", 1))

    reason = fail_reason(bundle, signer.vkey)

    assert "checkpoint origin 'other.example' is not the signer's name" in reason


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (b"\x0a\x0cacme.example\x0a\x0cacme.example", "field 1 (origin) 2 times"),
        (b"\x10\x01", "field 1 (origin) 0 times"),
        (b"\x0a\x0dacme.example", "needs 13 bytes but 12 remain"),
        (b"\x0a\x0cacme.example\x10\xff", "varint is truncated"),
        (b"\x0a\x0cacme.example\x10" + b"\xff" * 10 + b"\x01", "varint is longer than 10 bytes"),
        (b"\x0a\x0cacme.example\x10" + b"\xff" * 9 + b"\x02", "varint overflows 64 bits"),
        (b"\x0a\x0cacme.example\x53\x54", "wire type 3; expected 0, 1, 2 or 5 (no groups)"),
        (b"\x0a\x0cacme.example\x02\x00", "field number 0"),
        (b"\x0a\x0cacme.example\x0d\x00\x00", "field 1 needs 4 bytes but 2 remain"),
        (b"\x08\x01", "wire type 0; expected a string"),
        (b"\x0a\x02\xc3\x28", "not valid UTF-8"),
        (b"\x0a\x0cacme.example\x52\x00\x5a\x00", "2 statement fields (ADD, RETRACT)"),
        (b"\x0a\x0cacme.example\x52\x02\x0a\x05", "(ADD): field 1 needs 5 bytes but 0 remain"),
    ],
)
def test_malformed_entry_bytes_fail(signer: Signer, entry: bytes, message: str) -> None:
    entries = [_entry(millis=i) for i in range(4)]
    entries[1] = entry

    reason = fail_reason(make_bundle(signer, 4, 1, entries), signer.vkey)

    assert message in reason


ADD_TWO_SIGNALS = _len_field(1, _len_field(1, b"pdq")) + _len_field(1, _len_field(1, b"md5"))
OPINION_TARGET = _len_field(1, b"b.example") + _int_field(2, 9)
SUMMARIES = [
    (_len_field(10, ADD_TWO_SIGNALS), "ADD (signals: 'pdq', 'md5')"),
    (_len_field(11, _int_field(1, 7)), "RETRACT of entry 7"),
    (
        _len_field(12, _len_field(1, OPINION_TARGET) + _int_field(2, 2)),
        "OPINION FALSE_POSITIVE on 'b.example' entry 9",
    ),
    (b"", "no statement (none of fields 10 ADD, 11 RETRACT, 12 OPINION)"),
]


@pytest.mark.parametrize(("statement", "summary"), SUMMARIES)
def test_summary_names_the_statement(signer: Signer, statement: bytes, summary: str) -> None:
    entries = [_entry(millis=i) for i in range(3)]
    entries[2] = _len_field(1, ORIGIN.encode()) + statement

    code, text = vb.check_bundle(encode(make_bundle(signer, 3, 2, entries)), signer.vkey)

    assert code == 0, text
    assert text.splitlines()[1] == f"  entry: {summary}"


# --- canonical encodings and strict structure ----------------------------------------------


def test_non_canonical_base64_fails_everywhere(signer: Signer) -> None:
    bundle = make_bundle(signer, 5, 2, [bytes([0x0A, 12]) + ORIGIN.encode()] * 5)
    assert bundle["entry"].endswith("=")
    first, *rest = bundle["inclusion_proof"]
    cases: dict[str, dict[str, Any]] = {
        "bundle entry": {**bundle, "entry": _noncanonical(bundle["entry"])},
        "inclusion proof hash 0": {**bundle, "inclusion_proof": [_noncanonical(first), *rest]},
    }
    for what, mutated in cases.items():
        reason = fail_reason(mutated, signer.vkey)
        assert f"{what} is not canonical base64" in reason


def test_non_canonical_root_hash_fails_even_when_signed(signer: Signer) -> None:
    entries = [_entry(millis=i) for i in range(2)]
    text = _checkpoint_text(ORIGIN, 2, _mth(entries))
    root_b64 = _b64(_mth(entries))
    bundle = make_bundle(signer, 2, 0, entries)
    bundle["checkpoint"] = signer.sign(text.replace(root_b64, _noncanonical(root_b64)))

    reason = fail_reason(bundle, signer.vkey)

    assert "checkpoint root hash is not canonical base64" in reason


def test_non_canonical_signature_base64_fails(signer: Signer) -> None:
    bundle = make_bundle(signer)
    body, line = bundle["checkpoint"].split("\n\n")
    prefix, sig = line.rstrip("\n").rsplit(" ", 1)
    bundle["checkpoint"] = f"{body}\n\n{prefix} {_noncanonical(sig)}\n"

    reason = fail_reason(bundle, signer.vkey)

    assert "signature line 1 is not canonical base64" in reason


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\n\n", "\n", "no blank line before its signatures"),
        (EM_DASH, "-", "does not start with '— ' (EM DASH, space)"),
        (f"{EM_DASH} ", f"{EM_DASH}  ", "signer name '' is not a valid note name"),
        ("\n5\n", "\n5\r\n", "control character U+000D at offset 14"),
        ("\n5\n", "\n5\t\n", "control character U+0009"),
        ("\n\n", "\n\n\n", "does not verify"),  # the blank line now ends the signed text
    ],
)
def test_malformed_signed_note_fails(signer: Signer, old: str, new: str, message: str) -> None:
    bundle = make_bundle(signer, 5, 1)
    bundle["checkpoint"] = bundle["checkpoint"].replace(old, new, 1)

    assert message in fail_reason(bundle, signer.vkey)


def test_signature_block_must_end_with_newline(signer: Signer) -> None:
    bundle = make_bundle(signer)
    bundle["checkpoint"] = bundle["checkpoint"][:-1]

    assert "signature block does not end with a newline" in fail_reason(bundle, signer.vkey)


ROOT_B64 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"{ORIGIN}\n05\n{ROOT_B64}\n", "tree size '05' is not decimal without leading zeros"),
        (f"{ORIGIN}\n+5\n{ROOT_B64}\n", "tree size '+5' is not decimal"),
        (f"{ORIGIN}\n٥\n{ROOT_B64}\n", "tree size '٥' is not decimal"),
        (f"{ORIGIN}\n{2**64}\n{ROOT_B64}\n", "too large; expected at most 2^63-1"),
        (f"{ORIGIN}\n5\n{ROOT_B64}\n\n", "line 4 is empty; expected non-empty extension lines"),
        (f"{ORIGIN}\n5\n", "checkpoint text has 2 lines; expected origin, tree size, root hash"),
        (f"{ORIGIN}\n5\n{_b64(bytes(31))}\n", "root hash is 31 bytes; expected 32"),
        (f"\n5\n{ROOT_B64}\n", "origin line is empty"),
    ],
)
def test_malformed_checkpoint_body_fails_even_when_signed(
    signer: Signer, text: str, message: str
) -> None:
    bundle = make_bundle(signer, 5, 1)
    bundle["checkpoint"] = signer.sign(text)

    assert message in fail_reason(bundle, signer.vkey)


def test_checkpoint_extension_lines_are_allowed_and_signed(signer: Signer) -> None:
    entries = [_entry(millis=i) for i in range(5)]
    bundle = make_bundle(signer, 5, 1, entries)
    text = _checkpoint_text(ORIGIN, 5, _mth(entries), "ext one", "ext two")
    bundle["checkpoint"] = signer.sign(text)

    assert vb.check_bundle(encode(bundle), signer.vkey)[0] == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff{}", "not valid UTF-8"),
        (b"{", "not valid JSON"),
        (b"[]", "is a JSON list; expected a JSON object"),
        (b'{"entry_index": NaN}', "bundle has NaN"),
        (b'{"origin": "a", "origin": "a"}', "key 'origin' twice"),
        (b'{"format": "x"}', "bundle is missing checkpoint, entry, entry_index,"),
        (b"\xef\xbb\xbf{}", "not valid JSON"),
    ],
)
def test_malformed_bundle_json_fails(signer: Signer, data: bytes, message: str) -> None:
    assert message in fail_reason(data, signer.vkey)


def test_wrong_format_fails(signer: Signer) -> None:
    bundle = make_bundle(signer)
    bundle["format"] = "hashfed-provenance-bundle/v2"

    reason = fail_reason(bundle, signer.vkey)

    assert 'format is "hashfed-provenance-bundle/v2"; expected "hashfed-provenance-bundle/v1"' in (
        reason
    )


# --- verifier keys --------------------------------------------------------------------------


def test_verifier_key_round_trips(signer: Signer) -> None:
    key = vb.parse_verifier_key(signer.vkey + "\n")

    assert (key.name, key.key_id, key.public_key) == (signer.name, signer.key_id, signer.public)
    assert key.text == signer.vkey


def _key_with(name: str, id_hex: str, raw: bytes) -> str:
    return f"{name}+{id_hex}+{_b64(raw)}"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda s: _key_with(s.name, "00000000", b"\x01" + s.public), "does not match its name"),
        (
            lambda s: _key_with(s.name, s.key_id.hex(), b"\x02" + s.public),
            "type is 0x02; expected 0x01",
        ),
        (lambda s: s.vkey + "==", "verifier key is not canonical base64"),
        (lambda s: s.vkey.replace("+", "+ ", 1), "8 lowercase hex digits"),
        (lambda s: s.vkey.replace(s.key_id.hex(), s.key_id.hex().upper()), "lowercase hex"),
        (lambda s: "acme example" + s.vkey[len(s.name) :], "not a valid note name"),
        (lambda s: s.name, "is malformed; expected name+hex8(keyid)+base64(key)"),
    ],
)
def test_malformed_verifier_keys_are_rejected(signer: Signer, make: Any, message: str) -> None:
    with pytest.raises(vb.VerificationError) as caught:
        vb.parse_verifier_key(make(signer))

    assert message in str(caught.value)


# --- reference vectors and independence ----------------------------------------------------


def test_c2sp_signed_note_example_verifies(vectors_dir: Path) -> None:
    key = vb.parse_verifier_key((vectors_dir / "note" / "example.vkey").read_text())
    note = (vectors_dir / "note" / "example.note").read_bytes()

    assert vb.verify_note(note, key) == b"This is an example message.\n"
    with pytest.raises(vb.VerificationError, match="does not verify"):
        vb.verify_note(note.replace(b"example message", b"example massage"), key)


def test_transparency_dev_inclusion_vectors(vectors_dir: Path) -> None:
    files = sorted((vectors_dir / "merkle" / "inclusion").rglob("*.json"))
    assert len(files) > 50

    wrong = []
    for path in files:
        case = json.loads(path.read_text())
        try:
            vb.verify_inclusion(
                base64.b64decode(case["leafHash"]),
                case["leafIdx"],
                case["treeSize"],
                [base64.b64decode(h) for h in case["proof"] or []],
                base64.b64decode(case["root"]),
            )
            failed = False
        except vb.VerificationError:
            failed = True
        if failed != case["wantErr"]:
            wrong.append(path.relative_to(vectors_dir))

    assert wrong == []


def test_script_does_not_import_the_node_package() -> None:
    # The shared auditor package beside it (scripts/auditlib/) follows the same rule; the rule
    # for every auditor script is enforced in tests/unit/scripts/test_import_rule.py.
    for path in (SCRIPT, *sorted((SCRIPT.parent / "auditlib").glob("*.py"))):
        tree = ast.parse(path.read_text())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add((node.module or "").split(".")[0] if node.level == 0 else ".")

        assert "node" not in imported
        assert "." not in imported
        assert imported <= set(sys.stdlib_module_names) | {"cryptography", "auditlib"}
