"""Domain errors <-> gRPC status codes: one table each way."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any, NoReturn, TypeVar

import grpc

from cloudai.domain.errors import (
    CloudAIError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    StorageFull,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

_TO_CODE: list[tuple[type[CloudAIError], grpc.StatusCode]] = [
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (Conflict, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (Unauthorized, grpc.StatusCode.UNAUTHENTICATED),
    (Forbidden, grpc.StatusCode.PERMISSION_DENIED),
    (TooManyRequests, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StorageFull, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
]

_FROM_CODE: dict[grpc.StatusCode, type[CloudAIError]] = {code: err for err, code in _TO_CODE}
# The only RESOURCE_EXHAUSTED a peer sends us is the master's full disk (uploads).
_FROM_CODE[grpc.StatusCode.RESOURCE_EXHAUSTED] = StorageFull
_FROM_CODE[grpc.StatusCode.ALREADY_EXISTS] = Conflict
# Only these mean "the peer cannot be reached now" (retry); any other code, INTERNAL
# and UNKNOWN included, is a failure of the call itself (bounded retries at most).
for _code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
    _FROM_CODE[_code] = Unavailable

T = TypeVar("T")


def code_for(error: CloudAIError) -> grpc.StatusCode:
    for kind, code in _TO_CODE:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL


async def abort_with(context: grpc.aio.ServicerContext[Any, Any], error: CloudAIError) -> NoReturn:
    await context.abort(code_for(error), str(error))
    raise AssertionError("unreachable: abort raises")


def from_rpc_error(error: grpc.aio.AioRpcError) -> CloudAIError:
    kind = _FROM_CODE.get(error.code(), CloudAIError)
    return kind(error.details() or error.code().name)


async def call(awaitable: Awaitable[T]) -> T:
    """Await a client call, translating its gRPC error into the domain hierarchy."""
    try:
        return await awaitable
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from exc


async def stream(responses: AsyncIterator[T]) -> AsyncIterator[T]:
    try:
        async for item in responses:
            yield item
    except grpc.aio.AioRpcError as exc:
        raise from_rpc_error(exc) from exc
