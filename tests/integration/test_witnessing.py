"""Witnessing across a real federation: A publishes, B and C verify and cosign, cosignatures
travel over ListCheckpoints, and a match becomes *witnessed* once two members other than the
origin have cosigned a checkpoint covering it. Auditors read, are logged, and never count.

Real nodes over real gRPC with mutual TLS on 127.0.0.1, real keys, real SQLite.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.errors import IdentityError, InvalidInputError
from node.hashing import ComputedSignal, parse_signal
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.cosignature import CosignerKey, WitnessKey, cosignatures_in, with_cosignatures
from node.log.entry import Labels
from node.log.keys import SignerKey
from node.log.note import Note
from node.results import Witnessing
from tests.support.fednet import Member, peer, run_cli

A, B, C = "wit-a.example", "wit-b.example", "wit-c.example"
AUDITOR = "audit.example"
LABELS = Labels(entity="Example Front", content_type="image", behaviours=("glorification",))


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[dict[str, Member]]:
    a, b, c = (Member.create(tmp_path, name) for name in (A, B, C))
    for x, y in ((a, b), (a, c), (b, c)):
        peer(x, y)
        peer(y, x)
    members = {A: a, B: b, C: c}
    for m in members.values():
        m.start()
    yield members
    for m in members.values():
        m.stop()


def _publish(member: Member, count: int) -> list[str]:
    signals = [f"pdq:{secrets.token_hex(32)}" for _ in range(count)]
    for s in signals:
        member.publisher.publish_signals([ComputedSignal(parse_signal(s), 100)], LABELS)
    return signals


def _witnessing(member: Member, signal: str) -> Witnessing:
    (result,) = member.matcher.match_signals([parse_signal(signal)])
    (match,) = result.matches
    assert match.witnessing is not None
    return match.witnessing


def test_a_match_becomes_witnessed_once_two_members_cosign(mesh: dict[str, Member]) -> None:
    a, b, c = mesh[A], mesh[B], mesh[C]
    signals = _publish(a, 3)

    assert c.sync_one(A).ok
    # C verified A's log and cosigned it: one witness, the policy wants two.
    w = _witnessing(c, signals[0])
    assert (w.witnessed, w.witnesses, w.required) == (False, (C,), 2)
    assert c.query("SELECT witness, size FROM cosignatures WHERE origin = ?", A) == [(C, 3)]

    assert b.sync_one(A).ok  # B cosigns too, and C learns of it from B
    assert c.sync_one(B).ok
    w = _witnessing(c, signals[2])
    assert (w.witnessed, w.checkpoint_size, w.witnesses) == (True, 3, (B, C))

    # Cosignatures reach the origin as well; the origin never counts for itself.
    assert a.sync_one(B).ok
    assert _witnessing(a, signals[1]) == Witnessing(None, (B,), 2)
    assert a.sync_one(C).ok
    w = _witnessing(a, signals[1])
    assert (w.witnessed, w.checkpoint_size, w.witnesses) == (True, 3, (B, C))
    assert a.query("SELECT COUNT(*) FROM cosignatures WHERE witness = ?", A) == [(0,)]

    # Later entries are covered only by a later checkpoint: unwitnessed until cosigned again.
    late = _publish(a, 1)[0]
    assert c.sync_one(A).ok
    w = _witnessing(c, late)
    assert (w.witnessed, w.witnesses) == (False, (C,))
    assert _witnessing(c, signals[0]).checkpoint_size == 3  # smallest witnessed covering one
    assert b.sync_one(A).ok and c.sync_one(B).ok
    assert _witnessing(c, late) == Witnessing(4, (B, C), 2)


def test_cosignatures_verify_with_the_witness_keys_and_travel_in_bundles(
    mesh: dict[str, Member],
) -> None:
    a, b, c = mesh[A], mesh[B], mesh[C]
    _publish(a, 2)
    for member, other in ((b, A), (c, A), (c, B), (a, B), (a, C)):
        assert member.sync_one(other).ok
    bundle = json.loads(c.reader.bundle(A, 1).to_json())
    note = Note.parse(bundle["checkpoint"])
    keys = [WitnessKey.parse(json.loads(m.card())["witness_key"]) for m in (b, c)]
    found = cosignatures_in(note, keys)
    assert sorted(k.name for k, _ in found) == [B, C]
    a_key = json.loads(a.card())["verifier_key"]
    assert note.signatures[0].name == A and str(a_key).startswith(A)


def test_a_witness_refuses_a_smaller_tree_after_a_larger(tmp_path: Path) -> None:
    origin = Member.create(tmp_path, A)
    witness = Member.create(tmp_path, B)
    peer(witness, origin)
    origin.start()
    witness.start()
    try:
        _publish(origin, 2)
        assert witness.sync_one(A).ok
        # Forge the witness state as if it had cosigned a larger tree: it must then refuse
        # to cosign its (smaller) newest checkpoint rather than sign two statements.
        with Node.open(witness.home) as node:
            with node.store.transaction():
                node.store.witnessing.put_witness_state(A, 10, b"\x01" * 32)
            with pytest.raises(Exception, match="already cosigned the larger size 10"):
                node.witness.cosign_latest(A)
    finally:
        witness.stop()
        origin.stop()


@pytest.fixture
def auditor_home(tmp_path: Path) -> Path:
    home = tmp_path / "auditor"
    Node.init(home, AUDITOR, auditor=True).close()
    return home


def test_an_auditor_reads_is_logged_and_never_counts(
    mesh: dict[str, Member], auditor_home: Path, tmp_path: Path
) -> None:
    a, c = mesh[A], mesh[C]
    signals = _publish(a, 2)
    assert c.sync_one(A).ok
    with Node.open(auditor_home) as auditor:
        card = json.dumps(auditor.identity_card())
        assert auditor.identity_card()["role"] == "auditor"
        with pytest.raises(IdentityError, match="auditor"):
            auditor.publisher.publish_signals(
                [ComputedSignal(parse_signal(signals[0]), 100)], LABELS
            )
        cosigner: CosignerKey = auditor.cosigner
    refused = run_cli(auditor_home, "serve")
    assert refused.exit_code == 7, refused.output  # identity error: auditors serve nothing
    assert "auditor" in refused.output
    c.members.add(card)
    assert [x.name for x in c.members.auditors()] == [AUDITOR]
    with pytest.raises(InvalidInputError, match="auditor"):
        c.members.add_peer(card)

    # The auditor reads C's federation service over mutual TLS; every call is logged.
    c_card = json.loads(c.card())
    credentials = grpc.ssl_channel_credentials(
        root_certificates=c_card["tls_certificate"].encode(),
        private_key=(auditor_home / "keys" / "tls.key").read_bytes(),
        certificate_chain=(auditor_home / "keys" / "tls.crt").read_bytes(),
    )
    with grpc.secure_channel(
        c.address, credentials, options=[("grpc.ssl_target_name_override", C)]
    ) as channel:
        stub = federation_pb2_grpc.FederationServiceStub(channel)
        # The server re-reads its pinned certificates every 0.25 s.
        grpc.channel_ready_future(channel).result(timeout=10)
        origins = stub.ListOrigins(federation_pb2.ListOriginsRequest(), timeout=10)
        assert {o.origin for o in origins.origins} == {A}  # C has published nothing
        notes = [
            n
            for batch in stub.ListCheckpoints(
                federation_pb2.ListCheckpointsRequest(origin=A), timeout=10
            )
            for n in batch.checkpoints
        ]
        assert len(notes) == 1
    reads = c.audit.reads()
    assert [(r.auditor, r.method) for r in reads] == [
        (AUDITOR, "ListCheckpoints"),
        (AUDITOR, "ListOrigins"),
    ]
    # What was asked is kept too, not only the method.
    assert reads[0].request.startswith(f'origin: "{A}" from ipv4:127.0.0.1:')

    # The auditor's own cosignature on A's checkpoint is kept apart and never counts.
    body = Note.parse(notes[0]).text
    relayed = with_cosignatures(notes[0], [cosigner.cosign(body, 1_800_000_000)])
    before = _witnessing(c, signals[0])
    c.importer.absorb_cosigned(A, [relayed], AUDITOR)
    assert _witnessing(c, signals[0]) == before == Witnessing(None, (C,), 2)

    # An auditor's name can never become an origin here, even with a member's card.
    with Node.init(tmp_path / "impostor", AUDITOR, peer_address="127.0.0.1:1") as impostor:
        impostor_card = json.dumps(impostor.identity_card())
    with pytest.raises(InvalidInputError, match="auditor can never become an origin"):
        c.members.add(impostor_card)
    assert AUDITOR not in c.members.trusted_keys()


def _keys(member: Member) -> tuple[SignerKey, CosignerKey]:
    keys = member.home / "keys"
    signer = SignerKey.parse((keys / "signing.key").read_text(encoding="utf-8").strip())
    cosigner = CosignerKey.parse((keys / "witness.key").read_text(encoding="utf-8").strip())
    return signer, cosigner


def test_a_cosignature_of_another_text_with_the_same_root_is_not_kept(
    mesh: dict[str, Member],
) -> None:
    """An origin can sign two texts with one size and root (extension lines differ); a
    witness's cosignature of the other text must not be stored beside ours, or our bundles
    would carry a line no auditor can verify."""
    a, b, c = mesh[A], mesh[B], mesh[C]
    signals = _publish(a, 2)
    assert c.sync_one(A).ok
    ours = c.store.log.latest_checkpoint(A)
    signer, _ = _keys(a)
    _, b_cosigner = _keys(b)
    other = Checkpoint(A, ours.size, ours.root, ("extension: shown to B only",))
    twin = SignedCheckpoint.sign(other, signer).text()
    relayed = with_cosignatures(twin, [b_cosigner.cosign(other.body(), 1_800_000_000)])
    report = c.importer.absorb_cosigned(A, [relayed], B)
    assert (report.stored, report.ignored) == (0, 1)
    assert c.query("SELECT witness FROM cosignatures WHERE origin = ?", A) == [(C,)]
    assert _witnessing(c, signals[0]) == Witnessing(None, (C,), 2)


def test_cosignatures_count_by_the_witness_key_in_force(mesh: dict[str, Member]) -> None:
    a, b, c = mesh[A], mesh[B], mesh[C]
    signals = _publish(a, 1)
    assert b.sync_one(A).ok and c.sync_one(B).ok
    assert _witnessing(c, signals[0]).witnessed
    # B's card now carries another witness key: what B signed with the old one stops counting,
    # exactly as for an auditor who checks with the key B hands out now.
    card = json.loads(b.card())
    card["witness_key"] = str(CosignerKey.generate(B).verifier())
    c.members.add(json.dumps(card))
    assert _witnessing(c, signals[0]) == Witnessing(None, (C,), 2)


def test_a_lost_witness_key_is_not_silently_replaced(tmp_path: Path) -> None:
    member = Member.create(tmp_path, A)
    (member.home / "keys" / "witness.key").unlink()
    with pytest.raises(IdentityError, match=r"witness key .* is missing"):
        Node.open(member.home)
