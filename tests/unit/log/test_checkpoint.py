"""Checkpoints: strict bodies, signing and opening, tamper detection."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import MalformedError, SignatureError
from node.log.checkpoint import MAX_TREE_SIZE, Checkpoint, SignedCheckpoint
from node.log.keys import SignerKey
from node.log.note import Note, sign_note

ROOT = bytes(range(32))
ROOT64 = base64.b64encode(ROOT).decode()
# The example of c2sp.org/tlog-checkpoint (its key is not published; the body must parse).
C2SP_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Z"
    "hcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)


@pytest.fixture(scope="module")
def signer() -> SignerKey:
    return SignerKey.generate("acme.example")


@pytest.fixture(scope="module")
def signed(signer: SignerKey) -> SignedCheckpoint:
    return SignedCheckpoint.sign(Checkpoint("acme.example", 1234, ROOT), signer)


def test_body_format() -> None:
    checkpoint = Checkpoint("acme.example", 1234, ROOT, ("ext one", "two"))
    assert checkpoint.body() == f"acme.example\n1234\n{ROOT64}\next one\ntwo\n"
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


def test_c2sp_example_parses() -> None:
    note = Note.parse(C2SP_CHECKPOINT)
    checkpoint = Checkpoint.parse(note.text)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.body() == note.text


def test_origin_follows_the_spec_not_key_name_rules() -> None:
    # Origins may contain spaces (Go's checksum database uses "go.sum database tree"); only
    # SignedCheckpoint ties origins to key names.
    body = f"go.sum database tree\n0\n{ROOT64}\n"
    assert Checkpoint.parse(body).origin == "go.sum database tree"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"acme.example\n01\n{ROOT64}\n", "line 2: tree size '01' has a leading zero"),
        (f"acme.example\n00\n{ROOT64}\n", "leading zero"),
        (f"acme.example\n-1\n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n+1\n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n 1\n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n1 \n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n1_000\n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n0x10\n{ROOT64}\n", "not a decimal number"),
        (f"acme.example\n\u0661\n{ROOT64}\n", "not a decimal number"),  # Arabic-Indic one
        (f"acme.example\n{2**63}\n{ROOT64}\n", "too large"),
        (f"acme.example\n{'9' * 5000}\n{ROOT64}\n", "too large"),
        (f"acme.example\n\n{ROOT64}\n", "line 2 is empty"),
        (f"\n1\n{ROOT64}\n", "line 1 is empty"),
        ("acme.example\n1\n\n", "line 3 is empty"),
        ("acme.example\n1\nAAAA\n", "root hash is 3 bytes"),
        (f"acme.example\n1\n{base64.b64encode(bytes(33)).decode()}\n", "33 bytes"),
        (f"acme.example\n1\n{ROOT64.rstrip('=')}\n", "not valid base64"),
        (f"acme.example\n1\n{ROOT64[:-2]}9=\n", "not canonical"),
        (f"acme.example\n1\n{ROOT64}", "does not end with a newline"),
        (f"acme.example\n1\n{ROOT64}\n\n", "line 4 is empty"),
        (f"acme.example\n1\n{ROOT64}\next\n\nmore\n", "line 5 is empty"),
        (f"acme.example\n1\n{ROOT64}\next\x07\n", "line 4 contains U\\+0007"),
        (f"acme.example\r\n1\n{ROOT64}\n", "line 1 contains U\\+000D"),
        ("acme.example\n1\n", "2 line"),
        ("", "does not end with a newline"),
    ],
)
def test_strict_parsing(body: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        Checkpoint.parse(body)


def test_size_bounds() -> None:
    assert Checkpoint.parse(f"a\n0\n{ROOT64}\n").size == 0
    assert Checkpoint.parse(f"a\n{MAX_TREE_SIZE}\n{ROOT64}\n").size == 2**63 - 1


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        ("a", -1, ROOT),
        ("a", 2**63, ROOT),
        ("a", True, ROOT),
        ("a", 1, ROOT[:31]),
        ("a", 1, ROOT, ("",)),
        ("a", 1, ROOT, ("x\ny",)),
    ],
)
def test_constructor_validates(args: tuple[object, ...]) -> None:
    with pytest.raises(MalformedError):
        Checkpoint(*args)  # type: ignore[arg-type]


def test_sign_and_open(signer: SignerKey, signed: SignedCheckpoint) -> None:
    opened = SignedCheckpoint.open(signed.text(), signer.verifier())
    assert opened == signed
    assert opened.checkpoint == Checkpoint("acme.example", 1234, ROOT)
    assert SignedCheckpoint.open(signed.text().encode(), signer.verifier()) == signed


def test_other_signature_lines_are_dropped_on_open(
    signer: SignerKey, signed: SignedCheckpoint
) -> None:
    # Lines by other keys (cosignatures, or ones a relay made up) are not verified by open, so
    # the opened value never carries them: storing text() can never pass a forgery on.
    witness = SignerKey.generate("witness.example")
    cosig = sign_note(signed.note.text, witness).signatures[0]
    text = signed.note.with_signature(cosig).format()
    opened = SignedCheckpoint.open(text, signer.verifier())
    assert opened == signed
    assert opened.text() == signed.text()


def test_sign_requires_origin_key(signer: SignerKey) -> None:
    with pytest.raises(ValueError, match="not the checkpoint origin"):
        SignedCheckpoint.sign(Checkpoint("other.example", 1, ROOT), signer)


def test_open_with_wrong_key_fails(signed: SignedCheckpoint) -> None:
    same_name = SignerKey.generate("acme.example").verifier()
    with pytest.raises(SignatureError, match=r"not signed by acme\.example"):
        SignedCheckpoint.open(signed.text(), same_name)
    other = SignerKey.generate("other.example").verifier()
    with pytest.raises(SignatureError, match=r"not signed by other\.example"):
        SignedCheckpoint.open(signed.text(), other)


def test_open_with_wrong_origin_fails(signer: SignerKey) -> None:
    # Validly signed by acme's key, but claiming to be another log's checkpoint.
    note = sign_note(Checkpoint("victim.example", 7, ROOT).body(), signer)
    with pytest.raises(SignatureError, match=r"origin 'victim\.example' is not the name of key"):
        SignedCheckpoint.open(note.format(), signer.verifier())


def test_open_rejects_signed_garbage(signer: SignerKey) -> None:
    note = sign_note("acme.example\n01\nAAAA\n", signer)
    with pytest.raises(MalformedError, match="leading zero"):
        SignedCheckpoint.open(note.format(), signer.verifier())


def test_note_must_match_checkpoint(signer: SignerKey, signed: SignedCheckpoint) -> None:
    with pytest.raises(MalformedError, match="not the checkpoint's body"):
        SignedCheckpoint(Checkpoint("acme.example", 1235, ROOT), signed.note)


def test_any_byte_changed_fails(signer: SignerKey) -> None:
    checkpoint = Checkpoint("acme.example", 20852163, ROOT, ("ext",))
    data = SignedCheckpoint.sign(checkpoint, signer).text().encode()
    key = signer.verifier()
    for i, byte in enumerate(data):
        for replacement in (byte ^ 0x01, ord("A") if byte != ord("A") else ord("B")):
            variant = data[:i] + bytes([replacement]) + data[i + 1 :]
            with pytest.raises((MalformedError, SignatureError)):
                SignedCheckpoint.open(variant, key)


origins = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]), min_size=1, max_size=30
)
checkpoints = st.builds(
    Checkpoint,
    origins,
    st.integers(min_value=0, max_value=MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
    st.lists(origins, max_size=3).map(tuple),
)


@settings(max_examples=300)
@given(checkpoints)
def test_round_trip(checkpoint: Checkpoint) -> None:
    assert Checkpoint.parse(checkpoint.body()) == checkpoint


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=MAX_TREE_SIZE), st.binary(min_size=32, max_size=32))
def test_signed_round_trip(size: int, root: bytes) -> None:
    signer = SignerKey.parse(
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    )
    signed = SignedCheckpoint.sign(Checkpoint("PeterNeumann", size, root), signer)
    assert SignedCheckpoint.open(signed.text(), signer.verifier()) == signed
