"""k8s_pod_logs with `grep`: only matching lines with context, in the byte budget, matched after redaction."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import server

pytestmark = pytest.mark.anyio


async def test_pod_logs_grep(kubeconfig: str, logger: str) -> None:
    ns = logger
    async with Client(server()) as c:
        g = ok(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "grep": "LINE 20 |line 30 "}))
        lines = g["text"].splitlines()
        assert "line 20 request served" in lines and "line 30 request served" in lines
        assert "line 18 request served" in lines and "line 22 request served" in lines  # two lines of context
        assert "line 17 request served" not in lines and "--" in lines
        assert not g["truncated"]
        budget = ok(
            await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "grep": "request", "max_bytes": 256})
        )
        assert budget["truncated"] and budget["bytes"] <= 256
        assert any("narrow the pattern" in n for n in budget["notes"])
        assert "line 40 request served" in budget["text"]  # the newest matches are kept
        # the pattern sees the redacted text: a masked secret cannot be probed
        probe = ok(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "grep": "hunter2"}))
        assert probe["text"] == "" and any("no line contains" in n for n in probe["notes"])
        bad = error_text(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "grep": "|"}))
        assert "invalid_pattern" in bad
