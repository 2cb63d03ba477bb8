"""docker_container_logs with `grep`: matching lines with context inside the byte budget, and a hint."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.docker.conftest import run_loop

pytestmark = pytest.mark.anyio


async def test_container_logs_grep(client: Client, image: str, uid: str) -> None:
    await run_loop(client, image, uid)
    name = f"{uid}-loop"
    await anyio.sleep(1.0)
    g = ok(await client.call_tool("docker_container_logs", {"container": name, "tail": 5000, "grep": "LINE3-|line7-"}))
    lines = g["text"].splitlines()
    assert [ln.split("-")[0] for ln in lines[:7]] == ["line1", "line2", "line3", "line4", "line5", "line6", "line7"]
    assert all(ln.startswith("line") or ln == "--" for ln in lines)
    assert "line0-padding-padding-padding-padding" not in lines[1:]
    cut = ok(
        await client.call_tool(
            "docker_container_logs", {"container": name, "tail": 5000, "grep": "padding", "max_bytes": 256}
        )
    )
    assert cut["truncated"] and len(cut["text"].encode()) <= 256 and "narrow the pattern" in cut["hint"]
    none = ok(await client.call_tool("docker_container_logs", {"container": name, "grep": "no-such-text"}))
    assert none["text"] == "" and "no line contains" in none["hint"]
    bad = error_text(await client.call_tool("docker_container_logs", {"container": name, "grep": " | "}))
    assert "invalid_pattern" in bad
