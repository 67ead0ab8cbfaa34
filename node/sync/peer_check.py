"""``hashfed peer test``: can we talk to this peer, and what does it hold?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from node.core import Node
from node.errors import HashfedError
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.keys import VerifierKey
from node.log.note import Note
from node.service.runner import NodeRunner
from node.sync.client import PROTOCOL_VERSION, PeerClient, PeerError, PeerTarget, probe
from node.sync.diagnosis import Diagnosis

if TYPE_CHECKING:
    from node.results import JsonShape


@dataclass(frozen=True)
class HeldOrigin:
    origin: str
    size: int | None
    """Tree size of the peer's newest checkpoint (None if it does not parse)."""
    trusted: bool
    """Whether we trust this origin (and so would import it)."""
    verified: bool
    """Whether the checkpoint's signature verifies with the key in our member card."""


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

    JSON: ClassVar[JsonShape] = (
        ("peer", "peer"),
        ("address", "address"),
        ("ok", "ok"),
        ("reachable", "diagnosis.reachable"),
        ("we_accept_their_certificate", "diagnosis.we_accept_theirs"),
        ("they_accept_our_certificate", "diagnosis.they_accept_ours"),
        ("presented_fingerprint_sha256", "diagnosis.presented_fingerprint"),
        ("pinned_fingerprint_sha256", "diagnosis.pinned_fingerprint"),
        ("our_fingerprint_sha256", "diagnosis.our_fingerprint"),
        ("protocol_version", "protocol_version"),
        ("software_version", "software_version"),
        ("remote_origin", "remote_origin"),
        ("origins", "origins"),
        ("problems", "problems"),
    )


def _trusted_keys(node: Node) -> dict[str, VerifierKey]:
    return node.members.trusted_keys()


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
