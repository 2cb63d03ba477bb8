"""Discovery tools against the real API server: contexts, API resources (groups, versions, paging), namespaces."""

from __future__ import annotations

import pytest
from mcp import Client

from tests.conftest import ok
from tests.servers.kubernetes.conftest import server

pytestmark = pytest.mark.anyio


async def test_contexts_and_discovery(kubeconfig: str) -> None:
    async with Client(server()) as c:
        ctxs = ok(await c.call_tool("k8s_contexts_list", {}))
        assert ctxs["current"] == "local" and ctxs["contexts"][0]["allowed"] is True
        found = ok(await c.call_tool("k8s_api_resources", {"search": "deploy"}))
        dep = next(r for r in found["resources"] if r["kind"] == "Deployment")
        assert dep["api_version"] == "apps/v1" and "scale" in dep["subresources"] and "deploy" in dep["short_names"]
        core = ok(await c.call_tool("k8s_api_resources", {"group": "core", "namespaced": False, "limit": 3}))
        assert core["count"] == 3 and core["truncated"] and core["next_offset"] == 3
        assert all(r["api_version"] == "v1" and not r["namespaced"] for r in core["resources"])
        rest = ok(await c.call_tool("k8s_api_resources", {"group": "", "namespaced": False, "offset": 3}))
        assert not {r["name"] for r in rest["resources"]} & {r["name"] for r in core["resources"]}
        allv = ok(await c.call_tool("k8s_api_resources", {"search": "cronjob", "all_versions": True}))
        assert {r["api_version"] for r in allv["resources"]} >= {"batch/v1beta1"}
        fresh = ok(await c.call_tool("k8s_api_resources", {"search": "namespaces", "refresh": True}))
        assert [r["kind"] for r in fresh["resources"]] == ["Namespace"]
        node = ok(await c.call_tool("k8s_resource_describe", {"kind": "nodes", "name": "mcp-node"}))
        assert node["namespace"] is None and any(x["type"] == "Ready" for x in node["conditions"])
        assert all(e["object"] == "Node/mcp-node" for e in node["events"])


async def test_namespaces_list(kubeconfig: str, namespace: str) -> None:
    async with Client(server()) as c:
        res = ok(await c.call_tool("k8s_namespaces_list", {"label_selector": "bam-test=true"}))
        assert namespace in [n["name"] for n in res["namespaces"]]
        assert all(n["labels"].get("bam-test") == "true" for n in res["namespaces"])
        mine = next(n for n in res["namespaces"] if n["name"] == namespace)
        assert mine["phase"] == "Active" and mine["age"]
        page = ok(await c.call_tool("k8s_namespaces_list", {"limit": 1}))
        assert page["count"] == 1 and page["truncated"] and page["continue_token"]
        nxt = ok(await c.call_tool("k8s_namespaces_list", {"limit": 1, "continue_token": page["continue_token"]}))
        assert nxt["namespaces"][0]["name"] != page["namespaces"][0]["name"]
