"""Reading an HTTP request's body in a middleware and handing the app a `receive` that replays it."""

from __future__ import annotations

from starlette.types import Message, Receive


def replaying(messages: list[Message], then: Receive) -> Receive:
    """A `receive` that returns `messages` first, in order, then what `then` returns."""
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else await then()

    return receive


async def read_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """Read the request body (up to `limit` bytes) and a `receive` that replays it; None when larger (or cut off
    by a disconnect)."""
    chunks: list[Message] = []
    size, complete = 0, False
    while not complete:
        message = await receive()
        chunks.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        complete = not message.get("more_body", False)
        if size > limit:
            break
    body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")
    return (body if complete and size <= limit else None), replaying(chunks, receive)
