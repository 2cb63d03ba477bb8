"""Raw streamable-HTTP and backend probes shared by the cancellation, shutdown and thread tests.

A raw client (httpx2) lets a test do what the SDK client never does on purpose: walk away from a POST
in the middle of a tool call.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import asyncpg
import httpx2

PROTOCOL = "2025-11-25"
APP_NAME = "backend-architect-mcp"


class RawSession:
    """An initialized streamable-HTTP session (or, stateless, just the headers) on a raw HTTP client."""

    def __init__(self, http: httpx2.AsyncClient) -> None:
        self.http = http
        self.headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
            "mcp-protocol-version": PROTOCOL,
        }
        self._id = 0

    async def open(self) -> RawSession:
        r = await self.http.post(
            "/mcp",
            headers=self.headers,
            json={
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL,
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
        )
        assert r.status_code == 200, r.text
        if sid := r.headers.get("mcp-session-id"):
            self.headers["mcp-session-id"] = sid
        await self.http.post(
            "/mcp", headers=self.headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        return self

    def _call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        return {"jsonrpc": "2.0", "id": self._id, "method": "tools/call", "params": {"name": tool, "arguments": args}}

    async def call_and_leave(self, tool: str, args: dict[str, Any], after: float) -> None:
        """Send a tools/call, read its response stream for `after` seconds, then drop the connection."""
        with anyio.move_on_after(after):
            async with self.http.stream("POST", "/mcp", headers=self.headers, json=self._call(tool, args)) as resp:
                async for _ in resp.aiter_raw():
                    pass
            raise AssertionError(f"{tool} answered before the client left")

    async def call(self, tool: str, args: dict[str, Any], timeout: float = 60) -> str:
        """A tools/call answered in full; the raw response body."""
        r = await self.http.post("/mcp", headers=self.headers, json=self._call(tool, args), timeout=timeout)
        assert r.status_code == 200, r.text
        return r.text


async def pg_backends(marker: str, app_name: str = APP_NAME) -> list[dict[str, Any]]:
    """Our sessions (`app_name`) whose current query contains `marker`, with their state."""
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1 AND query LIKE $2",
            app_name,
            f"%{marker}%",
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def pg_active(marker: str, app_name: str = APP_NAME) -> int:
    return sum(1 for r in await pg_backends(marker, app_name) if r["state"] == "active")


async def within(seconds: float, probe: Callable[[], Awaitable[bool]], step: float = 0.05) -> float:
    """Seconds until `probe()` is true; fails after `seconds`."""
    start = time.monotonic()
    while True:
        if await probe():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds}s")
        await anyio.sleep(step)


async def wait_for(probe: Callable[[], Awaitable[bool]], seconds: float = 15) -> None:
    await within(seconds, probe, step=0.1)
