"""k8s_events_list against the real API server: filters by object, type and reason, ordering, paging."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import ok
from tests.servers.kubernetes.conftest import server

pytestmark = pytest.mark.anyio


async def test_events_list(kubeconfig: str, logger: str) -> None:
    ns = logger
    async with Client(server()) as c:
        evs = ok(await c.call_tool("k8s_events_list", {"namespace": ns, "kind": "Pod", "name": "logger"}))
        assert evs["count"] >= 2 and {e["reason"] for e in evs["events"]} >= {"Scheduled"}
        assert all(e["object"] == "Pod/logger" and e["namespace"] == ns for e in evs["events"])
        assert all(e["source"] == "fake-kubelet" for e in evs["events"])
        stamps = [e["last_seen"] for e in evs["events"]]
        assert stamps == sorted(stamps, reverse=True)
        sched = ok(await c.call_tool("k8s_events_list", {"namespace": ns, "reason": "Scheduled", "type": "Normal"}))
        assert sched["count"] >= 1 and all(e["reason"] == "Scheduled" for e in sched["events"])
        warn = ok(await c.call_tool("k8s_events_list", {"namespace": ns, "type": "Warning"}))
        assert all(e["type"] == "Warning" for e in warn["events"])
        first = ok(await c.call_tool("k8s_events_list", {"all_namespaces": True, "limit": 1}))
        assert first["count"] == 1 and first["truncated"] and first["continue_token"]
        second = ok(
            await c.call_tool(
                "k8s_events_list", {"all_namespaces": True, "limit": 1, "continue_token": first["continue_token"]}
            )
        )
        assert second["count"] == 1
