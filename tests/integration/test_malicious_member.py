"""Issue 5, "Must show": a scripted malicious member against real nodes.

M (:class:`~tests.support.malicious.MaliciousMember`) has a real identity and speaks the
real protocol over real mutual TLS, but scripts its log per caller. B and C are real nodes
(fednet members, real SQLite, real gRPC) that trust M, peer with it, and peer with each other.
The auditor scripts run as subprocesses, as an auditor would run them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.cli.main import app
from node.core import Node
from node.errors import SignatureError
from node.log.checkpoint import SignedCheckpoint
from node.log.cosignature import Cosignature, WitnessKey
from node.log.entry import Add, decode_entry
from node.log.keys import SignerKey, VerifierKey
from node.log.note import Note
from node.results import to_json
from node.sync.engine import OriginSyncReport, PeerSyncReport
from tests.support.fednet import ROOT, Member, peer
from tests.support.malicious import History, MaliciousMember, make_entries, with_lines
from tests.unit.scripts.fixtures import run_script

B, C, M, AUDITOR = "node-b.example", "node-c.example", "mallory.example", "audit.example"
VERIFY_EVIDENCE = ROOT / "scripts" / "verify_evidence.py"
VERIFY_LOG = ROOT / "scripts" / "verify_log.py"
WRONG_KEY_REASON = "checkpoint does not verify with the origin's key"


@dataclass
class Fed:
    b: Member
    c: Member
    m: MaliciousMember
    auditor: Path
    folder: Path

    @property
    def key(self) -> str:
        """M's verifier key, as its card gives it (what an auditor obtains independently)."""
        return self.m.verifier_key


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[Fed]:
    b, c = Member.create(tmp_path, B), Member.create(tmp_path, C)
    m = MaliciousMember.create(tmp_path, M)
    Node.init(tmp_path / AUDITOR, AUDITOR, auditor=True).close()
    for member in (b, c):
        member.members.add_peer(m.card_json())  # trusts M and connects to it
        m.pin_home(member.origin, member.home)
    m.pin_home(AUDITOR, tmp_path / AUDITOR)
    peer(b, c)
    peer(c, b)
    b.start()
    c.start()
    m.start()
    try:
        yield Fed(b, c, m, tmp_path / AUDITOR, tmp_path)
    finally:
        m.stop()
        b.stop()
        c.stop()


# -- looking at a node -------------------------------------------------------------------------


def _origin_report(report: PeerSyncReport, origin: str = M) -> OriginSyncReport:
    (found,) = [o for o in report.origins if o.origin == origin]
    return found


def _state(member: Member) -> tuple[object, ...]:
    """Everything a node holds about M, to show that a refusal changed nothing."""
    return (
        member.query("SELECT idx, body FROM entries WHERE origin = ? ORDER BY idx", M),
        member.query("SELECT size, root, note FROM checkpoints WHERE origin = ? ORDER BY size", M),
        member.query(
            "SELECT size, witness, line FROM cosignatures WHERE origin = ? ORDER BY size, witness",
            M,
        ),
        member.query("SELECT size, root FROM witness_state WHERE origin = ?", M),
        member.count("verified_heads", M),
    )


def _run(script: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_script(script.name, *args, timeout=60)


# -- wrong key ---------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [0, 3], ids=["nothing-held", "after-verified-prefix"])
@pytest.mark.parametrize("liar", ["same-name-other-key", "other-name"])
def test_checkpoint_signed_by_wrong_key_is_refused_and_nothing_stored(
    fed: Fed, prefix: int, liar: str
) -> None:
    b, m = fed.b, fed.m
    history = m.history(6, "h")
    if prefix:
        m.show(B, history, prefix)
        assert b.sync_one(M).received == prefix
    before = _state(b)
    m.calls.clear()
    wrong = SignerKey.generate(M if liar == "same-name-other-key" else "evil.example")
    assert str(wrong.verifier()) != fed.key
    m.show(B, history, 6, signer=wrong)

    report = b.sync_one(M)

    origin = _origin_report(report)
    assert origin.status == "rejected", origin
    assert origin.reason is not None and origin.reason.startswith(WRONG_KEY_REASON)
    assert not report.ok
    # Refused on the checkpoint alone: no entry was even asked for, nothing stored or staged,
    # no checkpoint, no cosignature, witness state unchanged.
    assert "StreamEntries" not in [c.method for c in m.calls_by(B)]
    assert _state(b) == before
    assert b.count("entries", M) == prefix
    assert b.count("checkpoints", M) == (1 if prefix else 0)
    assert b.count("verified_heads", M) == 0
    assert b.audit.evidence() == []  # a checkpoint M did not sign is no evidence against M
    # The peer's statistics count the rejection, with its reason.
    (stats,) = [p for p in to_json(b.status())["peers"] if p["name"] == M]
    assert stats["rejected"] == 1
    assert stats["rejected_reasons"] == {WRONG_KEY_REASON: 1}
    assert stats["last_error"] is not None and WRONG_KEY_REASON in stats["last_error"]


# -- split view --------------------------------------------------------------------------------


def _cosignature_roots(member: Member, *candidates: History, size: int) -> dict[str, str]:
    """For each cosignature ``member`` holds on M at ``size`` (by any witness whose key it
    knows): the tag of the candidate history whose checkpoint body it verifies over."""
    keys = {
        name: WitnessKey.parse(key)
        for name, key in member.query("SELECT name, witness_key FROM origins")
        if key is not None
    }
    out = {}
    for witness, line in member.query(
        "SELECT witness, line FROM cosignatures WHERE origin = ? AND size = ?", M, size
    ):
        cosig = Cosignature.from_note_signature(Note.parse("x\n\n" + line).signatures[0])
        out[witness] = "none"
        for history in candidates:
            try:
                keys[witness].verify(history.checkpoint(size).body(), cosig)
            except SignatureError:
                continue
            out[witness] = _tag(history)
    return out


def _tag(history: History) -> str:
    """The tag ``make_entries`` put in the history's first entry's labels."""
    statement = decode_entry(history.bodies[0]).statement
    assert isinstance(statement, Add)
    return statement.labels.tags[0]


def _export_evidence(member: Member, evidence_id: int, folder: Path, *, cli: bool = False) -> Path:
    """The evidence file, from ``Audit.evidence_file`` or (``cli``) ``hashfed evidence export``,
    which must write exactly what the facade gives."""
    text = member.audit.evidence_file(evidence_id)
    path = folder / f"evidence-{member.origin}-{evidence_id}.json"
    if not cli:
        path.write_text(text, encoding="utf-8")
        return path
    args = ["evidence", "export", str(evidence_id), "-o", str(path), "--home", str(member.home)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == text
    return path


def _check_evidence_file(fed: Fed, path: Path, kind: str, relayed_by: str) -> None:
    """The file is hashfed-evidence/v1, names M and ``kind``, and verify_evidence.py proves it
    with M's key alone (exit 0), and refuses it with another key of the same name (exit 1)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "hashfed-evidence/v1"
    assert (doc["origin"], doc["kind"], doc["relayed_by"]) == (M, kind, relayed_by)
    key = VerifierKey.parse(fed.key)
    first, second = (
        SignedCheckpoint.open(doc[n], key).checkpoint
        for n in ("first_checkpoint", "second_checkpoint")
    )
    assert first != second

    ok = _run(VERIFY_EVIDENCE, path, "--key", fed.key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    impostor = str(SignerKey.generate(M).verifier())
    wrong = _run(VERIFY_EVIDENCE, path, "--key", impostor)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    # Two copies of one checkpoint prove nothing: the script must not take the file's word.
    same = path.with_name(path.stem + "-same.json")
    same.write_text(json.dumps({**doc, "second_checkpoint": doc["first_checkpoint"]}))
    nothing = _run(VERIFY_EVIDENCE, same, "--key", fed.key)
    assert nothing.returncode == 1, nothing.stdout + nothing.stderr


def test_split_view_is_detected_and_witnesses_refuse_the_second_history(fed: Fed) -> None:
    b, c, m = fed.b, fed.c, fed.m
    h1, h2 = m.history(4, "h1"), m.history(4, "h2")
    assert h1.root() != h2.root()
    m.show(B, h1)
    m.show(C, h2)

    # Each imports its own view, and cosigns it as a witness.
    assert b.sync_one(M).received == 4
    assert c.sync_one(M).received == 4
    for member, history in ((b, h1), (c, h2)):
        bodies = member.query("SELECT body FROM entries WHERE origin = ? ORDER BY idx", M)
        assert [x for (x,) in bodies] == list(history.bodies)
        assert member.query(
            "SELECT witness, size FROM cosignatures WHERE origin = ? AND witness = ?",
            M,
            member.origin,
        ) == [(member.origin, 4)]
        assert member.query("SELECT size, root FROM witness_state WHERE origin = ?", M) == [
            (4, history.root())
        ]
        assert _cosignature_roots(member, h1, h2, size=4)[member.origin] == _tag(history)
    b_witness = b.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M)
    c_witness = c.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M)

    # B syncs from C, which relays M's other history: the split view is detected.
    report = b.sync_one(C)
    origin = _origin_report(report)
    assert origin.status == "evidence", origin
    assert report.ok  # C did nothing wrong by relaying what M signed
    (item,) = b.audit.evidence()
    assert (item.origin, item.kind, item.peer) == (M, "same-size-different-roots", C)
    assert item.id == origin.evidence_id
    assert M in b.importer.halted_origins()

    # B refuses to cosign the second history: its witness state is untouched, and every
    # cosignature it holds on M (its own, and any gathered from C) is over H1's root.
    assert b.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M) == (
        b_witness
    )
    assert set(_cosignature_roots(b, h1, h2, size=4).values()) == {"h1"}
    assert [x for (x,) in b.query("SELECT DISTINCT size FROM cosignatures WHERE origin=?", M)] == [
        4
    ]
    # ... and stays so: M shows B the second history directly; import stays stopped.
    m.show(B, h2)
    assert [o.status for o in b.sync_one(M).origins] == ["halted"]
    assert set(_cosignature_roots(b, h1, h2, size=4).values()) == {"h1"}
    assert b.count("entries", M) == 4 and b.count("verified_heads", M) == 0

    # C likewise, when it syncs from B.
    report = c.sync_one(B)
    assert _origin_report(report).status == "evidence"
    (c_item,) = c.audit.evidence()
    assert (c_item.origin, c_item.kind, c_item.peer) == (M, "same-size-different-roots", B)
    assert c.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M) == (
        c_witness
    )
    assert set(_cosignature_roots(c, h1, h2, size=4).values()) == {"h2"}

    # The evidence, exported, proves the split view offline with M's key alone.
    _check_evidence_file(fed, _export_evidence(b, item.id, fed.folder), item.kind, C)
    _check_evidence_file(fed, _export_evidence(c, c_item.id, fed.folder, cli=True), c_item.kind, B)


def test_larger_inconsistent_history_after_a_cosigned_one_is_evidence(fed: Fed) -> None:
    b, m = fed.b, fed.m
    h1, h2 = m.history(4, "h1"), m.history(4, "h2")
    m.show(B, h1)
    assert b.sync_one(M).received == 4
    cosigned = _state(b)
    assert b.query("SELECT size, root FROM witness_state WHERE origin = ?", M) == [(4, h1.root())]

    longer = h2.extended(make_entries(M, 2, tag="h2", start=4))
    m.show(B, longer)
    report = b.sync_one(M)

    origin = _origin_report(report)
    assert origin.status == "evidence", origin
    (item,) = b.audit.evidence()
    assert (item.origin, item.kind, item.peer) == (M, "inconsistent-larger", M)
    assert M in b.importer.halted_origins()
    # Refused: nothing of the longer history stored, staged or cosigned.
    assert _state(b) == cosigned
    assert b.count("entries", M) == 4
    assert _cosignature_roots(b, h1, longer, size=4) == {B: "h1"}
    assert b.query("SELECT COUNT(*) FROM cosignatures WHERE origin = ? AND size = 6", M) == [(0,)]
    _check_evidence_file(fed, _export_evidence(b, item.id, fed.folder), item.kind, M)


# -- rollback ----------------------------------------------------------------------------------


def _grow(fed: Fed, who: str, history: History, *sizes: int) -> None:
    """M publishes ``history`` at ``sizes`` in turn, ``who`` syncing each."""
    member = {B: fed.b, C: fed.c}[who]
    for i, size in enumerate(sizes):
        fed.m.show(who, history, size, published=sizes[: i + 1])
        report = member.sync_one(M)
        assert report.ok, report.problems()


@pytest.mark.parametrize("rollback", ["older-checkpoint", "rewritten-history"])
def test_rollback_is_refused_by_the_node(fed: Fed, rollback: str) -> None:
    b, m = fed.b, fed.m
    history = m.history(6, "h")
    _grow(fed, B, history, 3, 6)
    assert b.count("entries", M) == 6
    assert b.query("SELECT size FROM checkpoints WHERE origin = ? ORDER BY size", M) == [
        (3,),
        (6,),
    ]
    assert b.query("SELECT size, root FROM witness_state WHERE origin = ?", M) == [
        (6, history.root())
    ]
    before = _state(b)

    if rollback == "older-checkpoint":
        m.show(B, history, 3, published=(3,))
    else:
        rewritten = history.rewritten(2, make_entries(M, 2, tag="rewrite", start=2))
        assert rewritten.size == 4 and rewritten.root(2) == history.root(2)
        m.show(B, rewritten, 4, published=(3, 4))
    report = b.sync_one(M)

    origin = _origin_report(report)
    # B keeps size 6 and stores nothing new: no entry, checkpoint, cosignature, staged row.
    assert _state(b) == before
    assert b.store.log.latest_checkpoint(M).size == 6
    if rollback == "older-checkpoint":
        # An honest old checkpoint of the same history: M is merely behind, not lying.
        assert origin.status == "peer-behind", origin
        assert b.audit.evidence() == []
        # Nor does a second look change anything.
        assert b.sync_one(M).ok
        assert _state(b) == before
    else:
        assert origin.status == "evidence", origin
        (item,) = b.audit.evidence()
        assert (item.origin, item.kind) == (M, "inconsistent-smaller")
        detail = json.loads(item.detail)
        assert (detail["smaller_size"], detail["larger_size"]) == (4, 6)
        assert detail["smaller_root"] == rewritten.root().hex()
        assert detail["prefix_root"] == history.root(4).hex()
        _check_evidence_file(fed, _export_evidence(b, item.id, fed.folder), item.kind, M)


# -- the auditor's view: scripts/verify_log.py against M ---------------------------------------


def _verify_log(fed: Fed, state: Path) -> subprocess.CompletedProcess[str]:
    """verify_log.py live against M, as the auditor (M pins the auditor's certificate)."""
    card = fed.folder / "mallory-card.json"
    card.write_text(fed.m.card_json(), encoding="utf-8")
    return _run(
        VERIFY_LOG,
        "--node",
        fed.m.address,
        "--auditor-home",
        fed.auditor,
        "--node-card",
        card,
        "--origin",
        M,
        "--key",
        fed.key,
        "--state",
        state,
    )


@pytest.mark.parametrize(
    ("rollback", "word"),
    [
        ("older-checkpoint", "rollback"),
        ("rewritten-history", "rollback"),
        ("rewritten-same-size", "rewrit"),
        ("rewritten-larger", "rewrit"),
    ],
)
def test_rollback_is_reported_by_verify_log(fed: Fed, rollback: str, word: str) -> None:
    m = fed.m
    history = m.history(6, "h")
    state = fed.folder / "audit-state.json"

    # First audit at size 6: OK, and the state file records it.
    m.show(AUDITOR, history, 6, published=(3, 6))
    first = _verify_log(fed, state)
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = state.read_bytes()
    mine = json.loads(recorded)["origins"][M]
    assert (mine["size"], mine["root"]) == (6, history.root().hex())
    assert m.calls_by(AUDITOR), "the audit never reached M"

    # M rolls back.
    if rollback == "older-checkpoint":
        m.show(AUDITOR, history, 3, published=(3,))
    elif rollback == "rewritten-history":
        rewritten = history.rewritten(2, make_entries(M, 2, tag="rewrite", start=2))
        m.show(AUDITOR, rewritten, 4, published=(3, 4))
    else:  # not smaller, but not the history verified before either
        grown = 6 if rollback == "rewritten-same-size" else 8
        rewritten = history.rewritten(2, make_entries(M, grown - 2, tag="rewrite", start=2))
        m.show(AUDITOR, rewritten, grown, published=(3, grown))
    second = _verify_log(fed, state)

    assert second.returncode == 1, second.stdout + second.stderr
    assert word in second.stderr.lower(), second.stdout + second.stderr
    assert state.read_bytes() == recorded  # the state keeps the larger tree it verified


# -- truncated or padded proofs ----------------------------------------------------------------


@pytest.mark.parametrize("earlier_state", [False, True], ids=["fresh", "with-state"])
@pytest.mark.parametrize("how", ["truncate", "pad", "corrupt"])
@pytest.mark.parametrize("rpc", ["consistency", "inclusion"])
def test_truncated_or_padded_proof_fails_the_audit_and_keeps_no_state(
    fed: Fed, rpc: str, how: str, earlier_state: bool
) -> None:
    m = fed.m
    history = m.history(7, "h")
    state = fed.folder / "audit-state.json"
    if earlier_state:
        m.show(AUDITOR, history, 3, published=(3,))
        honest = _verify_log(fed, state)
        assert honest.returncode == 0, honest.stdout + honest.stderr
        recorded: bytes | None = state.read_bytes()
    else:
        # The control: the same log with honest proofs passes (with a state of its own).
        m.show(AUDITOR, history, 7, published=(3, 5, 7))
        honest = _verify_log(fed, fed.folder / "control-state.json")
        assert honest.returncode == 0, honest.stdout + honest.stderr
        recorded = None

    m.show(AUDITOR, history, 7, published=(3, 5, 7), **{rpc: how})
    m.tampered.clear()
    lied = _verify_log(fed, state)

    assert m.tampered, f"verify_log.py never asked M for a {rpc} proof; nothing was tested"
    assert lied.returncode == 1, lied.stdout + lied.stderr
    assert "proof" in (lied.stdout + lied.stderr).lower(), lied.stdout + lied.stderr
    if recorded is None:
        assert not state.exists()
    else:
        assert state.read_bytes() == recorded


def test_wrong_key_fails_the_audit_and_keeps_no_state(fed: Fed) -> None:
    m = fed.m
    history = m.history(5, "h")
    state = fed.folder / "audit-state.json"
    m.show(AUDITOR, history, 3, published=(3,))
    assert _verify_log(fed, state).returncode == 0
    recorded = state.read_bytes()

    m.show(AUDITOR, history, 5, published=(3, 5), signer=SignerKey.generate(M))
    lied = _verify_log(fed, state)

    assert lied.returncode == 1, lied.stdout + lied.stderr
    assert "FAIL" in lied.stderr
    assert state.read_bytes() == recorded


def test_the_malicious_member_admits_exactly_the_pinned_certificates(fed: Fed) -> None:
    """The harness is a faithful peer server: a member whose certificate M was not given is
    refused (in the handshake), while the pinned ones are served."""
    d = Member.create(fed.folder, "node-d.example")
    d.members.add_peer(fed.m.card_json())
    fed.m.show(None, fed.m.history(2, "h"))
    d.start()
    try:
        refused = d.sync_one(M)
        assert refused.error is not None and "refused our certificate" in refused.error
        assert d.count("entries", M) == 0
        assert fed.m.calls == []  # refused before any call reached the servicer
        assert fed.b.sync_one(M).received == 2  # a pinned member is served the same view
    finally:
        d.stop()


# -- cosignatures relayed by the liar ----------------------------------------------------------


def _line(member: Member, witness: str) -> str:
    ((line,),) = member.query(
        "SELECT line FROM cosignatures WHERE origin = ? AND witness = ?", M, witness
    )
    assert isinstance(line, str)
    return line


def _cosignature(line: str) -> Cosignature:
    return Cosignature.from_note_signature(Note.parse("x\n\n" + line).signatures[0])


def test_cosignatures_relayed_by_the_malicious_member_count_only_if_genuine(fed: Fed) -> None:
    b, c, m = fed.b, fed.c, fed.m
    h1 = m.history(4, "h1")
    m.show(None, h1)  # an honest view, to B and C alike
    assert b.sync_one(M).received == 4
    assert c.sync_one(M).received == 4
    genuine = _line(c, C)
    real = _cosignature(genuine)
    # A cosignature line naming C's witness key, with a later timestamp, that C never made.
    forged = Cosignature(C, real.key_id, real.timestamp + 100, bytes(64)).line()
    note = m.note(h1)

    m.show(B, h1, listed=(with_lines(note, forged),))
    assert b.sync_one(M).ok
    assert b.query("SELECT witness FROM cosignatures WHERE origin = ?", M) == [(B,)]

    # C's genuine cosignature counts, whoever relays it (it is checked, not its messenger).
    m.show(B, h1, listed=(with_lines(note, genuine),))
    assert b.sync_one(M).ok
    assert _line(b, C) == genuine

    # A forgery with a later timestamp does not replace it.
    m.show(B, h1, listed=(with_lines(note, forged),))
    assert b.sync_one(M).ok
    assert _line(b, C) == genuine
    assert _cosignature_roots(b, h1, size=4) == {B: "h1", C: "h1"}


def test_conflicting_checkpoint_signed_by_another_key_in_gossip_is_no_evidence(fed: Fed) -> None:
    """A "conflicting" checkpoint M did not sign (another key of its name) proves nothing
    against M: ignored, nothing stored, M not halted."""
    b, m = fed.b, fed.m
    h1, h2 = m.history(4, "h1"), m.history(4, "h2")
    m.show(B, h1)
    assert b.sync_one(M).received == 4
    before = _state(b)

    m.show(B, h1, listed=(h2.sign(SignerKey.generate(M)),))
    assert b.sync_one(M).ok

    assert b.audit.evidence() == []
    assert M not in b.importer.halted_origins()
    assert _state(b) == before


@pytest.mark.parametrize(
    ("size", "kind"), [(4, "same-size-different-roots"), (2, "inconsistent-smaller")]
)
def test_split_view_leaked_through_cosigned_checkpoints_is_evidence(
    fed: Fed, size: int, kind: str
) -> None:
    """M relays C's cosigned checkpoint of H2 (at B's size, or smaller) to B, which holds H1:
    without ever syncing C, B detects the split view from the cosigned checkpoint and stores
    none of it."""
    b, c, m = fed.b, fed.c, fed.m
    h1, h2 = m.history(4, "h1"), m.history(4, "h2")
    m.show(B, h1)
    m.show(C, h2, size, published=(size,))
    assert b.sync_one(M).received == 4
    assert c.sync_one(M).received == size
    before = _state(b)
    witness = b.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M)

    m.show(B, h1, listed=(with_lines(m.note(h2, size), _line(c, C)),))
    b.sync_one(M)

    (item,) = b.audit.evidence()
    assert (item.origin, item.kind, item.peer) == (M, kind, M)
    assert M in b.importer.halted_origins()
    assert _state(b) == before  # no checkpoint, cosignature or entry of H2 kept
    assert _cosignature_roots(b, h1, h2, size=4) == {B: "h1"}
    assert b.query("SELECT size, root, cosigned_ms FROM witness_state WHERE origin = ?", M) == (
        witness
    )
    _check_evidence_file(fed, _export_evidence(b, item.id, fed.folder), item.kind, M)


def test_after_member_reset_the_witness_still_refuses_the_other_history(fed: Fed) -> None:
    """The operator resumes M after the split view (``member reset``, logged): B accepts only
    a history consistent with the one it verified and cosigned, never the other."""
    b, c, m = fed.b, fed.c, fed.m
    h1, h2 = m.history(4, "h1"), m.history(4, "h2")
    m.show(B, h1)
    m.show(C, h2)
    assert b.sync_one(M).received == 4
    assert c.sync_one(M).received == 4
    assert _origin_report(b.sync_one(C)).status == "evidence"

    b.members.reset(M, "talked to mallory")
    assert M not in b.importer.halted_origins()
    assert [a for (a,) in b.query("SELECT action FROM operator_log")] == ["member reset"]

    m.show(B, h2)  # the other history again: evidence again, nothing cosigned
    assert _origin_report(b.sync_one(M)).status == "evidence"
    assert len(b.audit.evidence()) == 2
    assert _cosignature_roots(b, h1, h2, size=4) == {B: "h1"}
    assert b.query("SELECT size, root FROM witness_state WHERE origin = ?", M) == [(4, h1.root())]

    b.members.reset(M, "once more")
    longer = h1.extended(make_entries(M, 2, tag="h1", start=4))
    m.show(B, longer)  # a consistent extension of what B verified: imported and cosigned
    assert b.sync_one(M).received == 2
    assert b.query("SELECT size, root FROM witness_state WHERE origin = ?", M) == [
        (6, longer.root())
    ]
    assert _cosignature_roots(b, longer, size=6) == {B: "h1"}


VERIFY_BUNDLE = ROOT / "scripts" / "verify_bundle.py"


def test_forged_cosignature_lines_on_a_relayed_checkpoint_are_not_kept(fed: Fed) -> None:
    """M serves its (validly signed) checkpoint with a forged line claiming C's witness key.
    B must keep only what it verified: the origin's signature, and cosignatures that verify.
    Otherwise B's own bundles (and served notes, exports) carry the forgery, and an auditor
    checking them with C's witness key fails B, an honest node."""
    b, c, m = fed.b, fed.c, fed.m
    h1 = m.history(4, "h1")
    c_witness = json.loads(c.card())["witness_key"]
    real_id = WitnessKey.parse(c_witness).key_id
    forged = Cosignature(C, real_id, 1_700_000_000, bytes(64)).line()
    m.show(B, h1, extra_lines=(forged,))

    assert b.sync_one(M).received == 4

    bundle = fed.folder / "bundle.json"
    bundle.write_text(b.reader.bundle(M, 0).to_json(), encoding="utf-8")
    checked = _run(VERIFY_BUNDLE, bundle, "--key", fed.key, "--witness", c_witness)
    assert forged not in b.store.log.latest_checkpoint(M).note
    assert checked.returncode == 0, checked.stdout + checked.stderr
