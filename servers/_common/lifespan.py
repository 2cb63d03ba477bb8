"""How a module owns its backend for the server's lifetime: build the `Backend`, yield the state, close it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from servers._common.backend import Backend

C = TypeVar("C")
S = TypeVar("S")


@dataclass(frozen=True)
class BackendId:
    """Who a backend is, for its messages: module key, title, and the variables that point to it."""

    module: str
    title: str
    env_hint: str


def backend_for(
    who: BackendId,
    target: str,
    connect: Callable[[], Awaitable[C]],
    probe: Callable[[C], Awaitable[Any]],
    close: Callable[[C], Awaitable[None]] | None = None,
    max_threads: int = 8,
) -> Backend[C]:
    """A lazily connected `Backend` for an async client."""
    return Backend(
        module=who.module,
        title=who.title,
        target=target,
        env_hint=who.env_hint,
        connect=connect,
        probe=probe,
        close=close,
        max_threads=max_threads,
    )


def blocking_backend(
    who: BackendId,
    target: str,
    connect: Callable[[], C],
    probe: Callable[[C], Any],
    close: Callable[[C], Any] | None = None,
    max_threads: int = 8,
) -> Backend[C]:
    """A `Backend` for a blocking SDK: connecting, probing and closing run in its bounded worker threads."""
    backend: Backend[C]

    async def connect_async() -> C:
        return await backend.run_sync(connect)

    async def probe_async(client: C) -> Any:
        return await backend.run_sync(probe, client)

    async def close_async(client: C) -> None:
        if close is not None:
            await backend.run_sync(close, client)

    backend = backend_for(who, target, connect_async, probe_async, close_async if close else None, max_threads)
    return backend


class serving(Generic[S]):
    """`async with serving(state, *backends) as state:` yields a module's state for the server's lifetime; its
    backends are closed afterwards, last first.

    A class, not an `@asynccontextmanager` generator: at interpreter or loop shutdown asyncio closes every live
    async generator in no particular order, and an inner generator closed before the `resources()` generator
    around it made that one fail with "generator didn't stop after athrow()".
    """

    def __init__(self, state: S, *backends: Backend[Any]) -> None:
        self._state = state
        self._backends = backends

    async def __aenter__(self) -> S:
        return self._state

    async def __aexit__(self, *exc: object) -> None:
        for backend in reversed(self._backends):
            await backend.aclose()
