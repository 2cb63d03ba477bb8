"""Node tools against the real API server: cordon and uncordon (idempotent), on a node made for the test."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio


async def test_cordon_uncordon(kubeconfig: str, api: Any) -> None:
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    node = f"bam-node-{uuid.uuid4().hex[:6]}"
    core.create_node({"metadata": {"name": node, "labels": {"bam-test": "true"}}})
    try:
        async with Client(server(WRITES)) as c:
            first = ok(await c.call_tool("k8s_node_cordon", {"node": node}))
            assert first == {"node": node, "unschedulable": True, "changed": True}
            assert core.read_node(node).spec.unschedulable is True
            again = ok(await c.call_tool("k8s_node_cordon", {"node": node}))
            assert again["changed"] is False
            back = ok(await c.call_tool("k8s_node_uncordon", {"node": node}))
            assert back == {"node": node, "unschedulable": False, "changed": True}
            assert not core.read_node(node).spec.unschedulable
            err = error_text(await c.call_tool("k8s_node_cordon", {"node": node + "-missing"}))
            assert "404" in err
    finally:
        core.delete_node(node)
