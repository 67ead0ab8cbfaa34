"""Signed notes: the C2SP example, tamper detection, round trips and malformed input."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.errors import MalformedError, SignatureError
from node.log.keys import SignerKey, VerifierKey
from node.log.note import MAX_SIGNATURES, Note, NoteSignature, sign_note

# From the documentation of golang.org/x/mod/sumdb/note: Ed25519 is deterministic, so signing
# the same text with the same key must reproduce Go's note byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNX"
    "gKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
# The example of c2sp.org/signed-note itself (its key is not published; it must still parse).
C2SP_NOTE = (
    "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    "\n— quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONr"
    "MouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
)


@pytest.fixture(scope="module")
def example(vectors_dir: Path) -> tuple[bytes, VerifierKey]:
    folder = vectors_dir / "note"
    key = VerifierKey.parse((folder / "example.vkey").read_text().removesuffix("\n"))
    return (folder / "example.note").read_bytes(), key


@pytest.fixture(scope="module")
def signer() -> SignerKey:
    return SignerKey.generate("acme.example")


def _sig_line(name: str, raw: bytes) -> str:
    return f"— {name} {base64.b64encode(raw).decode()}\n"


def test_example_verifies(example: tuple[bytes, VerifierKey]) -> None:
    data, key = example
    note = Note.parse(data)
    assert note.text == "This is an example message.\n"
    note.verify(key)
    assert note.format().encode() == data
    assert Note.parse(data.decode()) == note


def one_byte_variants(data: bytes) -> Iterator[bytes]:
    """Every one-byte change: flip the low bit, and substitute another printable character."""
    for i, byte in enumerate(data):
        yield data[:i] + bytes([byte ^ 0x01]) + data[i + 1 :]
        yield data[:i] + (b"A" if byte != ord("A") else b"B") + data[i + 1 :]


def test_example_rejected_with_any_byte_changed(example: tuple[bytes, VerifierKey]) -> None:
    data, key = example
    tried = still_parsed = 0
    for variant in one_byte_variants(data):
        tried += 1
        try:
            note = Note.parse(variant)
        except MalformedError:
            continue
        # A variant that still parses must be caught by the signature check.
        still_parsed += 1
        with pytest.raises(SignatureError):
            note.verify(key)
    assert tried == 2 * len(data)
    assert 0 < still_parsed < tried  # both layers were exercised


def test_go_reference_note_is_reproduced() -> None:
    signer = SignerKey.parse(GO_SKEY)
    note = sign_note(GO_TEXT, signer)
    assert note.format() == GO_NOTE
    assert Note.parse(GO_NOTE) == note
    note.verify(signer.verifier())


def test_c2sp_example_parses_and_round_trips() -> None:
    note = Note.parse(C2SP_NOTE)
    assert note.text.endswith("terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n")
    assert note.format() == C2SP_NOTE
    with pytest.raises(SignatureError, match=r"quasimodo\.example/salvatore"):
        note.verify(SignerKey.generate("quasimodo.example/salvatore").verifier())


def test_sign_and_verify(signer: SignerKey) -> None:
    note = sign_note("hello\n\nworld\n", signer)
    parsed = Note.parse(note.format())
    assert parsed == note
    parsed.verify(signer.verifier())


def test_unknown_signatures_are_ignored(signer: SignerKey) -> None:
    other = SignerKey.generate("witness.example")
    note = sign_note("hello\n", other).with_signature(sign_note("hello\n", signer).signatures[0])
    # A signature by the same name with another key id is unknown, so it is skipped too.
    stranger = NoteSignature(signer.name, b"\x00\x00\x00\x00", b"\x00" * 64)
    note = note.with_signature(stranger)
    Note.parse(note.format()).verify(signer.verifier())
    Note.parse(note.format()).verify(other.verifier())


def test_signature_by_another_key_fails(signer: SignerKey) -> None:
    note = sign_note("hello\n", SignerKey.generate("other.example"))
    with pytest.raises(SignatureError, match=r"not signed by acme\.example\+.*other\.example"):
        note.verify(signer.verifier())


def test_same_name_other_key_fails_with_hint(signer: SignerKey) -> None:
    note = sign_note("hello\n", SignerKey.generate(signer.name))
    with pytest.raises(SignatureError, match="same name, other key id"):
        note.verify(signer.verifier())


def test_wrong_key_id_fails(signer: SignerKey) -> None:
    sig = sign_note("hello\n", signer).signatures[0]
    wrong = Note("hello\n", (NoteSignature(sig.name, b"\x01\x02\x03\x04", sig.signature),))
    with pytest.raises(SignatureError, match="not signed by"):
        Note.parse(wrong.format()).verify(signer.verifier())


def test_invalid_known_signature_fails(signer: SignerKey) -> None:
    sig = sign_note("hello\n", signer).signatures[0]
    forged = Note("hellO\n", (sig,))
    with pytest.raises(SignatureError, match="does not verify"):
        forged.verify(signer.verifier())
    truncated = Note("hello\n", (NoteSignature(sig.name, sig.key_id, sig.signature[:10]),))
    with pytest.raises(SignatureError, match="64"):
        truncated.verify(signer.verifier())


def test_with_signature(signer: SignerKey) -> None:
    note = sign_note("hello\n", signer)
    assert note.with_signature(note.signatures[0]) is note
    changed = NoteSignature(signer.name, signer.key_id, b"\x00" * 64)
    with pytest.raises(ValueError, match="already has a different signature"):
        note.with_signature(changed)
    cosig = sign_note("hello\n", SignerKey.generate("w.example")).signatures[0]
    both = note.with_signature(cosig)
    assert both.signatures == (note.signatures[0], cosig)
    assert Note.parse(both.format()) == both


GOOD_SIG = _sig_line("a.example", b"\x00\x00\x00\x00" + b"\x01" * 64)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("hello\n\n" + GOOD_SIG.removesuffix("\n"), "does not end with a newline"),
        ("hello\n\n", "no signature lines"),
        ("hello\n", "no blank line"),
        ("hello\n" + GOOD_SIG, "no blank line"),
        ("hello\n\n" + GOOD_SIG + "\n", "no signature lines"),
        ("hel\x00lo\n\n" + GOOD_SIG, "U\\+0000 on line 1"),
        ("hello\r\n\n" + GOOD_SIG, "CRLF"),
        ("hello\n\tx\n\n" + GOOD_SIG, "U\\+0009 on line 2"),
        ("hello\n\n" + GOOD_SIG.replace("\n", "\x1b\n"), "U\\+001B"),
        ("hello\ud800\n\n" + GOOD_SIG, "surrogate"),
        ("hello\n\n" + GOOD_SIG.replace("—", "-"), "em dash"),
        ("hello\n\n" + GOOD_SIG.replace("— ", "—"), "em dash"),
        ("hello\n\n" + GOOD_SIG.replace("a.example ", "a.example"), "no space after"),
        ("hello\n\n" + GOOD_SIG.replace("a.example ", "a.example  "), "not valid base64"),
        ("hello\n\n" + GOOD_SIG.replace(" ", "  ", 1), "key name '' is empty"),
        ("hello\n\n" + GOOD_SIG.replace("a.example", "a+example"), "'\\+'"),
        ("hello\n\n" + GOOD_SIG.replace("AAAAAA", "AAA!AA"), "not valid base64"),
        ("hello\n\n" + GOOD_SIG.replace("=\n", "\n"), "not valid base64"),
        ("hello\n\n" + GOOD_SIG.replace("=\n", "==\n"), "not valid base64"),
        ("hello\n\n" + GOOD_SIG.replace("E=\n", "F=\n"), "not canonical"),
        ("hello\n\n" + _sig_line("a.example", b"\x00\x00\x00\x00"), "4 bytes"),
        ("hello\n\n" + _sig_line("a.example", b""), "0 bytes"),
        ("hello\n\n" + GOOD_SIG + GOOD_SIG, "two signatures by key a.example\\+00000000"),
        ("hello\n\n" + GOOD_SIG * 2 + "x\n", "line 5"),
    ],
)
def test_malformed_notes(data: str, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        Note.parse(data)


def test_invalid_utf8_rejected() -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        Note.parse(b"hel\xfflo\n\n" + GOOD_SIG.encode())
    with pytest.raises(MalformedError, match="UTF-8"):
        Note.parse(b"\xed\xa0\x80\n\n" + GOOD_SIG.encode())  # encoded surrogate


def _many_signatures(count: int) -> str:
    lines = (_sig_line(f"w{i}.example", b"\x00\x00\x00\x00" + b"\x01" * 64) for i in range(count))
    return "hello\n\n" + "".join(lines)


def test_signature_count_limit() -> None:
    assert len(Note.parse(_many_signatures(MAX_SIGNATURES)).signatures) == MAX_SIGNATURES
    with pytest.raises(MalformedError, match="101 signature lines"):
        Note.parse(_many_signatures(MAX_SIGNATURES + 1))


def test_constructor_validates(signer: SignerKey) -> None:
    sig = sign_note("x\n", signer).signatures[0]
    for text in ("x", "", "x\x07\n", "x\r\n"):
        with pytest.raises(MalformedError):
            Note(text, (sig,))
        with pytest.raises(MalformedError):
            sign_note(text, signer)
    with pytest.raises(MalformedError, match="no signatures"):
        Note("x\n", ())
    with pytest.raises(MalformedError):
        NoteSignature("a b", b"\x00" * 4, b"\x00")
    with pytest.raises(MalformedError):
        NoteSignature("a", b"\x00" * 3, b"\x00")


# Any text the format can carry: no control characters but newline, no lone surrogates, and a
# final newline. Blank lines (even trailing ones) are allowed inside the text.
note_text = st.text(
    st.characters(min_codepoint=0x20, exclude_categories=["Cs"]) | st.just("\n"), max_size=80
).map(lambda text: text + "\n")
names = st.text(
    st.characters(min_codepoint=0x21, exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]),
    min_size=1,
    max_size=12,
).filter(lambda name: "+" not in name)
note_signatures = st.lists(
    st.builds(
        NoteSignature,
        names,
        st.binary(min_size=4, max_size=4),
        st.binary(min_size=1, max_size=80),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda sig: (sig.name, sig.key_id),
)


@settings(max_examples=300)
@given(note_text, note_signatures)
def test_round_trip(text: str, signatures: list[NoteSignature]) -> None:
    note = Note(text, tuple(signatures))
    formatted = note.format()
    assert Note.parse(formatted) == note
    assert Note.parse(formatted.encode("utf-8")) == note


@settings(max_examples=50)
@given(note_text)
def test_signed_round_trip(text: str) -> None:
    signer = SignerKey.parse(GO_SKEY)
    note = Note.parse(sign_note(text, signer).format())
    assert note.text == text
    note.verify(signer.verifier())
