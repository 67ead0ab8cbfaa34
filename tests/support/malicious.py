"""A scripted malicious member: a real FederationService, a real identity, a scripted log.

:class:`MaliciousMember` is what a dishonest member could run instead of ``hashfed serve``. Its
identity is real (``Node.init``: a signing key, a witness key, a TLS key and certificate, a
member card others can accept), and it speaks the real protocol (``grpc.aio`` on 127.0.0.1, on a
port chosen free before ``init`` because the card carries the address, as in fednet; mutual TLS
admitting exactly the client certificates it is given, the fingerprint re-checked on every call
as the real node does). Its log, though, is not a database: it holds several **histories** in
memory, each a list of entry bytes validly signed by its own key, and decides **per caller**
(by the SHA-256 fingerprint of the client's certificate) which history, at which size, and
with which key it serves, and whether its proofs are honest.

The lies it can tell (see :class:`View`):

* split view: history H1 to one client, H2 (same size, other entries) to another;
* rollback: an older checkpoint after a newer one (of the same history, or of a rewritten one);
* a checkpoint signed by a key other than the one in its card;
* a truncated, padded or corrupted proof from ``GetConsistencyProof`` / ``GetInclusionProof``,
  or in the batches of ``StreamEntries`` (which otherwise carry correct proofs to the size
  asked for);
* extra signature lines on every note it serves (forged cosignatures), and any notes at all
  from ``ListCheckpoints`` (relayed or forged cosigned checkpoints, another history's).

``ListCheckpoints`` otherwise returns the view's signed checkpoints (``View.published`` sizes
and the newest), ascending, without cosignatures. :attr:`MaliciousMember.calls` records who
asked what; :attr:`MaliciousMember.tampered` which proofs were altered.

It runs its gRPC server on its own event loop thread, so tests drive it synchronously.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar

import grpc

from node._proto.hashfed.v1 import federation_pb2, federation_pb2_grpc
from node.core import Node
from node.hashing import ComputedSignal, Signal
from node.log.checkpoint import Checkpoint, SignedCheckpoint
from node.log.entry import Add, Entry, Labels, encode_entry
from node.log.keys import SignerKey
from node.log.merkle import leaf_hash, root_of
from node.log.note import sign_note
from node.log.proofs import consistency_proof, inclusion_proof
from node.tls import certificate_fingerprint
from tests.support.fednet import free_port

T = TypeVar("T")

Tamper = Literal["truncate", "pad", "corrupt"] | None
"""What to do to a proof before sending it: drop its last hash, append an extra one, or flip
a bit of its last hash (right length, wrong content)."""

BATCH_ENTRIES = 1_000


def make_entries(origin: str, count: int, *, tag: str, start: int = 0) -> list[bytes]:
    """``count`` ADD entries of ``origin`` (one md5 each), distinct per ``tag`` and index.

    Encoded once with the real encoder, exactly as a publishing node would.
    """
    bodies = []
    for i in range(start, start + count):
        digest = hashlib.md5(f"{origin}/{tag}/{i}".encode()).digest()
        add = Add(
            (ComputedSignal(Signal("md5", digest), None),),
            Labels(entity=f"history {tag}", tags=(tag,)),
            f"{tag} entry {i}",
        )
        bodies.append(encode_entry(Entry(origin, 1_700_000_000_000 + i, add)))
    return bodies


@dataclass(frozen=True)
class History:
    """One version of the origin's log: entry bytes in order, signed at any size on demand."""

    origin: str
    bodies: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return len(self.bodies)

    def leaves(self, size: int | None = None) -> list[bytes]:
        return [leaf_hash(b) for b in self.bodies[: self.size if size is None else size]]

    def root(self, size: int | None = None) -> bytes:
        return root_of(self.leaves(size))

    def checkpoint(self, size: int | None = None) -> Checkpoint:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"history has {self.size} entries; no checkpoint of size {size}")
        return Checkpoint(self.origin, size, self.root(size))

    def sign(self, signer: SignerKey, size: int | None = None) -> str:
        """The signed note of this history at ``size``, signed by ``signer``.

        ``signer`` need not be named after the origin (a lie: the note is signed by hand, as
        :meth:`SignedCheckpoint.sign` would refuse).
        """
        checkpoint = self.checkpoint(size)
        if signer.name == self.origin:
            return SignedCheckpoint.sign(checkpoint, signer).text()
        return sign_note(checkpoint.body(), signer).format()

    def extended(self, bodies: list[bytes]) -> History:
        return History(self.origin, (*self.bodies, *bodies))

    def rewritten(self, keep: int, bodies: list[bytes]) -> History:
        """The first ``keep`` entries, then other ones: a history no append-only log can follow."""
        return History(self.origin, (*self.bodies[:keep], *bodies))


def with_lines(note: str, *lines: str) -> str:
    """``note`` with signature lines appended (each ``"— name base64\\n"``), as a cosigned
    checkpoint carries its witnesses' lines after the origin's own."""
    assert note.endswith("\n") and all(line.endswith("\n") for line in lines)
    return note + "".join(lines)


@dataclass(frozen=True)
class View:
    """What one caller is shown."""

    history: History
    size: int
    published: tuple[int, ...] = ()
    """Sizes of the checkpoints ``ListCheckpoints`` lists (besides ``size``, always listed)."""
    signer: SignerKey | None = None
    """Key that signs the checkpoints served; ``None``: the member's own (the card's) key."""
    consistency: Tamper = None
    inclusion: Tamper = None
    batch_proofs: Tamper = None
    """How the consistency proof each ``StreamEntries`` batch carries is altered."""
    claimed_size: int | None = None
    """Sign and serve a checkpoint of this size (any size, with a made-up root) instead of the
    history's, and stream made-up entries for any range below it, for as long as asked."""
    extra_lines: tuple[str, ...] = ()
    """Signature lines appended to every note served (e.g. forged cosignatures)."""
    listed: tuple[str, ...] | None = None
    """Exactly the (cosigned) notes ``ListCheckpoints`` returns, whatever is asked, instead of
    the view's own: to relay cosignatures, forged ones, or another history's checkpoints."""

    def sizes(self) -> list[int]:
        return sorted({s for s in (*self.published, self.size) if 0 < s <= self.size})


@dataclass
class Call:
    """One call received: who (the name its certificate was pinned under), what, arguments."""

    caller: str
    method: str
    request: str


@dataclass
class MaliciousMember(federation_pb2_grpc.FederationServiceServicer):  # type: ignore[misc]
    home: Path
    origin: str
    port: int
    signer: SignerKey
    card: dict[str, str]
    views: dict[str, View] = field(default_factory=dict)
    """Per caller fingerprint."""
    default: View | None = None
    """For a pinned caller without a view of its own."""
    names: dict[str, str] = field(default_factory=dict)
    """Fingerprint -> a name, for :attr:`calls`."""
    calls: list[Call] = field(default_factory=list)
    streamed: int = 0
    """Entries sent for a claimed size (:attr:`View.claimed_size`)."""
    tampered: list[str] = field(default_factory=list)
    """One line per proof served altered (method, sizes, how), so a test can tell that a
    client's failure came after a lie it was actually told."""
    _pinned: dict[str, bytes] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: grpc.aio.Server | None = None

    # -- identity ------------------------------------------------------------------------------

    @classmethod
    def create(cls, folder: Path, origin: str) -> MaliciousMember:
        """A real identity (``Node.init``) in ``folder/origin``, listening on a free port."""
        port = free_port()
        home = folder / origin
        with Node.init(home, origin, peer_address=f"127.0.0.1:{port}") as node:
            card = node.identity_card()
        signer = SignerKey.parse((home / "keys" / "signing.key").read_text().strip())
        return cls(home, origin, port, signer, card)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def verifier_key(self) -> str:
        return str(self.signer.verifier())

    def card_json(self) -> str:
        return json.dumps(self.card)

    @property
    def tls_key(self) -> bytes:
        return (self.home / "keys" / "tls.key").read_bytes()

    @property
    def tls_cert(self) -> bytes:
        return (self.home / "keys" / "tls.crt").read_bytes()

    # -- scripting -----------------------------------------------------------------------------

    def history(self, count: int, tag: str) -> History:
        return History(self.origin, tuple(make_entries(self.origin, count, tag=tag)))

    def note(self, history: History, size: int | None = None) -> str:
        """``history``'s checkpoint at ``size``, signed with this member's own (card) key."""
        return history.sign(self.signer, size)

    def pin(self, name: str, certificate: bytes) -> str:
        """Admit a client certificate (a member's or an auditor's); before :meth:`start`."""
        assert self._server is None, "pin clients before starting: TLS roots are fixed then"
        fingerprint = certificate_fingerprint(certificate)
        self._pinned[fingerprint] = certificate
        self.names[fingerprint] = name
        return fingerprint

    def pin_home(self, name: str, home: Path) -> str:
        return self.pin(name, (home / "keys" / "tls.crt").read_bytes())

    def fingerprint(self, name: str) -> str:
        (fp,) = [f for f, n in self.names.items() if n == name]
        return fp

    def show(self, who: str | None, history: History, size: int | None = None, **how: Any) -> View:
        """Serve ``history`` at ``size`` to the client named ``who`` (``None``: everyone
        without a view of their own). ``how``: the other :class:`View` fields."""
        view = View(history, history.size if size is None else size, **how)
        if who is None:
            self.default = view
        else:
            self.views[self.fingerprint(who)] = view
        return view

    def tamper(self, who: str | None, **how: Any) -> None:
        """Change how the current view of ``who`` is served (e.g. ``consistency="pad"``)."""
        if who is None:
            assert self.default is not None
            self.default = replace(self.default, **how)
        else:
            fp = self.fingerprint(who)
            self.views[fp] = replace(self.views[fp], **how)

    def calls_by(self, name: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.caller == name and method in (None, c.method)]

    # -- life cycle (own event loop thread) ----------------------------------------------------

    def start(self) -> MaliciousMember:
        assert self._pinned, "pin at least one client certificate"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._start())
        return self

    async def _start(self) -> None:
        self._server = grpc.aio.server()
        federation_pb2_grpc.add_FederationServiceServicer_to_server(self, self._server)
        credentials = grpc.ssl_server_credentials(
            [(self.tls_key, self.tls_cert)],
            root_certificates=b"".join(self._pinned.values()),
            require_client_auth=True,
        )
        bound = self._server.add_secure_port(self.address, credentials)
        assert bound == self.port, f"could not bind {self.address}"
        await self._server.start()

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._server is not None:
            self._run(self._server.stop(None))
            self._server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def __enter__(self) -> MaliciousMember:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- per call ------------------------------------------------------------------------------

    async def _view(self, context: grpc.aio.ServicerContext, method: str, request: object) -> View:
        """The caller's view; refuses callers whose leaf certificate is not pinned."""
        certs = context.auth_context().get("x509_pem_cert") or []
        fingerprint = certificate_fingerprint(certs[0]) if certs else ""
        if fingerprint not in self._pinned:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "client certificate not pinned")
        name = self.names[fingerprint]
        self.calls.append(Call(name, method, str(request).replace("\n", " ").strip()))
        view = self.views.get(fingerprint, self.default)
        if view is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"nothing scripted for {name}")
        assert view is not None
        return view

    async def _origin(self, context: grpc.aio.ServicerContext, origin: str) -> None:
        if origin != self.origin:
            await context.abort(
                grpc.StatusCode.NOT_FOUND, f"this node does not serve origin {origin!r}"
            )

    def _note(self, view: View, size: int) -> str:
        return with_lines(view.history.sign(view.signer or self.signer, size), *view.extra_lines)

    # -- FederationService ---------------------------------------------------------------------

    async def GetNodeInfo(  # noqa: N802
        self, request: federation_pb2.GetNodeInfoRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.NodeInfo:
        await self._view(context, "GetNodeInfo", request)
        return federation_pb2.NodeInfo(
            origin=self.origin,
            protocol_version="hashfed.v1",
            software_version="malicious",
            witness_key=self.card.get("witness_key", ""),
        )

    async def ListOrigins(  # noqa: N802
        self, request: federation_pb2.ListOriginsRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.ListOriginsResponse:
        view = await self._view(context, "ListOrigins", request)
        origins = []
        if view.claimed_size is not None:
            claim = Checkpoint(self.origin, view.claimed_size, hashlib.sha256(b"claim").digest())
            note = SignedCheckpoint.sign(claim, view.signer or self.signer).text()
            origins.append(federation_pb2.OriginCheckpoint(origin=self.origin, checkpoint=note))
        elif view.size > 0:
            note = self._note(view, view.size)
            origins.append(federation_pb2.OriginCheckpoint(origin=self.origin, checkpoint=note))
        return federation_pb2.ListOriginsResponse(origins=origins)

    async def StreamEntries(  # noqa: N802
        self, request: federation_pb2.StreamEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.EntryBatch]:
        view = await self._view(context, "StreamEntries", request)
        await self._origin(context, request.origin)
        start, end = int(request.start_index), int(request.end_index)
        if view.claimed_size is not None and 0 <= start <= end <= view.claimed_size:
            for first in range(start, end, BATCH_ENTRIES):
                count = min(end - first, BATCH_ENTRIES)
                self.streamed += count
                yield federation_pb2.EntryBatch(
                    start_index=first,
                    entries=make_entries(self.origin, count, tag="claim", start=first),
                )
            return
        if not 0 <= start <= end <= view.size:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"entries [{start}, {end}) requested; this node serves [0, {view.size})",
            )
        leaves = view.history.leaves(end)  # once per stream: each batch proves into tree(end)
        for first in range(start, end, BATCH_ENTRIES):
            last = min(end, first + BATCH_ENTRIES)
            proof = [] if last == end else consistency_proof(last, leaves)
            proof = self._tamper(proof, view.batch_proofs, f"StreamEntries batch {first}..{last}")
            yield federation_pb2.EntryBatch(
                start_index=first,
                entries=list(view.history.bodies[first:last]),
                consistency_proof=proof,
            )

    async def GetInclusionProof(  # noqa: N802
        self, request: federation_pb2.GetInclusionProofRequest, context: grpc.aio.ServicerContext
    ) -> federation_pb2.InclusionProof:
        view = await self._view(context, "GetInclusionProof", request)
        await self._origin(context, request.origin)
        index, size = int(request.entry_index), int(request.tree_size) or view.size
        if not 0 <= index < size <= view.size:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"entry {index} in a tree of size {size} requested; served size {view.size}",
            )
        proof = inclusion_proof(index, view.history.leaves(size))
        proof = self._tamper(proof, view.inclusion, f"GetInclusionProof {index} in {size}")
        return federation_pb2.InclusionProof(
            entry=view.history.bodies[index], hashes=proof, checkpoint=self._note(view, size)
        )

    async def GetConsistencyProof(  # noqa: N802
        self,
        request: federation_pb2.GetConsistencyProofRequest,
        context: grpc.aio.ServicerContext,
    ) -> federation_pb2.ConsistencyProof:
        view = await self._view(context, "GetConsistencyProof", request)
        await self._origin(context, request.origin)
        old, new = int(request.old_size), int(request.new_size)
        if not 0 < old <= new <= view.size:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"consistency {old} -> {new} requested; need 0 < old <= new <= {view.size}",
            )
        proof = consistency_proof(old, view.history.leaves(new))
        proof = self._tamper(proof, view.consistency, f"GetConsistencyProof {old} -> {new}")
        return federation_pb2.ConsistencyProof(hashes=proof)

    async def ListCheckpoints(  # noqa: N802
        self, request: federation_pb2.ListCheckpointsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[federation_pb2.CheckpointBatch]:
        view = await self._view(context, "ListCheckpoints", request)
        await self._origin(context, request.origin)
        if view.listed is not None:
            yield federation_pb2.CheckpointBatch(checkpoints=list(view.listed))
            return
        if request.cosigned_only:
            return  # nobody cosigns for a liar in this script
        sizes = [s for s in view.sizes() if s >= int(request.min_size)]
        for i in range(0, len(sizes), 100):
            notes = [self._note(view, s) for s in sizes[i : i + 100]]
            yield federation_pb2.CheckpointBatch(checkpoints=notes)

    def _tamper(self, proof: list[bytes], how: Tamper, what: str) -> list[bytes]:
        if how == "truncate" and proof:  # an empty proof (old == new) has nothing to drop
            self.tampered.append(f"{what}: truncated {len(proof)} -> {len(proof) - 1}")
            return proof[:-1]
        if how == "pad":
            self.tampered.append(f"{what}: padded {len(proof)} -> {len(proof) + 1}")
            return [*proof, hashlib.sha256(b"padding").digest()]
        if how == "corrupt" and proof:
            self.tampered.append(f"{what}: last of {len(proof)} hashes corrupted")
            return [*proof[:-1], bytes([proof[-1][0] ^ 0x01]) + proof[-1][1:]]
        return proof
