"""A tool call whose HTTP request goes away is cancelled, so its backend work stops too.

The SDK cancels a request on `notifications/cancelled` (stdio and HTTP alike), and for protocol
2026-07-28 and stateless SSE responses also when the response stream closes. For the handshake
protocols it does not notice a client that disconnects from a stateful session's POST, nor one that
leaves a stateless JSON response: the handler runs on and its backend work (a query, an exec) with it.
This server keeps no event store, so a response nobody reads can never be resumed: such a request is
cancelled as if the client had sent `notifications/cancelled`.

`CancelOnDisconnect` wraps the streamable HTTP endpoint. It takes the POST body as `composite.body` read
it (once per request, shared with the gates) and watches the connection while the app runs; when the
client disconnects before the response is complete it
- posts a `notifications/cancelled` for that id into the same session (same headers, so the same
  credential and session id), which the SDK applies as a client cancel, and
- cancels the request's own ASGI task (a stateless request's server ends with it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import anyio
import orjson
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from composite.body import BODY_KEY, Body, read_body

log = logging.getLogger("backend_architect_mcp.composite")

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"


class _Exchange:
    """One POST whose body was read: the response's progress and the client's disconnect, as they happen."""

    __slots__ = ("_disconnected", "disconnect_seen", "real_send", "response_done")

    def __init__(self, send: Send) -> None:
        self.real_send = send
        self.response_done = False
        self.disconnect_seen = False
        self._disconnected: asyncio.Event | None = None

    @property
    def disconnected(self) -> asyncio.Event:
        if self._disconnected is None:  # made on first use: most requests never wait for it
            self._disconnected = asyncio.Event()
        return self._disconnected

    async def after_body(self) -> Message:
        """What the app receives once the body is replayed: the watcher owns the real `receive`."""
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        await self.real_send(message)


class CancelOnDisconnect:
    """ASGI middleware for the streamable HTTP endpoint (see the module docstring).

    The watcher is a plain asyncio task (the server runs on uvicorn, so asyncio): much cheaper per request
    than a task group, and it is only awaited when it is cancelling something.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not _handshake_era(scope) or _anonymous(scope):
            await self.app(scope, receive, send)
            return
        body, receive = await read_body(scope, receive)
        if not body.complete:  # too large or cut short: the transport answers it at once
            await self.app(scope, receive, send)
            return
        ex = _Exchange(send)
        app_scope = anyio.CancelScope()
        watcher = asyncio.get_running_loop().create_task(self._watch(scope, body, ex, app_scope))
        try:
            with app_scope:
                await self.app(scope, body.replay(ex.after_body), ex.send)
        finally:
            if ex.disconnect_seen:  # it may be posting the cancel: let it finish (it bounds itself)
                with anyio.CancelScope(shield=True):
                    await watcher
            else:
                watcher.cancel()

    async def _watch(self, scope: Scope, body: Body, ex: _Exchange, app_scope: anyio.CancelScope) -> None:
        """Wait for the client to go away; before the response is complete, cancel the request."""
        try:
            while (await body.source())["type"] != "http.disconnect":
                pass
            ex.disconnect_seen = True
            ex.disconnected.set()
            if ex.response_done:
                return
            rid = body.request_id()
            if rid is not None:
                log.info("client disconnected: cancelling request %r", rid)
                await self._cancel(scope, rid)
            app_scope.cancel()
        except Exception as exc:  # pragma: no cover - a watcher never takes the request down
            log.debug("disconnect watcher failed: %s", type(exc).__name__)

    async def _cancel(self, scope: Scope, rid: str | int) -> None:
        """Post `notifications/cancelled` for `rid` with the original request's headers (session, token)."""
        if not any(k == SESSION_HEADER for k, _ in scope["headers"]):
            return  # stateless: cancelling the request's task ends its server
        body = orjson.dumps(
            {
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": rid, "reason": "the client disconnected"},
            }
        )
        headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"content-type")]
        inner = {k: v for k, v in scope.items() if k != BODY_KEY}  # the cancel is a request of its own
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")  # pragma: no cover

        async def discard(_: Message) -> None:
            return None

        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                await self.app({**inner, "headers": headers}, receive, discard)
            except Exception as exc:  # the cancel is best effort; the session may be gone already
                log.debug("cancel after disconnect failed: %s", type(exc).__name__)


def _anonymous(scope: Scope) -> bool:
    """Whether authentication is on and found no caller (the app answers 401; its body is not read)."""
    user = scope.get("user")
    return user is not None and not getattr(user, "is_authenticated", True)


def _handshake_era(scope: Scope) -> bool:
    """Whether the SDK serves this request with a handshake-era transport (the newer one watches by itself)."""
    for key, value in scope["headers"]:
        if key == VERSION_HEADER:
            return value.decode("latin-1") in HANDSHAKE_PROTOCOL_VERSIONS
    return True


def cancel_on_disconnect(routes: list[Any]) -> list[Any]:
    """The SDK's streamable HTTP routes, with `/mcp` wrapped in `CancelOnDisconnect`."""
    for route in routes:
        if getattr(route, "path", None) == "/mcp" and getattr(route, "app", None) is not None:
            route.app = CancelOnDisconnect(route.app)
    return routes
