"""A backend handle that never stops the server: it connects lazily, reports health, and recovers.

`resources()` of every module yields a `Backend`. When the backend is missing or down at start-up,
the server still starts; each tool call retries the connection and, while it fails, answers with a
`ToolError` naming the address tried and the variable to set. Once the backend is back, the next call
succeeds: no restart is needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
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


@dataclass
class BackendState(Generic[S, C]):
    """The usual `ModuleState`: the module's settings and its lazily connected backend."""

    settings: S
    backend: Backend[C]

    async def check(self, timeout: float = 2.0) -> Health:
        return await self.backend.check(timeout)

    async def aclose(self) -> None:
        await self.backend.aclose()


async def run_sync(fn: Callable[..., R], *args: Any, limiter: anyio.CapacityLimiter | None = None, **kwargs: Any) -> R:
    """Run `fn` in a worker thread so the event loop (and every other module) keeps serving."""
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter)
