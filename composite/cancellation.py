"""A tool call whose HTTP request goes away is cancelled, so its backend work stops too.

The SDK cancels a request on `notifications/cancelled` (stdio and HTTP alike), and for protocol
2026-07-28 and stateless SSE responses also when the response stream closes. For the handshake
protocols it does not notice a client that disconnects from a stateful session's POST, nor one that
leaves a stateless JSON response: the handler runs on and its backend work (a query, an exec) with it.
This server keeps no event store, so a response nobody reads can never be resumed: such a request is
cancelled as if the client had sent `notifications/cancelled`.

`CancelOnDisconnect` wraps the streamable HTTP endpoint. It reads the POST body as the app asks for it,
notes the JSON-RPC request id, then watches the connection; when the client disconnects before the
response is complete it
- posts a `notifications/cancelled` for that id into the same session (same headers, so the same
  credential and session id), which the SDK applies as a client cancel, and
- cancels the request's own ASGI task (a stateless request's server ends with it).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import orjson
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from composite.body import replaying

log = logging.getLogger("backend_architect_mcp.composite")

SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"
MAX_PARSED_BODY = 1 << 20
"""Bodies larger than this are passed on without looking for a request id (a tool call is far smaller)."""


def _request_id(body: bytes) -> str | int | None:
    """The id of a JSON-RPC request (not a notification or a response); None otherwise."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or "method" not in message:
        return None
    rid = message.get("id")
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


class _Exchange:
    """One POST: its body as read so far, whether the response is complete, and the disconnect signal."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self.real_receive = receive
        self.real_send = send
        self.body = bytearray()
        self.body_done = False
        self.response_done = False
        self.disconnected = anyio.Event()
        self.body_complete = anyio.Event()

    async def receive(self) -> Message:
        if self.body_done:  # the app waits for a disconnect only: the watcher owns the real `receive`
            await self.disconnected.wait()
            return {"type": "http.disconnect"}
        message = await self.real_receive()
        if message["type"] == "http.request":
            if len(self.body) <= MAX_PARSED_BODY:
                self.body += message.get("body", b"")
            self.body_done = not message.get("more_body", False)
            if self.body_done:
                self.body_complete.set()
        elif message["type"] == "http.disconnect":
            self.disconnected.set()
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.response_done = True
        await self.real_send(message)


class CancelOnDisconnect:
    """ASGI middleware for the streamable HTTP endpoint (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not _handshake_era(scope):
            await self.app(scope, receive, send)
            return
        ex = _Exchange(receive, send)
        app_scope = anyio.CancelScope()

        async def watch() -> None:
            await ex.body_complete.wait()  # the app reads the body first; then this task owns `receive`
            while True:
                message = await ex.real_receive()
                if message["type"] == "http.disconnect":
                    break
            ex.disconnected.set()
            if ex.response_done:
                return
            rid = _request_id(bytes(ex.body)) if len(ex.body) <= MAX_PARSED_BODY else None
            if rid is not None:
                log.info("client disconnected: cancelling request %r", rid)
                await self._cancel(scope, rid)
            app_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            with app_scope:
                await self.app(scope, ex.receive, ex.send)
            tg.cancel_scope.cancel()

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
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        receive = replaying([{"type": "http.request", "body": body, "more_body": False}], _never)

        async def discard(_: Message) -> None:
            return None

        with anyio.CancelScope(shield=True), anyio.move_on_after(5):
            try:
                await self.app({**scope, "headers": headers}, receive, discard)
            except Exception as exc:  # the cancel is best effort; the session may be gone already
                log.debug("cancel after disconnect failed: %s", type(exc).__name__)


async def _never() -> Message:
    """A `receive` with nothing more to say: the request's body was all sent."""
    await anyio.sleep_forever()
    raise AssertionError("unreachable")  # pragma: no cover


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
