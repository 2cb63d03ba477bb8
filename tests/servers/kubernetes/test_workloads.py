"""Workload tools against the real API server and controller manager: scale, rollout status, restart, undo."""

from __future__ import annotations

import uuid

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio


def deployment(name: str, replicas: int = 2, image: str = "busybox:local") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: web
        image: {image}
"""


async def test_deployment_scale_restart_undo(kubeconfig: str, namespace: str) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    async with Client(server(WRITES)) as c:
        ok(await c.call_tool("k8s_apply", {"manifest": deployment(name, 2), "namespace": namespace, "dry_run": False}))
        st = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace, "wait_seconds": 60}))
        assert st["done"] and st["ready"] == 2 and st["revision"] == 1 and len(st["revisions"]) == 1

        scaled = ok(await c.call_tool("k8s_scale", {"name": name, "replicas": 3, "namespace": namespace}))
        assert scaled == {
            "kind": "Deployment",
            "name": name,
            "namespace": namespace,
            "previous_replicas": 2,
            "replicas": 3,
        }
        st = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace, "wait_seconds": 60}))
        assert st["done"] and st["ready"] == 3 and st["available"] == 3
        pods = ok(
            await c.call_tool(
                "k8s_resources_list",
                {
                    "kind": "pods",
                    "namespace": namespace,
                    "label_selector": f"app={name}",
                    "field_selector": "status.phase=Running",
                },
            )
        )
        assert pods["count"] == 3 and all(r["Ready"] == "1/1" for r in pods["rows"])

        restarted = ok(await c.call_tool("k8s_rollout_restart", {"name": name, "namespace": namespace}))
        assert restarted["restarted_at"]
        st = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace, "wait_seconds": 90}))
        assert st["done"] and st["revision"] == 2 and [r["revision"] for r in st["revisions"]] == [2, 1]
        got = ok(await c.call_tool("k8s_resource_get", {"kind": "deploy", "name": name, "namespace": namespace}))
        assert "kubectl.kubernetes.io/restartedAt" in got["object"]["spec"]["template"]["metadata"]["annotations"]
        desc = ok(
            await c.call_tool("k8s_resource_describe", {"kind": "deployment", "name": name, "namespace": namespace})
        )
        assert any(e["reason"] == "ScalingReplicaSet" for e in desc["events"])
        assert any(x["type"] == "Available" and x["status"] == "True" for x in desc["conditions"])

        undone = ok(await c.call_tool("k8s_rollout_undo", {"name": name, "namespace": namespace}))
        assert undone["from_revision"] == 2 and undone["to_revision"] == 1 and undone["images"] == ["busybox:local"]
        st = ok(await c.call_tool("k8s_rollout_status", {"name": name, "namespace": namespace, "wait_seconds": 90}))
        assert st["done"] and st["revision"] == 3
        got = ok(await c.call_tool("k8s_resource_get", {"kind": "deploy", "name": name, "namespace": namespace}))
        assert "restartedAt" not in str(got["object"]["spec"]["template"])
        missing = error_text(
            await c.call_tool("k8s_rollout_undo", {"name": name, "namespace": namespace, "to_revision": 42})
        )
        assert "revision 42 not found" in missing

        not_scalable = error_text(
            await c.call_tool("k8s_scale", {"kind": "configmap", "name": "x", "replicas": 1, "namespace": namespace})
        )
        assert "no scale subresource" in not_scalable
        ok(
            await c.call_tool(
                "k8s_resource_delete",
                {"kind": "deployment", "name": name, "namespace": namespace, "propagation": "Foreground"},
            )
        )
        err = error_text(
            await c.call_tool(
                "k8s_resource_delete", {"kind": "deployment", "name": f"{name}-nope", "namespace": namespace}
            )
        )
        assert "404 NotFound" in err


async def test_rollout_status_of_missing_deployment(kubeconfig: str, namespace: str) -> None:
    async with Client(server()) as c:
        err = error_text(await c.call_tool("k8s_rollout_status", {"name": "ghost", "namespace": namespace}))
    assert "404 NotFound" in err
