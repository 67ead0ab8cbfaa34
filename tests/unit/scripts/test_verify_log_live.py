"""scripts/verify_log.py --node: a live audit over real mutual TLS against a scripted node.

The scripted node is a real gRPC FederationService (TLS with a P-256 certificate that names its
origin, client certificates required and pinned to the auditor's) serving a log built with the
node's implementation. It can lie in one way at a time, as a malicious node would: truncated or
padded consistency and inclusion proofs, another entry in an inclusion proof, a rolled-back log.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from node._proto.hashfed.v1 import federation_pb2 as pb
from node._proto.hashfed.v1 import federation_pb2_grpc as pb_grpc
from node.log.cosignature import CosignerKey
from node.tls import generate_tls_identity as tls_identity
from tests.unit.scripts.fixtures import ORIGIN, Log, add_entry, load_script, sample_log

vl = load_script("verify_log")

NODE = "b.example"
W1, W2 = (CosignerKey.generate(f"w{i}.example") for i in (1, 2))
WITNESSES = [str(w.verifier()) for w in (W1, W2)]


class ScriptedNode(pb_grpc.FederationServiceServicer):  # type: ignore[misc]
    """Serves ``log`` (one origin); ``lie`` names the one way it misbehaves, if any."""

    def __init__(self, log: Log | None, lie: str = "") -> None:
        self.log = log or Log()  # None: a node that serves no origin at all
        self.lie = lie
        self.serves = log is not None

    def ListOrigins(self, request: Any, context: Any) -> Any:  # noqa: N802
        if not self.serves:
            return pb.ListOriginsResponse(origins=[])
        newest = self.log.checkpoints[-1][1]
        return pb.ListOriginsResponse(
            origins=[pb.OriginCheckpoint(origin=self.log.origin, checkpoint=newest)]
        )

    def ListCheckpoints(self, request: Any, context: Any) -> Iterator[Any]:  # noqa: N802
        notes = [note for size, note in self.log.checkpoints if size >= request.min_size]
        yield pb.CheckpointBatch(checkpoints=notes)

    def StreamEntries(self, request: Any, context: Any) -> Iterator[Any]:  # noqa: N802
        for start in range(request.start_index, request.end_index, 4):
            end = min(start + 4, request.end_index)
            yield pb.EntryBatch(start_index=start, entries=self.log.entries[start:end])

    def GetConsistencyProof(self, request: Any, context: Any) -> Any:  # noqa: N802
        proof = self.log.consistency(request.old_size, request.new_size)
        if self.lie == "truncate-consistency":
            proof = proof[:-1]
        elif self.lie == "pad-consistency":
            proof = [*proof, b"\x00" * 32]
        return pb.ConsistencyProof(hashes=proof)

    def GetInclusionProof(self, request: Any, context: Any) -> Any:  # noqa: N802
        index, size = request.entry_index, request.tree_size or len(self.log.entries)
        proof = self.log.inclusion(index, size)
        entry = self.log.entries[index]
        if self.lie == "truncate-inclusion":
            proof = proof[:-1]
        elif self.lie == "pad-inclusion":
            proof = [*proof, b"\x00" * 32]
        elif self.lie == "other-entry":
            entry = add_entry(ORIGIN, 1234)
        note = next(n for s, n in self.log.checkpoints if s == size)
        if self.lie == "older-checkpoint":
            note = self.log.checkpoints[0][1]
        return pb.InclusionProof(entry=entry, hashes=proof, checkpoint=note)


@pytest.fixture(scope="module")
def identities() -> dict[str, tuple[bytes, bytes]]:
    return {"node": tls_identity(NODE), "auditor": tls_identity("audit.example")}


@pytest.fixture
def auditor_home(tmp_path: Path, identities: dict[str, tuple[bytes, bytes]]) -> Path:
    keys = tmp_path / "auditor" / "keys"
    keys.mkdir(parents=True)
    key, cert = identities["auditor"]
    (keys / "tls.key").write_bytes(key)
    (keys / "tls.crt").write_bytes(cert)
    return tmp_path / "auditor"


@pytest.fixture
def card(identities: dict[str, tuple[bytes, bytes]]) -> dict[str, str]:
    return {"origin": NODE, "tls_certificate": identities["node"][1].decode()}


class Served:
    def __init__(self, identities: dict[str, tuple[bytes, bytes]]) -> None:
        self.identities = identities
        self.server: Any = None
        self.address = ""

    def start(self, servicer: ScriptedNode) -> str:
        self.stop()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_FederationServiceServicer_to_server(servicer, self.server)
        credentials = grpc.ssl_server_credentials(
            [self.identities["node"]],
            root_certificates=self.identities["auditor"][1],
            require_client_auth=True,
        )
        self.server.add_secure_port(f"127.0.0.1:{port}", credentials)
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(None)
            self.server = None


@pytest.fixture
def served(identities: dict[str, tuple[bytes, bytes]]) -> Iterator[Served]:
    s = Served(identities)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def log() -> Log:
    return sample_log(witnesses=(W1, W2))


def live(
    address: str, auditor_home: Path, card: dict[str, str], log: Log, state: Path, *extra: str
) -> tuple[int, str, str]:
    card_file = auditor_home / "node-card.json"
    card_file.write_text(json.dumps(card))
    code, out, err = vl.run(
        [
            "--node", address, "--auditor-home", str(auditor_home), "--node-card",
            str(card_file), "--key", log.vkey, "--state", str(state), *extra,
        ]
    )  # fmt: skip
    return int(code), str(out), str(err)


def test_an_honest_node_passes_with_proofs_and_witnesses(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    address = served.start(ScriptedNode(log))

    code, out, err = live(
        address, auditor_home, card, log, state, "--witness", WITNESSES[0], "--witness",
        WITNESSES[1], "--min", "2",
    )  # fmt: skip

    assert code == 0, err
    assert out.startswith(f"OK: {ORIGIN}: 9 entries (7 ADD, 1 retractions, 1 opinions), 3 ")
    assert "2 witnesses (w1.example, w2.example), meets --min 2" in out
    assert "proofs: consistency proof 6 -> 9 from the node verified" in out
    assert "proofs: inclusion of entries 0, 4, 8 from the node verified" in out
    assert json.loads(state.read_text())["origins"][ORIGIN]["size"] == 9


@pytest.mark.parametrize(
    ("lie", "message"),
    [
        ("truncate-consistency", "consistency proof from 6 to 9 is refused"),
        ("pad-consistency", "consistency proof from 6 to 9 is refused"),
        ("truncate-inclusion", "inclusion proof of entry 0 in size 9 is refused"),
        ("pad-inclusion", "inclusion proof of entry 0 in size 9 is refused"),
        ("other-entry", "carries other entry bytes than the log the node streamed"),
        ("older-checkpoint", "comes with a checkpoint of size 3"),
    ],
)
def test_a_lying_proof_service_fails_and_the_state_is_not_written(
    served: Served,
    auditor_home: Path,
    card: dict[str, str],
    log: Log,
    tmp_path: Path,
    lie: str,
    message: str,
) -> None:
    state = tmp_path / "state.json"
    address = served.start(ScriptedNode(log, lie))

    code, _out, err = live(address, auditor_home, card, log, state)

    assert code == 1
    assert err.startswith(f"FAIL: {ORIGIN}: the node's ")
    assert message in err
    assert not state.exists()


def test_the_consistency_proof_starts_at_the_recorded_size(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    older = Log(ORIGIN, log.signer, log.entries[:3], log.checkpoints[:1])
    assert live(served.start(ScriptedNode(older)), auditor_home, card, log, state)[0] == 0

    code, out, err = live(served.start(ScriptedNode(log)), auditor_home, card, log, state)

    assert code == 0, err
    assert "proofs: consistency proof 3 -> 9 from the node verified" in out
    assert "state: newest size 9 >= recorded 3" in out


def test_a_node_serving_a_rolled_back_log_fails(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    assert live(served.start(ScriptedNode(log)), auditor_home, card, log, state)[0] == 0
    before = state.read_bytes()
    older = Log(ORIGIN, log.signer, log.entries[:6], log.checkpoints[:2])

    code, _, err = live(served.start(ScriptedNode(older)), auditor_home, card, log, state)

    assert code == 1
    assert err.startswith(f"FAIL: {ORIGIN} ROLLBACK: the newest checkpoint has size 6")
    assert state.read_bytes() == before


def test_a_node_with_another_certificate_is_refused(
    served: Served,
    auditor_home: Path,
    log: Log,
    tmp_path: Path,
) -> None:
    address = served.start(ScriptedNode(log))
    stranger = {"origin": NODE, "tls_certificate": tls_identity(NODE)[1].decode()}

    code, _, err = live(address, auditor_home, stranger, log, tmp_path / "state.json")

    assert code == 1
    assert err.startswith(f"FAIL: node {NODE}: ListOrigins failed (UNAVAILABLE)")


def test_a_checkpoint_signed_by_the_wrong_key_is_refused(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    forger = Log(ORIGIN, entries=list(log.entries))
    forger.publish()  # the same entries, signed by another key named acme.example
    address = served.start(ScriptedNode(forger))

    code, out, err = live(address, auditor_home, card, log, state)

    assert code == 1
    assert out == ""
    assert err.startswith(f"FAIL: {ORIGIN} checkpoint 1 has no signature by the given key")
    assert not state.exists()


def test_an_honest_node_whose_newest_checkpoint_is_not_cosigned_yet_passes_min(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    lagging = Log(ORIGIN, log.signer, list(log.entries), list(log.checkpoints))
    lagging.publish(add_entry(ORIGIN, 30), witnesses=(W1,))  # W2 has not synced yet
    lagging.publish(add_entry(ORIGIN, 31))  # nor has W1
    address = served.start(ScriptedNode(lagging))
    witnesses = ["--witness", WITNESSES[0], "--witness", WITNESSES[1], "--min", "2"]

    code, out, err = live(address, auditor_home, card, log, state, *witnesses)
    before = state.read_bytes()
    strict = live(address, auditor_home, card, log, state, *witnesses, "--max-unwitnessed", "1")

    assert code == 0, err
    assert "checkpoint size 11 root" in out and "0 witnesses (none), below --min 2" in out
    assert (
        "witnessed up to size 9 (newest checkpoint meeting --min 2); unwitnessed tail: entries "
        "9..10 (2 entries) are not yet covered by a checkpoint with 2 witnesses" in out
    )
    assert "proofs: inclusion of entries 0, 5, 10 from the node verified" in out
    assert json.loads(before)["origins"][ORIGIN]["size"] == 11
    assert strict[0] == 1
    assert strict[2].startswith(f"FAIL: {ORIGIN} UNWITNESSED TAIL TOO LONG: witnessed up to size 9")
    assert state.read_bytes() == before


def test_a_node_that_no_longer_serves_a_recorded_origin_fails(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    assert live(served.start(ScriptedNode(log)), auditor_home, card, log, state)[0] == 0
    before = state.read_bytes()
    other = sample_log("globex.example")
    address = served.start(ScriptedNode(other))  # acme.example's log is gone

    code, out, err = live(address, auditor_home, card, log, state, "--key", other.vkey)
    chosen = live(address, auditor_home, card, log, state, "--origin", ORIGIN)

    assert code == 1
    assert out.startswith("OK: globex.example: 9 entries")
    assert err == (
        f"FAIL: {ORIGIN} ROLLBACK: {ORIGIN} was verified at size 9 before (root "
        f"{log.root().hex()}) but is no longer served by node {NODE}; a log never disappears\n"
    )
    assert chosen[0] == 1
    assert chosen[2] == err
    assert state.read_bytes() == before


def test_a_node_serving_no_origin_is_nothing_to_audit(
    served: Served, auditor_home: Path, card: dict[str, str], log: Log, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    address = served.start(ScriptedNode(None))

    code, out, err = live(address, auditor_home, card, log, state)

    assert code == 1
    assert out == ""
    assert err == f"FAIL: nothing to audit: no origin is served by node {NODE}\n"
    assert not state.exists()
