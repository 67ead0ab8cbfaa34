"""One interceptor per server: an access check before every call, and error mapping around it.

gRPC's aio interceptors see only the method name and metadata, not the call's context (peer
certificate, ability to abort). So :class:`GuardInterceptor` wraps the handler that serves the
call: the wrapper runs the server's access check with the real context, then the servicer, and
turns any exception into a status through :func:`node.server.status.abort_for`. Servicers
therefore never catch hashfed errors themselves.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import grpc

from node.server.status import abort_for

Check = Callable[
    [grpc.HandlerCallDetails, grpc.aio.ServicerContext[Any, Any], Any], Awaitable[None]
]
"""An access check: returns to admit the call, raises ``RefusedError`` to refuse it. Its third
argument is the request (a message; for a streaming request, the iterator of messages)."""


class GuardInterceptor(grpc.aio.ServerInterceptor):
    """Runs ``check`` before every call not in ``exempt`` (full method names), maps errors."""

    def __init__(self, check: Check | None = None, exempt: Collection[str] = ()) -> None:
        self._check = check
        self._exempt = frozenset(exempt)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None:  # unknown method: gRPC answers UNIMPLEMENTED
            return None
        method: str = handler_call_details.method
        check = None if method in self._exempt else self._check
        return guard_handler(handler, handler_call_details, check)


def guard_handler(
    handler: Any, details: grpc.HandlerCallDetails, check: Check | None
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same handler with every behaviour wrapped by :func:`_guarded`."""
    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        behavior = _guarded(handler.unary_unary, details, check)
        return grpc.unary_unary_rpc_method_handler(behavior, **kwargs)
    if handler.unary_stream is not None:
        behavior = _guarded(handler.unary_stream, details, check)
        return grpc.unary_stream_rpc_method_handler(behavior, **kwargs)
    if handler.stream_unary is not None:
        behavior = _guarded(handler.stream_unary, details, check)
        return grpc.stream_unary_rpc_method_handler(behavior, **kwargs)
    behavior = _guarded(handler.stream_stream, details, check)
    return grpc.stream_stream_rpc_method_handler(behavior, **kwargs)


def _guarded(
    behavior: Callable[..., Any], details: grpc.HandlerCallDetails, check: Check | None
) -> Callable[..., Any]:
    """``behavior`` preceded by ``check``, its exceptions mapped to statuses.

    Handles the two shapes aio servicers have: async generator functions (streaming responses
    by ``yield``) and coroutine functions (a unary response, or streaming by ``context.write``
    as the health service's ``Watch`` does). Synchronous handlers would run on gRPC's thread
    pool, outside the guard's reach, so they are refused outright.
    """
    method: str = details.method
    if inspect.isasyncgenfunction(behavior):

        async def streaming(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                if check is not None:
                    await check(details, context, request)
                async for response in behavior(request, context):
                    yield response
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_for(context, exc, method)

        return streaming

    if inspect.iscoroutinefunction(behavior):

        async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                if check is not None:
                    await check(details, context, request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort_for(context, exc, method)

        return unary

    raise TypeError(f"{method}: handler {behavior!r} is not async; hashfed servers are aio only")
