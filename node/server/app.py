"""Start and stop a node's two gRPC servers, its freshness task and its sync loop.

One process, one asyncio event loop, one node thread (:class:`NodeRunner`):

- the **peer server** (FederationService + health) on ``config.peer_address`` over mutual TLS:
  client certificate required, trusted roots = the certificates pinned in the accepted member
  cards, reloaded without restart (:mod:`node.server.peer_tls`), and every call checked against
  the exact pinned fingerprints (:func:`node.server.access.peer_check`);
- the **local server** (LocalService + health + reflection) in plaintext on
  ``config.local_address``; bound beyond loopback, every call but health needs
  ``authorization: Bearer <config.local_token>`` (:func:`node.server.access.token_check`);
- the **freshness task**: every 0.25 s, on the node thread, the match index catches up with the
  store (publishes and retractions by other processes, synced entries) and the pinned
  certificates are re-read, so lookups and peer admission follow changes within a second;
- the **sync loop** (``node.sync.run_sync_loop(runner, stop)``) when ``run_sync`` is set.

Health is exempt from the local token because orchestrators' probes (Kubernetes gRPC probes,
``grpc_health_probe``) often cannot send metadata, and it reveals nothing but SERVING. On the
peer server health goes through the same mTLS and fingerprint check as everything else.

Message size limits are in :mod:`node.wire.limits`; status codes in :mod:`node.server.status`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from node._proto.hashfed.v1 import federation_pb2_grpc, local_pb2_grpc
from node.core import Node
from node.errors import HashfedError, IdentityError, InvalidInputError
from node.server import federation, local
from node.server.access import peer_check, token_check
from node.server.guard import GuardInterceptor
from node.server.index_snapshots import SnapshotKeeper
from node.server.peer_tls import PinnedRoots
from node.service.integrity_check import startup_check
from node.service.runner import NodeRunner
from node.sync import run_sync_loop
from node.tls import CERT_WARN_DAYS, RENEW_HINT, load_tls_identity
from node.wire.address import is_loopback, join_host_port, split_host_port
from node.wire.limits import LOCAL_SERVER_OPTIONS, PEER_SERVER_OPTIONS

log = logging.getLogger("hashfed.server")

FRESHNESS_INTERVAL_S = 0.25
DEFAULT_GRACE_S = 5.0
HEALTH_SERVICE = "grpc.health.v1.Health"
HEALTH_METHODS = frozenset({f"/{HEALTH_SERVICE}/Check", f"/{HEALTH_SERVICE}/Watch"})
# gRPC sets SO_REUSEPORT by default, so a second node on the same port would silently share
# (and split) the traffic of the first. An address in use must be an error instead.
NO_REUSEPORT = (("grpc.so_reuseport", 0),)


# -- the running node --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Snapshot:
    """What start-up needs from the node, read on the node thread in one call."""

    origin: str
    peer_address: str
    local_address: str
    local_token: str
    tls_key: bytes
    tls_cert: bytes
    pinned: list[bytes]


def _snapshot(node: Node) -> _Snapshot:
    if node.is_auditor:
        raise IdentityError(
            f"{node.origin} is an auditor identity: auditors read from nodes (scripts/"
            "verify_log.py --node) and serve nothing, so `serve` is refused"
        )
    # Checked before binding: gRPC reports a key that is not the certificate's only as a
    # failure to bind, which would read as "address in use".
    tls = load_tls_identity(node.paths.tls_key, node.paths.tls_cert)
    if (days := tls.days_left()) < CERT_WARN_DAYS:
        log.warning(
            "the TLS certificate %s expires in %.0f days (%s UTC); peers will refuse it from "
            "then on. To renew it, %s",
            node.paths.tls_cert,
            days,
            f"{tls.not_after:%Y-%m-%d %H:%M}",
            RENEW_HINT,
        )
    tls_key, tls_cert = tls.key_pem, tls.cert_pem
    for fingerprint, holders in _shared_certificates(node).items():
        # Cards accepted before `member add` refused this: callers with this certificate are
        # all taken for one of them, so the operator must remove all but the rightful one.
        log.warning(
            "TLS certificate %s is pinned by %d cards (%s): its callers cannot be told apart; "
            "remove every card but the one that really holds it (`hashfed member remove`)",
            fingerprint,
            len(holders),
            ", ".join(holders),
        )
    return _Snapshot(
        origin=node.origin,
        peer_address=node.config.peer_address,
        local_address=node.config.local_address,
        local_token=node.config.local_token,
        tls_key=tls_key,
        tls_cert=tls_cert,
        pinned=node.members.pinned_certificates(),
    )


def _shared_certificates(node: Node) -> dict[str, list[str]]:
    """Fingerprints pinned by more than one trusted member or auditor card, with their holders."""
    holders: dict[str, list[str]] = {}
    for m in node.members.known():
        if m.trusted:
            holders.setdefault(m.tls_fingerprint, []).append(f"member {m.origin}")
    for a in node.members.auditors():
        holders.setdefault(a.tls_fingerprint, []).append(f"auditor {a.name}")
    return {f: names for f, names in holders.items() if len(names) > 1}


def _startup_check(node: Node) -> None:
    startup_check(
        node.store,
        node.paths.root,
        node.origin,
        node.config.startup_check_entries,
        node.config.startup_check_seconds,
    )


def _freshen(node: Node) -> list[bytes]:
    node.index.refresh()
    return node.members.pinned_certificates()


@dataclass
class RunningNode:
    """A node serving: its bound ports and its runner. Stop it with :meth:`stop`."""

    origin: str
    peer_port: int
    local_port: int
    peer_address: str  # bound address, e.g. "127.0.0.1:40123"
    local_address: str
    runner: NodeRunner
    _peer_server: Any = field(repr=False)
    _local_server: Any = field(repr=False)
    _health: list[Any] = field(repr=False)
    _tasks: list[asyncio.Task[None]] = field(repr=False)
    _sync_stop: asyncio.Event = field(repr=False)
    _sync_task: asyncio.Task[None] | None = field(repr=False)
    _snapshots: SnapshotKeeper = field(repr=False)
    _stopping: asyncio.Task[None] | None = field(default=None, repr=False)

    async def stop(self, grace: float = DEFAULT_GRACE_S) -> None:
        """Stop accepting, let calls in flight finish (up to ``grace`` s), stop sync, close.

        Idempotent: a second call waits for the first to finish.
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop(grace))
        await asyncio.shield(self._stopping)

    async def _stop(self, grace: float) -> None:
        log.info(
            "stopping %s (peer %s, local %s; grace %.1f s)",
            self.origin,
            self.peer_address,
            self.local_address,
            grace,
        )
        self._sync_stop.set()  # the sync loop finishes the message in hand meanwhile
        for servicer in self._health:
            await servicer.enter_graceful_shutdown()
        await asyncio.gather(self._peer_server.stop(grace), self._local_server.stop(grace))
        if self._sync_task is not None:
            try:
                await asyncio.wait_for(self._sync_task, timeout=grace)
            except TimeoutError:
                log.warning("sync loop did not stop within %.1f s; cancelled", grace)
            except Exception:
                log.exception("sync loop failed while stopping")
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._snapshots.final()  # the next start loads it instead of rebuilding
        await self.runner.close()
        log.info("stopped %s", self.origin)


async def start_node(
    home: Path,
    *,
    peer_address: str | None = None,
    local_address: str | None = None,
    run_sync: bool = True,
) -> RunningNode:
    """Open the node in ``home`` and serve it; addresses default to its config.

    ``host:0`` binds a free port; the bound ports are in the result. Raises a
    :class:`~node.errors.HashfedError` (nothing left running) when the node cannot be opened
    or an address cannot be bound.
    """
    runner = await NodeRunner.open(home)
    try:
        return await _serve(runner, peer_address, local_address, run_sync)
    except BaseException:
        await runner.close()
        raise


async def _serve(
    runner: NodeRunner, peer_address: str | None, local_address: str | None, run_sync: bool
) -> RunningNode:
    snap = await runner.call(_snapshot, runner.node)
    # Bounded (config startup_check_entries / _seconds); damage is logged and recorded for
    # `status`, and the node still serves: damaged entries are refused one by one.
    await runner.call(_startup_check, runner.node)
    peer_bind = peer_address or snap.peer_address
    local_bind = local_address or snap.local_address
    peer_host, _ = split_host_port(peer_bind)
    local_host, _ = split_host_port(local_bind)
    needs_token = not is_loopback(local_host)
    if needs_token and not snap.local_token:
        raise InvalidInputError(
            f"the local API would listen on {local_bind}, beyond loopback, but the node's "
            "config.toml has no local_token; set one (e.g. from `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`) or bind the local API to 127.0.0.1"
        )

    roots = PinnedRoots(snap.tls_key, snap.tls_cert, snap.pinned)
    peer_health = health.aio.HealthServicer()
    peer_server = grpc.aio.server(
        interceptors=[GuardInterceptor(peer_check(runner))],
        options=(*PEER_SERVER_OPTIONS, *NO_REUSEPORT),
    )
    federation_pb2_grpc.add_FederationServiceServicer_to_server(
        federation.FederationServicer(runner), peer_server
    )
    health_pb2_grpc.add_HealthServicer_to_server(peer_health, peer_server)
    peer_port = _bind(peer_server, peer_bind, "peer", roots.credentials())

    local_health = health.aio.HealthServicer()
    check = token_check(snap.local_token) if needs_token else None
    local_server = grpc.aio.server(
        interceptors=[GuardInterceptor(check, exempt=HEALTH_METHODS)],
        options=(*LOCAL_SERVER_OPTIONS, *NO_REUSEPORT),
    )
    local_pb2_grpc.add_LocalServiceServicer_to_server(local.LocalServicer(runner), local_server)
    health_pb2_grpc.add_HealthServicer_to_server(local_health, local_server)
    reflection.enable_server_reflection(
        (local.SERVICE_NAME, HEALTH_SERVICE, reflection.SERVICE_NAME), local_server
    )
    try:
        local_port = _bind(local_server, local_bind, "local", None)
        await peer_server.start()
        await local_server.start()
    except BaseException:
        await asyncio.gather(peer_server.stop(None), local_server.stop(None))
        raise
    serving = health_pb2.HealthCheckResponse.SERVING
    for servicer in (peer_health, local_health):
        for name in ("", federation.SERVICE_NAME, local.SERVICE_NAME):
            await servicer.set(name, serving)

    snapshots = SnapshotKeeper(runner)
    tasks = [_task(_freshness_loop(runner, roots, snapshots), "hashfed-freshness")]
    sync_stop = asyncio.Event()
    sync_task = _start_sync(runner, sync_stop) if run_sync else None
    running = RunningNode(
        origin=snap.origin,
        peer_port=peer_port,
        local_port=local_port,
        peer_address=join_host_port(peer_host, peer_port),
        local_address=join_host_port(local_host, local_port),
        runner=runner,
        _peer_server=peer_server,
        _local_server=local_server,
        _health=[peer_health, local_health],
        _tasks=tasks,
        _sync_stop=sync_stop,
        _sync_task=sync_task,
        _snapshots=snapshots,
    )
    log.info(
        "serving %s: peer API (mTLS, %d pinned certificates) on %s; local API on %s (%s); sync %s",
        snap.origin,
        len(snap.pinned),
        running.peer_address,
        running.local_address,
        "bearer token required" if needs_token else "loopback, no token",
        "on" if sync_task is not None else "off",
    )
    return running


def _bind(server: Any, address: str, which: str, credentials: Any) -> int:
    try:
        if credentials is None:
            port: int = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:
        port = 0
        cause: Exception | None = exc
    else:
        cause = None
    if port == 0:
        raise HashfedError(
            f"cannot listen on {address} for the {which} API: the address is in use or is not "
            "one of this machine's"
        ) from cause
    return port


def _task(coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
    return asyncio.get_running_loop().create_task(coro, name=name)


async def _freshness_loop(
    runner: NodeRunner, roots: PinnedRoots, snapshots: SnapshotKeeper
) -> None:
    """Catch the index up with the store and re-read pinned certificates, every 0.25 s; start
    an index snapshot write (on a worker thread) when one is due."""
    warm = False
    while True:
        await asyncio.sleep(FRESHNESS_INTERVAL_S)
        try:
            pinned = await runner.call(_freshen, runner.node)
            if not warm:
                # The search kernel loads lazily (CLI start-up stays fast); a server loads it
                # once its index is ready, so the first client does not wait for it.
                await runner.call(lambda node: node.index.warm_up(), runner.node)
                warm = True
            await snapshots.tick()
        except HashfedError as exc:  # e.g. the database is locked for a while: try again
            log.warning("freshness check failed: %s", exc)
            continue
        except Exception:  # a bug; keep serving, and keep trying
            log.exception("freshness check failed")
            continue
        if roots.update(pinned):
            log.info("pinned certificates changed: %d now trusted for new peers", len(pinned))


def _start_sync(runner: NodeRunner, stop: asyncio.Event) -> asyncio.Task[None]:
    """Run :func:`node.sync.run_sync_loop` beside the servers; its failure never stops them."""

    async def supervised() -> None:
        try:
            await run_sync_loop(runner, stop)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the sync loop failed; serving continues without sync")

    return _task(supervised(), "hashfed-sync")
