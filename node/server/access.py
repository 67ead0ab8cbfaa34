"""Who may call: the bearer token of the local API and the pinned fingerprints of the peer API.

Both checks run in :class:`~node.server.guard.GuardInterceptor` before any servicer code, and
refuse with a :class:`~node.server.status.RefusedError` that says what the caller must change.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import text_format
from google.protobuf.message import Message

from node.server.guard import Check
from node.server.status import RefusedError
from node.service.runner import NodeRunner
from node.tls import certificate_fingerprint

peer_log = logging.getLogger("hashfed.server.peer")


def check_bearer(metadata: Sequence[tuple[str, str | bytes]] | None, token: str) -> None:
    """Admit the call only with ``authorization: Bearer <token>``, compared in constant time."""
    presented: str | bytes | None = None
    for key, value in metadata or ():
        if key.lower() == "authorization":
            presented = value
            break
    if presented is None:
        raise RefusedError(
            grpc.StatusCode.UNAUTHENTICATED,
            "a bearer token is required because the local API is bound beyond loopback: send "
            "metadata 'authorization: Bearer <local_token from the node's config.toml>'",
        )
    text = presented.decode("utf-8", "replace") if isinstance(presented, bytes) else presented
    scheme, _, credential = text.strip().partition(" ")
    ok = hmac.compare_digest(credential.strip().encode(), token.encode())
    if scheme.lower() != "bearer" or not ok:
        raise RefusedError(
            grpc.StatusCode.UNAUTHENTICATED,
            "the bearer token is wrong: the local API is bound beyond loopback and accepts only "
            "'authorization: Bearer <local_token from the node's config.toml>'",
        )


def token_check(token: str) -> Check:
    async def check(
        details: grpc.HandlerCallDetails,
        context: grpc.aio.ServicerContext[Any, Any],
        request: object,
    ) -> None:
        check_bearer(details.invocation_metadata, token)

    return check


def peer_check(runner: NodeRunner) -> Check:
    """Admit a caller only if its leaf certificate's fingerprint is pinned in a member card
    (a member) or an auditor card (an auditor: every call it makes is logged as a read; the
    federation service has no call that changes anything)."""
    caller_for_fingerprint = runner.node.members.caller_for_fingerprint
    record_audit_read = runner.node.audit.record_read

    async def check(
        details: grpc.HandlerCallDetails,
        context: grpc.aio.ServicerContext[Any, Any],
        request: object,
    ) -> None:
        certs = list(context.auth_context().get("x509_pem_cert") or ())
        if not certs:
            raise RefusedError(
                grpc.StatusCode.UNAUTHENTICATED, "no client certificate was presented"
            )
        fingerprint = certificate_fingerprint(certs[0])
        caller = await runner.call(caller_for_fingerprint, fingerprint)
        if caller is None:
            peer_log.warning(
                "refused %s from %s: certificate %s is not pinned in any member card",
                details.method,
                context.peer(),
                fingerprint,
            )
            raise RefusedError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"client certificate {fingerprint} is not pinned in any member card this node "
                "accepted (a certificate merely signed by a member's key is not enough)",
            )
        name, role = caller
        if role == "auditor":
            method = details.method.rsplit("/", 1)[-1]
            what = _request_text(request)
            request_text = f"{what} from {context.peer()}" if what else f"from {context.peer()}"
            await runner.call(record_audit_read, name, method, request_text)
            peer_log.info("auditor %s read %s(%s) from %s", name, method, what, context.peer())
        else:
            peer_log.debug("%s from %s (%s)", details.method, name, context.peer())

    return check


def _request_text(request: object, limit: int = 200) -> str:
    """A request's fields on one line (``origin: "a.example" min_size: 3``), for the audit log."""
    if not isinstance(request, Message):
        return ""
    text = text_format.MessageToString(request, as_one_line=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."
