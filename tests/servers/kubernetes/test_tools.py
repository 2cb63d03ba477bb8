"""The assembled tool list: read-only by default, write tools and their annotations with writes allowed."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio


async def test_read_only_by_default_hides_write_tools(kubeconfig: str) -> None:
    async with Client(server()) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert {"k8s_resources_list", "k8s_pod_logs", "k8s_rollout_status", "k8s_events_list"} <= set(tools)
    assert not set(tools) & {"k8s_apply", "k8s_resource_delete", "k8s_scale", "k8s_node_cordon", "k8s_rollout_undo"}
    ann = tools["k8s_resources_list"].annotations
    assert ann is not None and ann.read_only_hint and ann.open_world_hint
    async with Client(server(WRITES)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert len(tools) == 16
    delete = tools["k8s_resource_delete"].annotations
    assert delete is not None and delete.destructive_hint and not delete.read_only_hint
