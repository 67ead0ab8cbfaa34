"""``hashfed peer test``: can we talk to this peer, and what does it hold?"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.core import Node
from node.errors import HashfedError
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.keys import VerifierKey
from node.log.note import Note
from node.service.runner import NodeRunner
from node.sync.client import PROTOCOL_VERSION, PeerClient, PeerError, PeerTarget, probe
from node.sync.diagnosis import Diagnosis


@dataclass(frozen=True)
class HeldOrigin:
    origin: str
    size: int | None
    """Tree size of the peer's newest checkpoint (None if it does not parse)."""
    trusted: bool
    """Whether we trust this origin (and so would import it)."""
    verified: bool
    """Whether the checkpoint's signature verifies with the key in our member card."""

    def to_dict(self) -> dict[str, object]:
        return {
            "origin": self.origin,
            "size": self.size,
            "trusted": self.trusted,
            "verified": self.verified,
        }


@dataclass
class PeerCheckReport:
    peer: str
    address: str
    diagnosis: Diagnosis
    protocol_version: str | None = None
    software_version: str | None = None
    remote_origin: str | None = None
    origins: list[HeldOrigin] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        d = self.diagnosis
        return {
            "peer": self.peer,
            "address": self.address,
            "ok": self.ok,
            "reachable": d.reachable,
            "we_accept_their_certificate": d.we_accept_theirs,
            "they_accept_our_certificate": d.they_accept_ours,
            "presented_fingerprint_sha256": d.presented_fingerprint,
            "pinned_fingerprint_sha256": d.pinned_fingerprint,
            "our_fingerprint_sha256": d.our_fingerprint,
            "protocol_version": self.protocol_version,
            "software_version": self.software_version,
            "remote_origin": self.remote_origin,
            "origins": [o.to_dict() for o in self.origins],
            "problems": list(self.problems),
        }


def _trusted_keys(node: Node) -> dict[str, VerifierKey]:
    return node.trusted_keys()


def held_origin(origin: str, note: str, keys: dict[str, VerifierKey]) -> HeldOrigin:
    key = keys.get(origin)
    if key is not None:
        try:
            return HeldOrigin(origin, SignedCheckpoint.open(note, key).checkpoint.size, True, True)
        except HashfedError:
            pass
    try:
        size: int | None = Checkpoint.parse(Note.parse(note).text).size
    except HashfedError:
        size = None
    return HeldOrigin(origin, size, key is not None, False)


async def check_peer(runner: NodeRunner, peer: str) -> PeerCheckReport:
    """Reachability, both certificate decisions, protocol version, and what the peer holds."""
    target = await runner.call(PeerTarget.load, runner.node, peer)
    diagnosis = await probe(target)
    report = PeerCheckReport(peer, target.address, diagnosis, problems=list(diagnosis.problems))
    if not diagnosis.ok:
        if not report.problems:
            report.problems.append(diagnosis.message())
        return report
    keys = await runner.call(_trusted_keys, runner.node)
    async with PeerClient(target) as client:
        try:
            info = await client.node_info()
            offered = await client.list_origins()
        except PeerError as exc:
            report.problems.append(str(exc))
            return report
    report.protocol_version = info.protocol_version
    report.software_version = info.software_version
    report.remote_origin = info.origin
    if info.protocol_version != PROTOCOL_VERSION:
        report.problems.append(
            f"{peer} speaks protocol {info.protocol_version!r}; this node speaks "
            f"{PROTOCOL_VERSION!r}"
        )
    if info.origin != peer:
        report.problems.append(f"{peer} says it is {info.origin!r}; its member card names {peer!r}")
    report.origins = [held_origin(origin, note, keys) for origin, note in offered]
    return report
