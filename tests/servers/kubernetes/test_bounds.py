"""Bounded outputs: a kubeconfig with hundreds of contexts is paged; rollout history is cut at
`history_limit` with an explicit flag."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from mcp import Client

from tests.conftest import ok
from tests.servers.kubernetes.conftest import WRITES, server
from tests.servers.kubernetes.test_workloads import deployment

pytestmark = pytest.mark.anyio


async def test_contexts_list_pages_a_big_kubeconfig(
    kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc: dict[str, Any] = yaml.safe_load(Path(kubeconfig).read_text())
    base = next(c for c in doc["contexts"] if c["name"] == doc["current-context"])
    extra = [{"name": f"team-{i:03d}", "context": {**base["context"], "namespace": f"ns-{i:03d}"}} for i in range(300)]
    doc["contexts"] = doc["contexts"] + extra
    big = tmp_path / "kubeconfig"
    big.write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("KUBECONFIG", str(big))
    async with Client(server()) as c:
        first = ok(await c.call_tool("k8s_contexts_list", {}))
        assert first["count"] == 50 and first["total"] == 301 and first["truncated"] and first["next_offset"] == 50
        assert first["current"] == doc["current-context"]
        names: list[str] = []
        offset: int | None = 0
        while offset is not None:
            page = ok(await c.call_tool("k8s_contexts_list", {"limit": 120, "offset": offset}))
            assert page["count"] <= 120
            names += [x["name"] for x in page["contexts"]]
            offset = page["next_offset"]
        assert names == [x["name"] for x in doc["contexts"]]
        found = ok(await c.call_tool("k8s_contexts_list", {"search": "TEAM-29"}))
        assert [x["name"] for x in found["contexts"]] == [f"team-{i}" for i in range(290, 300)]
        assert found["total"] == 10 and not found["truncated"] and found["next_offset"] is None
        assert found["contexts"][0]["namespace"] == "ns-290" and found["contexts"][0]["allowed"]
        # a context from the big kubeconfig really reaches the cluster
        ns = ok(await c.call_tool("k8s_namespaces_list", {"context": "team-007", "limit": 1}))
        assert ns["count"] == 1


async def test_rollout_status_caps_revision_history(kubeconfig: str, namespace: str) -> None:
    name = f"hist-{uuid.uuid4().hex[:6]}"
    async with Client(server(WRITES)) as c:
        ok(await c.call_tool("k8s_apply", {"manifest": deployment(name, 0), "namespace": namespace, "dry_run": False}))
        for i in range(4):  # every template change is a new ReplicaSet, i.e. a revision
            manifest = deployment(name, 0).replace(
                "      labels: {app: " + name + "}\n    spec:",
                "      labels: {app: " + name + "}\n      annotations: {bam/rev: 'r" + str(i) + "'}\n    spec:",
            )
            assert "bam/rev" in manifest
            ok(await c.call_tool("k8s_apply", {"manifest": manifest, "namespace": namespace, "dry_run": False}))
            await anyio.sleep(0.3)
        st = ok(
            await c.call_tool(
                "k8s_rollout_status", {"name": name, "namespace": namespace, "wait_seconds": 30, "history_limit": 2}
            )
        )
        assert st["done"] and st["revision"] == 5 and st["revisions_total"] == 5 and st["truncated"] is True
        assert [r["revision"] for r in st["revisions"]] == [5, 4]
        full = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace}))
        assert [r["revision"] for r in full["revisions"]] == [5, 4, 3, 2, 1] and full["truncated"] is False
        assert full["conditions"] and len(full["conditions"]) <= 20
        none = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace, "history_limit": 0}))
        assert none["revisions"] == [] and none["revisions_total"] == 5 and none["truncated"] is True
        ok(
            await c.call_tool(
                "k8s_resource_delete", {"kind": "deployment", "name": name, "namespace": namespace, "dry_run": False}
            )
        )
