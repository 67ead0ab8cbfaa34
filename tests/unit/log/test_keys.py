"""Signed-note key formats: strict parsing, round trips, and keeping the seed secret."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from node.errors import MalformedError, SignatureError
from node.log.keys import SignerKey, VerifierKey, b64decode_canonical, key_id, validate_name

# The key pair from the documentation of golang.org/x/mod/sumdb/note: an independent
# implementation's output, so matching it shows interoperability, not just self-consistency.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def _vkey_parts(name: str, kid: str, data: bytes) -> str:
    return f"{name}+{kid}+{base64.b64encode(data).decode()}"


@pytest.fixture(scope="module")
def signer() -> SignerKey:
    return SignerKey.generate("acme.example")


def test_example_vkey_parses(vectors_dir: Path) -> None:
    text = (vectors_dir / "note" / "example.vkey").read_text().removesuffix("\n")
    key = VerifierKey.parse(text)
    assert key.name == "example.com/foo"
    assert key.key_id == bytes.fromhex("530d903a")
    assert str(key) == text


def test_go_reference_key_pair() -> None:
    signer = SignerKey.parse(GO_SKEY)
    assert str(signer) == GO_SKEY
    assert signer.verifier() == VerifierKey.parse(GO_VKEY)
    assert str(signer.verifier()) == GO_VKEY


def test_generated_key_round_trips_and_signs(signer: SignerKey) -> None:
    assert SignerKey.parse(str(signer)) == signer
    verifier = signer.verifier()
    assert VerifierKey.parse(str(verifier)) == verifier
    assert verifier.key_id == key_id("acme.example", verifier.public_key)
    signature = signer.sign(b"hello\n")
    verifier.verify(b"hello\n", signature)
    with pytest.raises(SignatureError):
        verifier.verify(b"hello!\n", signature)
    with pytest.raises(SignatureError, match="64"):
        verifier.verify(b"hello\n", signature[:-1])
    with pytest.raises(SignatureError):
        SignerKey.generate("acme.example").verifier().verify(b"hello\n", signature)


def test_key_id_binds_the_name(signer: SignerKey) -> None:
    public = signer.verifier().public_key
    assert key_id("acme.example", public) != key_id("evil.example", public)


def test_wrong_key_id_rejected() -> None:
    name, _, data = GO_VKEY.split("+", 2)
    with pytest.raises(MalformedError, match="expected c74f20a3"):
        VerifierKey.parse(f"{name}+c74f20a4+{data}")
    with pytest.raises(MalformedError, match="does not match"):
        SignerKey.parse(GO_SKEY.replace("c74f20a3", "00000000"))
    # Same key material under another name: the id no longer matches.
    with pytest.raises(MalformedError, match="does not match"):
        VerifierKey.parse(GO_VKEY.replace("PeterNeumann", "PeterNeuman"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        GO_VKEY.replace("c74f20a3", "C74F20A3"),  # uppercase: not the canonical spelling
        GO_VKEY.replace("c74f20a3", "c74f20a"),
        GO_VKEY.replace("c74f20a3", "0c74f20a3"),
        GO_VKEY.replace("c74f20a3", "c74f20g3"),
        GO_VKEY + "\n",
        " " + GO_VKEY,
        GO_VKEY.removesuffix("W") + "X",  # non-canonical trailing bits
        GO_VKEY + "=",
        GO_VKEY.replace("ARpc", "AR-c"),
        _vkey_parts("PeterNeumann", "c74f20a3", b"\x01" + bytes(31)),
        _vkey_parts("PeterNeumann", "c74f20a3", b"\x01" + bytes(33)),
        _vkey_parts("PeterNeumann", "c74f20a3", b""),
    ],
)
def test_malformed_verifier_keys(text: str) -> None:
    with pytest.raises(MalformedError):
        VerifierKey.parse(text)


def test_other_key_types_rejected() -> None:
    public = bytes(range(32))
    # A correct id for type 0x02 data would still be refused: hashfed accepts Ed25519 only.
    text = _vkey_parts("a.example", key_id("a.example", public).hex(), b"\x02" + public)
    with pytest.raises(MalformedError, match="0x02"):
        VerifierKey.parse(text)


@pytest.mark.parametrize(
    "name",
    ["", "a b", "a+b", "a\tb", "a\nb", "a\u00a0b", "a\u2003b", "a\u3000b", "a\x00b", "a\x9bb"],
)
def test_bad_names_rejected(name: str) -> None:
    with pytest.raises(MalformedError):
        validate_name(name)
    with pytest.raises(MalformedError):
        SignerKey.generate(name)


def test_lone_surrogate_name_rejected() -> None:
    with pytest.raises(MalformedError, match="surrogate"):
        validate_name("a\ud800")


@pytest.mark.parametrize("name", ["acme.example", "example.com/log42", "ünïcødé.example", "a"])
def test_good_names_accepted(name: str) -> None:
    validate_name(name)
    key = SignerKey.generate(name)
    assert VerifierKey.parse(str(key.verifier())).name == name


def test_signer_repr_and_errors_do_not_leak_the_seed(signer: SignerKey) -> None:
    secret = str(signer)
    encoded = secret.split("+", 4)[4]  # the base64 itself may contain "+"
    for shown in (repr(signer), repr([signer])):
        assert signer.seed.hex() not in shown
        assert encoded not in shown
        assert repr(signer.seed) not in shown
    broken = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    for text in (broken, secret + "\n", secret.replace("PRIVATE+KEY+", "PRIVATE+KEY+x")):
        with pytest.raises(MalformedError) as info:
            SignerKey.parse(text)
        assert encoded not in str(info.value)
    with pytest.raises(MalformedError, match="PRIVATE") as info:
        VerifierKey.parse(secret)
    assert encoded not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        GO_VKEY,  # a public key cannot sign
        GO_SKEY.replace("PRIVATE+KEY", "PRIVATE+KEYS"),
        GO_SKEY.replace("+AYEK", "+AoEK"),  # type byte 0x02
        "PRIVATE+KEY+PeterNeumann+c74f20a3",
    ],
)
def test_malformed_signer_keys(text: str) -> None:
    with pytest.raises(MalformedError):
        SignerKey.parse(text)


def test_constructor_checks_consistency(signer: SignerKey) -> None:
    verifier = signer.verifier()
    with pytest.raises(MalformedError):
        VerifierKey(verifier.name, b"\x00\x00\x00\x00", verifier.public_key)
    with pytest.raises(MalformedError):
        VerifierKey("other.example", verifier.key_id, verifier.public_key)
    with pytest.raises(MalformedError):
        SignerKey(signer.name, signer.key_id, bytes(32))


@pytest.mark.parametrize("text", ["AA==", "AAA=", "AAAA", ""])
def test_canonical_base64_accepted(text: str) -> None:
    assert base64.b64encode(b64decode_canonical(text, "x")).decode() == text


@pytest.mark.parametrize("text", ["AB==", "AAB=", "AA", "AA=", "AA===", "AA==AA==", "A A=", "é"])
def test_non_canonical_base64_rejected(text: str) -> None:
    with pytest.raises(MalformedError, match=r"^x is not"):
        b64decode_canonical(text, "x")
