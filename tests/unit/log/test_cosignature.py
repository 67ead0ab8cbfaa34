"""C2SP tlog-cosignature/v1: keys, signature lines, the exact signed bytes, and refusals."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from node.errors import MalformedError, SignatureError
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.cosignature import (
    Cosignature,
    CosignerKey,
    WitnessKey,
    cosignatures_in,
    signed_message,
    with_cosignatures,
)
from node.log.keys import SignerKey
from node.log.note import Note

ORIGIN = "origin.example"


def _checkpoint(size: int = 7) -> SignedCheckpoint:
    return SignedCheckpoint.sign(
        Checkpoint(ORIGIN, size, hashlib.sha256(b"%d" % size).digest()), SignerKey.generate(ORIGIN)
    )


def test_the_signed_message_and_line_are_exactly_the_c2sp_ones() -> None:
    key = CosignerKey.generate("witness.example")
    signed = _checkpoint()
    body = Note.parse(signed.text()).text
    cosig = key.cosign(body, 1_679_315_147)
    # Rebuilt here from the spec's words, independently of the module.
    message = b"cosignature/v1\ntime 1679315147\n" + body.encode()
    assert signed_message(body, 1_679_315_147) == message
    public = key.verifier().public_key
    Ed25519PublicKey.from_public_bytes(public).verify(cosig.signature, message)
    key_id = hashlib.sha256(b"witness.example\n\x04" + public).digest()[:4]
    raw = key_id + struct.pack(">Q", 1_679_315_147) + cosig.signature
    assert cosig.line() == f"\u2014 witness.example {base64.b64encode(raw).decode()}\n"
    data = base64.b64encode(b"\x04" + public).decode()
    vkey = f"witness.example+{key_id.hex()}+{data}"
    assert str(key.verifier()) == vkey
    assert WitnessKey.parse(vkey) == key.verifier()
    assert CosignerKey.parse(str(key)) == key


def test_cosigned_notes_keep_the_origin_signature_and_verify() -> None:
    signed = _checkpoint()
    keys = [CosignerKey.generate(f"w{i}.example") for i in range(3)]
    body = Note.parse(signed.text()).text
    text = with_cosignatures(
        signed.text(), [k.cosign(body, 1_700_000_000 + i) for i, k in enumerate(keys)]
    )
    note = Note.parse(text)
    assert note.signatures[0].name == ORIGIN
    found = cosignatures_in(note, [k.verifier() for k in keys])
    assert [k.name for k, _ in found] == ["w0.example", "w1.example", "w2.example"]
    # A witness key nobody cosigned with finds nothing; unknown lines are ignored.
    assert cosignatures_in(note, [CosignerKey.generate("other.example").verifier()]) == []


def test_a_cosignature_over_another_checkpoint_or_time_does_not_verify() -> None:
    key = CosignerKey.generate("witness.example")
    body = Note.parse(_checkpoint(7).text()).text
    other = Note.parse(_checkpoint(8).text()).text
    cosig = key.cosign(body, 100)
    with pytest.raises(SignatureError):
        key.verifier().verify(other, cosig)
    moved = Cosignature(cosig.name, cosig.key_id, 101, cosig.signature)
    with pytest.raises(SignatureError):
        key.verifier().verify(body, moved)


@given(st.data())
def test_any_changed_byte_of_a_cosignature_line_fails(data: st.DataObject) -> None:
    key = CosignerKey.generate("witness.example")
    signed = _checkpoint()
    body = Note.parse(signed.text()).text
    text = with_cosignatures(signed.text(), [key.cosign(body, 1_700_000_000)])
    start = text.index("\u2014 witness.example")
    pos = data.draw(st.integers(start, len(text) - 2))  # not the final newline
    new = data.draw(st.characters(codec="ascii").filter(lambda c: c != text[pos]))
    tampered = text[:pos] + new + text[pos + 1 :]
    try:
        note = Note.parse(tampered)
        found = cosignatures_in(note, [key.verifier()])
    except (MalformedError, SignatureError):
        return
    assert found == []  # the line no longer names the key: it simply does not count


@pytest.mark.parametrize(
    "text",
    [
        "witness.example+00000000+" + base64.b64encode(b"\x04" + b"\x01" * 32).decode(),
        "witness.example+abcd+" + base64.b64encode(b"\x04" + b"\x01" * 32).decode(),
    ],
)
def test_malformed_witness_keys_are_refused(text: str) -> None:
    with pytest.raises(MalformedError):
        WitnessKey.parse(text)


def test_a_note_key_is_not_a_witness_key() -> None:
    note_key = str(SignerKey.generate("witness.example").verifier())
    with pytest.raises(MalformedError, match="0x04"):
        WitnessKey.parse(note_key)
