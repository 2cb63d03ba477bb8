"""A backend handle that never stops the server: it connects lazily, reports health, and recovers.

`resources()` of every module yields a `Backend`. When the backend is missing or down at start-up,
the server still starts; each tool call retries the connection and, while it fails, answers with a
`ToolError` naming the address tried and the variable to set. Once the backend is back, the next call
succeeds: no restart is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Literal, ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from servers._common.output import redact_text

C = TypeVar("C")
S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("backend_architect_mcp.backend")


class NotConfigured(Exception):
    """The backend has no connection settings; the message says which variable to set."""


class BackendUnavailable(ToolError):
    """The backend could not be reached; the message names the target and what to do."""


@dataclass(frozen=True)
class Health:
    module: str
    status: Literal["up", "down", "unconfigured"]
    target: str
    detail: str
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "up"


class Backend(Generic[C]):
    """A lazily connected client plus how to probe and close it."""

    def __init__(
        self,
        *,
        module: str,
        title: str,
        target: str,
        env_hint: str,
        connect: Callable[[], Awaitable[C]],
        probe: Callable[[C], Awaitable[Any]],
        close: Callable[[C], Awaitable[None]] | None = None,
        max_threads: int = 8,
    ) -> None:
        self.module = module
        self.title = title
        self.target = target
        self.env_hint = env_hint
        self._connect = connect
        self._probe = probe
        self._close = close
        self._client: C | None = None
        self._lock = anyio.Lock()
        self.limiter = anyio.CapacityLimiter(max_threads)
        """Bounds the worker threads this module's blocking SDK calls may occupy."""

    def unavailable(self, exc: BaseException) -> BackendUnavailable:
        """The tool error for a failure to reach the backend: the target, the variable to check, the cause."""
        if isinstance(exc, NotConfigured):
            return BackendUnavailable(f"{self.title} is not configured: {exc}")
        reason = redact_text(f"{type(exc).__name__}: {exc}".strip())
        return BackendUnavailable(
            f"{self.title} is unreachable at {self.target} ({reason}). Check that it is running and that "
            f"{self.env_hint} points to it; the module reconnects by itself on the next call."
        )

    @property
    def connected(self) -> C | None:
        """The client when it is connected; never connects (for gauges read at scrape time)."""
        return self._client

    async def get(self) -> C:
        """The connected client; connects (or reconnects) on demand."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await self._connect()
                except ToolError:
                    raise
                except Exception as exc:  # any driver failure becomes an actionable tool error
                    log.warning("%s connect failed: %s", self.module, redact_text(str(exc)))
                    raise self.unavailable(exc) from exc
        return self._client

    async def check(self, timeout: float = 2.0) -> Health:
        """Probe the backend (used by /readyz and `doctor`); never raises."""
        start = time.perf_counter()
        try:
            with anyio.fail_after(timeout):
                client = await self.get()
                await self._probe(client)
        except BackendUnavailable as exc:
            cause = exc.__cause__
            status: Literal["down", "unconfigured"] = "unconfigured" if isinstance(cause, NotConfigured) else "down"
            return Health(self.module, status, self.target, str(exc))
        except TimeoutError:
            return Health(self.module, "down", self.target, f"no answer within {timeout:g}s")
        except Exception as exc:  # a probe failure of any kind means "down", never a crash
            return Health(self.module, "down", self.target, redact_text(f"{type(exc).__name__}: {exc}"))
        return Health(self.module, "up", self.target, "ok", round((time.perf_counter() - start) * 1000, 2))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._close is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await self._close(client)
                except Exception as exc:  # closing a broken client must not mask the real error
                    log.warning("%s close failed: %s", self.module, redact_text(str(exc)))

    async def run_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a blocking SDK call in a worker thread bounded by this module's limiter."""
        return await run_sync(fn, *args, limiter=self.limiter, **kwargs)

    async def run_abortable(self, fn: Callable[[], R], abort: Callable[[], None]) -> R:
        """`run_sync`, but a cancelled caller calls `abort()` so the blocked thread returns at once (see below)."""
        return await run_abortable(fn, abort, limiter=self.limiter)


@dataclass
class BackendState(Generic[S, C]):
    """The usual `ModuleState`: the module's settings and its lazily connected backend."""

    settings: S
    backend: Backend[C]

    async def check(self, timeout: float = 2.0) -> Health:
        return await self.backend.check(timeout)

    async def aclose(self) -> None:
        await self.backend.aclose()

    def pool_sizes(self) -> Iterator[tuple[str, int]]:
        """`(state, count)` of the backend's connection pool, when it is connected and pools connections."""
        return client_pool_sizes(self.backend.connected)


def client_pool_sizes(client: Any, idle_outside: int = 0) -> Iterator[tuple[str, int]]:
    """`(state, count)` of a connected client's pool: asyncpg pools (`idle_outside`: idle connections the
    module keeps out of the pool, which the pool counts in use) and redis-py connection pools."""
    if client is None:
        return
    if callable(getattr(client, "get_idle_size", None)):  # asyncpg.Pool
        size, idle = int(client.get_size()), int(client.get_idle_size()) + idle_outside
        yield from (("in_use", size - idle), ("idle", idle), ("max", int(client.get_max_size())))
        return
    pool = getattr(client, "connection_pool", None)  # redis.asyncio.Redis
    if pool is not None and hasattr(pool, "_in_use_connections"):
        yield from (("in_use", len(pool._in_use_connections)), ("idle", len(pool._available_connections)))
        yield ("max", int(pool.max_connections))
        return
    nodes = client.get_nodes() if callable(getattr(client, "get_nodes", None)) else None  # RedisCluster
    if nodes:
        free = sum(len(getattr(n, "_free", ())) for n in nodes)
        total = sum(len(getattr(n, "_connections", ())) for n in nodes)
        yield from (("in_use", total - free), ("idle", free))


async def run_sync(fn: Callable[..., R], *args: Any, limiter: anyio.CapacityLimiter | None = None, **kwargs: Any) -> R:
    """Run `fn` in a worker thread so the event loop (and every other module) keeps serving.

    Pass the module's limiter (`Backend.run_sync`): without one, anyio's process-wide default (40 threads
    shared by every module) is used.
    """
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter)


async def run_abortable(fn: Callable[[], R], abort: Callable[[], None], *, limiter: anyio.CapacityLimiter) -> R:
    """Run blocking `fn` in a worker thread; if the caller is cancelled meanwhile, call `abort()` at once.

    A thread cannot be interrupted, and a cancelled `to_thread.run_sync` waits for it (its limiter token
    stays taken). `abort` acts on what the thread is blocked on (shut down its socket, close its HTTP
    response) so the thread returns promptly; the caller then gets its cancellation (not the thread's result
    or the error the abort caused). `abort` runs on
    the event loop: it must not block, and it may be called while `fn` is still starting.
    """
    finished = False

    async def guard() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            if not finished:
                try:
                    abort()
                except Exception as exc:  # aborting is best effort; the thread's own timeout still bounds it
                    log.warning("abort of a blocking call failed: %s", redact_text(str(exc)))

    error: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(guard)
        try:
            result = await anyio.to_thread.run_sync(fn, limiter=limiter)
        except Exception as exc:  # raised outside the task group, so it is not wrapped in an ExceptionGroup
            error = exc
        finally:
            finished = True
            tg.cancel_scope.cancel()
    await anyio.lowlevel.checkpoint_if_cancelled()  # an aborted call ends in the caller's cancellation
    if error is not None:
        raise error
    return result
