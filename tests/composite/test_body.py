"""composite.body: a POST body is read once per request, parsed once, and replayed to the app unchanged."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from composite.body import BODY_KEY, MAX_BODY, body_of, read_body

pytestmark = pytest.mark.anyio

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "pg_query", "arguments": {}}}


class Wire:
    """A request's `receive`: the given messages, then a disconnect; counts what was taken."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.messages = list(messages)
        self.taken = 0

    async def __call__(self) -> dict[str, Any]:
        self.taken += 1
        return self.messages.pop(0) if self.messages else {"type": "http.disconnect"}


def chunks(data: bytes, *sizes: int) -> list[dict[str, Any]]:
    out, at = [], 0
    for n in (*sizes, len(data)):
        out.append({"type": "http.request", "body": data[at : at + n], "more_body": True})
        at += n
    out[-1]["more_body"] = False
    return out


async def drain(receive: Any) -> tuple[bytes, list[dict[str, Any]]]:
    """What the app reads: the body, and the messages it came in."""
    got = []
    while True:
        m = await receive()
        got.append(m)
        if m["type"] != "http.request" or not m.get("more_body", False):
            return b"".join(x.get("body", b"") for x in got), got


async def test_a_body_in_chunks_is_read_once_parsed_once_and_replayed_whole() -> None:
    data = orjson.dumps(CALL)
    wire = Wire(*chunks(data, 5, 20))
    scope: dict[str, Any] = {}
    body, receive = await read_body(scope, wire)
    assert wire.taken == 3 and body.complete and body.raw == data
    assert body.tool_calls() == [CALL] and body.request_id() == 7
    assert body.json is body.json  # parsed once, kept
    again, same = await read_body(scope, receive)  # a later layer: the same body, its receive passed on
    assert again is body and same is receive and body_of(scope) is body and scope[BODY_KEY] is body
    replayed, messages = await drain(same)
    assert replayed == data and len(messages) == 1 and wire.taken == 3
    assert (await same())["type"] == "http.disconnect"  # then the request's own receive


async def test_batches_notifications_and_non_json_bodies() -> None:
    batch = orjson.dumps([CALL, {"jsonrpc": "2.0", "method": "notifications/initialized"}, 3])
    body, _ = await read_body({}, Wire(*chunks(batch)))
    assert body.tool_calls() == [CALL] and len(body.messages()) == 2 and body.request_id() is None
    note = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert (await read_body({}, Wire(*chunks(note))))[0].request_id() is None
    for raw in (b"hello", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b""):
        body, receive = await read_body({}, Wire(*chunks(raw)))
        assert body.complete and body.json is None and body.messages() == [] and body.tool_calls() == []
        assert (await drain(receive))[0] == raw  # the app answers it (a parse error)


async def test_an_oversized_body_is_not_looked_into_and_replayed_as_received() -> None:
    data = b"x" * (MAX_BODY + (1 << 20) + 10)
    sent = chunks(data, *[1 << 20] * 5)
    wire = Wire(*sent)
    body, receive = await read_body({}, wire)
    assert not body.complete and body.raw is None and body.json is None and body.tool_calls() == []
    assert wire.taken == 5  # it stopped reading past the limit: the rest stays with the request
    replayed, messages = await drain(receive)
    assert replayed == data and messages == sent  # the app (the SDK's transport) answers 413 as always


async def test_a_body_cut_short_by_a_disconnect_is_incomplete() -> None:
    data = orjson.dumps(CALL)
    first = {"type": "http.request", "body": data[:10], "more_body": True}
    body, receive = await read_body({}, Wire(first))
    assert not body.complete and body.tool_calls() == []
    assert await receive() == first and (await receive())["type"] == "http.disconnect"


async def test_replay_then_hands_over_to_the_given_receive() -> None:
    body, _ = await read_body({}, Wire(*chunks(orjson.dumps(CALL))))

    async def after() -> dict[str, Any]:
        return {"type": "http.disconnect", "from": "after"}

    receive = body.replay(after)
    assert (await receive())["body"] == body.raw
    assert (await receive())["from"] == "after"
