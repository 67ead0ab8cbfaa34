"""A live node's federation service, read as an auditor over mutual TLS, as a log source."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from auditlib.errors import VerificationError, fail, show
from auditlib.merkle import leaf_hash, verify_consistency, verify_inclusion
from auditlib.notes import open_checkpoint

from verify_log_steps.report import OriginReport, Policy
from verify_log_steps.source import Listed, LogSource

MIB = 1024 * 1024
CALL_TIMEOUT_S = 15.0
STREAM_TIMEOUT_S = 3600.0  # a whole log; a node that stalls longer is given up on


def _stubs() -> tuple[Any, Any]:
    """hashfed's generated protocol stubs (node._proto only, never the node's logic)."""
    try:
        from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
    except ImportError:
        sys.path.append(str(Path(__file__).resolve().parents[2]))
        from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
    return federation_pb2, federation_pb2_grpc


class NodeClient:
    """A FederationService client authenticated as an auditor (mutual TLS, pinned root)."""

    def __init__(self, address: str, auditor_home: Path, card: dict[str, Any]) -> None:
        import grpc

        self._grpc = grpc
        self.pb, pb_grpc = _stubs()
        keys = auditor_home / "keys"
        credentials = grpc.ssl_channel_credentials(
            root_certificates=card["tls_certificate"].encode(),
            private_key=(keys / "tls.key").read_bytes(),
            certificate_chain=(keys / "tls.crt").read_bytes(),
        )
        self.name = card["origin"]
        self.channel = grpc.secure_channel(
            address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", self.name),
                ("grpc.max_receive_message_length", 8 * MIB),
            ],
        )
        self.stub = pb_grpc.FederationServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: str, thunk: Callable[[], Any]) -> Any:
        try:
            return thunk()
        except self._grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "?"
            details = exc.details() if hasattr(exc, "details") else str(exc)
            fail(f"node {self.name}: {method} failed ({code}): {show(details, 300)}")

    def origins(self) -> dict[str, str]:
        response = self._call(
            "ListOrigins",
            lambda: self.stub.ListOrigins(self.pb.ListOriginsRequest(), timeout=CALL_TIMEOUT_S),
        )
        return {item.origin: item.checkpoint for item in response.origins}

    def checkpoints(self, origin: str) -> list[str]:
        def fetch() -> list[str]:
            request = self.pb.ListCheckpointsRequest(origin=origin, min_size=0)
            return [
                note
                for batch in self.stub.ListCheckpoints(request, timeout=STREAM_TIMEOUT_S)
                for note in batch.checkpoints
            ]

        result: list[str] = self._call("ListCheckpoints", fetch)
        return result

    def entries(self, origin: str, size: int) -> Iterator[bytes]:
        if size == 0:
            return
        request = self.pb.StreamEntriesRequest(origin=origin, start_index=0, end_index=size)
        stream = self._call(
            "StreamEntries", lambda: self.stub.StreamEntries(request, timeout=STREAM_TIMEOUT_S)
        )
        at = 0
        batches = iter(stream)
        while True:
            batch = self._call("StreamEntries", lambda: next(batches, None))
            if batch is None:
                break
            if batch.start_index != at:
                fail(
                    f"node {self.name}: StreamEntries batch for {origin} starts at "
                    f"{batch.start_index}; expected {at} (batches must follow one another)"
                )
            for entry in batch.entries:
                if at >= size:
                    fail(f"node {self.name}: StreamEntries sent {origin} entries beyond {size}")
                yield bytes(entry)
                at += 1

    def consistency(self, origin: str, old: int, new: int) -> list[bytes]:
        request = self.pb.GetConsistencyProofRequest(origin=origin, old_size=old, new_size=new)
        response = self._call(
            "GetConsistencyProof",
            lambda: self.stub.GetConsistencyProof(request, timeout=CALL_TIMEOUT_S),
        )
        return [bytes(h) for h in response.hashes]

    def inclusion(self, origin: str, index: int, size: int) -> tuple[bytes, list[bytes], str]:
        request = self.pb.GetInclusionProofRequest(origin=origin, entry_index=index, tree_size=size)
        response = self._call(
            "GetInclusionProof",
            lambda: self.stub.GetInclusionProof(request, timeout=CALL_TIMEOUT_S),
        )
        return bytes(response.entry), [bytes(h) for h in response.hashes], response.checkpoint


def _sampled(size: int) -> list[int]:
    """The entries whose inclusion proofs are checked: first, middle, last."""
    return sorted({0, size // 2, size - 1}) if size else []


def check_proofs(
    client: NodeClient,
    report: OriginReport,
    roots: dict[int, bytes],
    kept: dict[int, bytes],
    policy: Policy,
) -> None:
    """Ask the node's proof service for proofs and check them against the verified roots."""
    origin, newest = report.origin, report.newest
    if newest is None or newest.size == 0:
        report.notes.append("proofs: none to ask for (empty log)")
        return
    n = newest.size
    recorded = policy.state.get(origin)
    earlier = [cp.size for cp in report.checkpoints if 0 < cp.size < n]
    old = recorded.size if recorded is not None and recorded.size > 0 else None
    if old is None and earlier:
        old = earlier[-1]
    if old is None:
        report.notes.append("proofs: no earlier size to prove consistency from")
    else:
        proof = client.consistency(origin, old, n)
        try:
            verify_consistency(old, n, proof, roots[old], newest.root)
        except VerificationError as exc:
            fail(f"{origin}: the node's consistency proof from {old} to {n} is refused: {exc}")
        report.notes.append(f"proofs: consistency proof {old} -> {n} from the node verified")
    key = policy.keys[origin]
    for index in _sampled(n):
        entry, hashes, note = client.inclusion(origin, index, n)
        what = f"{origin}: the node's inclusion proof of entry {index} in size {n}"
        if entry != kept[index]:
            fail(f"{what} carries other entry bytes than the log the node streamed")
        try:
            verify_inclusion(leaf_hash(entry), index, n, hashes, newest.root)
            signed = open_checkpoint(note, key, "inclusion proof checkpoint")
        except VerificationError as exc:
            fail(f"{what} is refused: {exc}")
        if signed.size != n or signed.root != newest.root:
            fail(
                f"{what} comes with a checkpoint of size {signed.size} root "
                f"{signed.root.hex()}; expected size {n} root {newest.root.hex()}"
            )
    report.notes.append(
        f"proofs: inclusion of entries {', '.join(map(str, _sampled(n)))} from the node verified"
    )


def _size_line(note: str) -> int | None:
    """The (unverified) size line of a checkpoint note, to decide how far to stream."""
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() and len(lines[1]) < 20 else None


class NodeSource(LogSource):
    """A node's FederationService: the origins it serves, their checkpoints and entries, and its
    proof service (step 5 checks its consistency and inclusion proofs)."""

    def __init__(self, client: NodeClient) -> None:
        self.client = client
        self.absent = f"served by node {client.name}"
        self.served: dict[str, str] = {}

    def origins(self) -> list[str]:
        self.served = self.client.origins()
        return sorted(self.served)

    def not_held(self, origin: str) -> str:
        return f"origin {origin!r} is not served by node {self.client.name}"

    def checkpoints(self, origin: str) -> list[Listed]:
        listed = self.client.checkpoints(origin)
        notes: list[Listed] = [(None, text) for text in listed]
        notes.append((None, self.served[origin]))
        notes.sort(key=lambda item: _size_line(item[1]) or 0)
        return notes

    def _size(self, notes: Sequence[Listed]) -> int:
        return max((_size_line(text) or 0 for _, text in notes), default=0)

    def entries(self, origin: str, notes: Sequence[Listed]) -> Iterator[bytes]:
        return self.client.entries(origin, self._size(notes))

    def wanted(self, notes: Sequence[Listed]) -> frozenset[int]:
        return frozenset(_sampled(self._size(notes)))

    def confirm(
        self,
        report: OriginReport,
        roots: dict[int, bytes],
        kept: dict[int, bytes],
        policy: Policy,
    ) -> None:
        check_proofs(self.client, report, roots, kept, policy)

    def close(self) -> None:
        self.client.close()
