"""Graceful shutdown: drain in-flight tool calls, cancel the rest, close every pool.

On SIGTERM or SIGINT (uvicorn's handlers) `GracefulServer.shutdown`
1. stops accepting: the listening sockets close, new connections are refused;
2. waits until no tool call is in flight, at most `--shutdown-grace-s` (BAM_SHUTDOWN_GRACE_S, default 20);
3. cancels the calls still running: each answers a tool error saying the server is shutting down, and
   its backend work stops as on a client cancel (the query is cancelled on the server, the exec killed,
   the Insights query stopped);
4. lets the responses go out, closes the remaining connections (idle sessions, GET streams) and runs the
   lifespan's exit, which closes every module's pools and clients. The process then exits 0.

Over stdio (`composite/stdio.py: serve_stdio`) SIGTERM/SIGINT take the same steps through `drain`: stdin is
no longer read, the grace runs until every request read has been answered, the rest are cancelled, then the
input ends as at EOF, so the server closes its pools and exits 0.

`InFlightCalls` is the server middleware that knows the calls in flight and can cancel them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
import uvicorn

log = logging.getLogger("backend_architect_mcp.composite")

SHUTDOWN_MESSAGE = (
    "cancelled: the server is shutting down (its backend work was stopped); retry the call, it reaches "
    "another instance or this one once it is back"
)
FLUSH_S = 1
"""Time left, after the last call ended, for responses to reach their clients before connections close."""
CANCEL_WAIT_S = 10.0
"""How long cancelled calls get to stop their backend work and answer before the server stops anyway."""


class InFlightCalls:
    """Server middleware: tracks running `tools/call` requests; `cancel_all()` ends them with a tool error."""

    def __init__(self) -> None:
        self._scopes: set[anyio.CancelScope] = set()
        self.shutting_down = False

    @property
    def count(self) -> int:
        return len(self._scopes)

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if getattr(ctx, "method", None) != "tools/call":
            return await call_next(ctx)
        scope = anyio.CancelScope()
        self._scopes.add(scope)
        try:
            with scope:
                return await call_next(ctx)
        finally:
            self._scopes.discard(scope)
        result = types.CallToolResult(content=[types.TextContent(type="text", text=SHUTDOWN_MESSAGE)], is_error=True)
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)

    def cancel_all(self) -> int:
        self.shutting_down = True
        scopes = list(self._scopes)
        for scope in scopes:
            scope.cancel()
        return len(scopes)


async def wait_until(done: Callable[[], bool], seconds: float) -> bool:
    """Wait until `done()`, at most `seconds`; whether it happened."""
    with anyio.move_on_after(seconds):
        while not done():
            await anyio.sleep(0.05)
    return done()


async def drain(
    inflight: InFlightCalls,
    grace_s: float,
    busy: Callable[[], int] | None = None,
    forced: Callable[[], bool] = lambda: False,
) -> None:
    """Steps 2 and 3 of the module docstring, for HTTP and stdio alike: wait until nothing is `busy()` (the
    tool calls in flight by default), at most `grace_s` or until `forced()` (a second signal), then cancel
    the tool calls still running and wait for them to answer (they stop their backend work first)."""
    count = busy or (lambda: inflight.count)
    log.info("shutting down: %d tool call(s) in flight, grace %gs", inflight.count, grace_s)
    if await wait_until(lambda: not count() or forced(), grace_s) and not count():
        return
    log.warning("grace period over: cancelled %d tool call(s)", inflight.cancel_all())
    await wait_until(lambda: not count(), CANCEL_WAIT_S)


class GracefulServer(uvicorn.Server):
    """uvicorn's server with the drain-then-cancel shutdown described in the module docstring."""

    def __init__(self, config: uvicorn.Config, inflight: InFlightCalls, grace_s: float) -> None:
        super().__init__(config)
        self.inflight = inflight
        self.grace_s = grace_s

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()  # uvicorn would re-raise it after shutting down: exit 0 instead

    async def shutdown(self, sockets: Any = None) -> None:
        started = time.monotonic()
        for server in self.servers:
            server.close()  # stop accepting at once; uvicorn closes them again harmlessly
        await drain(self.inflight, self.grace_s, forced=lambda: self.force_exit)  # a second Ctrl-C: no grace
        self.config.timeout_graceful_shutdown = FLUSH_S  # idle connections (GET streams) do not hold the exit
        await super().shutdown(sockets)
        log.info("shut down in %.2fs", time.monotonic() - started)


def serve(asgi: Any, settings: Any, inflight: InFlightCalls) -> None:
    """Run `asgi` with uvicorn until SIGTERM/SIGINT, then shut down gracefully (exit status 0)."""
    from composite.tls import tls_kwargs

    config = uvicorn.Config(
        asgi,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        access_log=False,
        **tls_kwargs(settings),
    )
    GracefulServer(config, inflight, settings.shutdown_grace_s).run()
