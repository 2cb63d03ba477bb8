"""The body of a JSON-RPC POST, read once per request and shared by every ASGI layer that looks into it.

The request gate (call limits), the scope gate (403 for a call outside the token's scopes) and the
disconnect watcher (the id of the request to cancel) all need the POSTed message. The first of them to ask
calls `read_body(scope, receive)`: it reads the body (at most `MAX_BODY` bytes), keeps it in the ASGI scope
under `BODY_KEY` and returns a `receive` that replays it, unchanged, to the app. A later layer gets the
same `Body` from the scope and passes its `receive` on as it is. The JSON is parsed on first use, once.

A body larger than `MAX_BODY`, or cut short by a disconnect, is `complete=False` and has no message: it is
replayed as it was received and the app (the SDK's transport) answers it as it always does (413 when too
large). A body that is not JSON has no message either; the app answers it with a parse error.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from starlette.types import Message, Receive, Scope

BODY_KEY = "bam.body"
"""The scope key of the request's `Body`."""
MAX_BODY = DEFAULT_MAX_REQUEST_BODY_SIZE
"""Larger bodies are not looked into (the SDK's transports refuse them with 413)."""
_UNPARSED = object()


class Body:
    """A request body as read: the raw bytes when complete, the parsed JSON on demand, and its replay."""

    __slots__ = ("_json", "_pending", "complete", "raw", "source")

    def __init__(self, messages: list[Message], complete: bool, source: Receive) -> None:
        self.complete = complete
        """Whether the whole body was read (not larger than `MAX_BODY`, not cut short)."""
        self.source = source
        """The request's own `receive`: once the body is replayed, only a disconnect can come from it."""
        self._json: Any = _UNPARSED
        if complete and len(messages) > 1:
            raw = b"".join(m.get("body", b"") for m in messages)
            messages = [{"type": "http.request", "body": raw, "more_body": False}]
        self.raw: bytes | None = messages[0].get("body", b"") if complete else None
        self._pending: deque[Message] = deque(messages)

    @property
    def json(self) -> Any:
        """The parsed body (a dict, a list for a batch, ...); None when incomplete or not JSON."""
        if self._json is _UNPARSED:
            try:
                self._json = orjson.loads(self.raw) if self.raw is not None else None
            except orjson.JSONDecodeError:
                self._json = None
        return self._json

    def messages(self) -> list[dict[str, Any]]:
        """The JSON-RPC messages of the body (one, or those of a batch); none when it does not parse."""
        data = self.json
        return [m for m in (data if isinstance(data, list) else [data]) if isinstance(m, dict)]

    def tool_calls(self) -> list[dict[str, Any]]:
        """The `tools/call` requests of the body."""
        return [m for m in self.messages() if m.get("method") == "tools/call"]

    def request_id(self) -> str | int | None:
        """The id of a single JSON-RPC request (not a notification, response or batch); None otherwise."""
        data = self.json
        if not isinstance(data, dict) or "method" not in data:
            return None
        rid = data.get("id")
        return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None

    def replay(self, then: Callable[[], Awaitable[Message]] | None = None) -> Receive:
        """A `receive` that hands out the body as read, then what `then` (default: the request's) returns."""
        pending, after = self._pending, then or self.source

        async def receive() -> Message:
            return pending.popleft() if pending else await after()

        return receive


def body_of(scope: Scope) -> Body | None:
    """The body an earlier layer read, if any."""
    body = scope.get(BODY_KEY)
    return body if isinstance(body, Body) else None


async def read_body(scope: Scope, receive: Receive) -> tuple[Body, Receive]:
    """The request's body and the `receive` to hand on: read now, or as an earlier layer read it."""
    body = body_of(scope)
    if body is not None:
        return body, receive
    messages: list[Message] = []
    size, complete = 0, False
    while not complete and size <= MAX_BODY:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        complete = not message.get("more_body", False)
    body = Body(messages, complete and size <= MAX_BODY, receive)
    scope[BODY_KEY] = body
    return body, body.replay()
