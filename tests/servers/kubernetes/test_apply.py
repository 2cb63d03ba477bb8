"""k8s_apply and k8s_resource_delete against the real API server: dry run + diff, secrets, CRDs end to end."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio


async def test_apply_dry_run_diff_then_apply(kubeconfig: str, namespace: str, api: Any) -> None:
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    manifest = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {token: tok-first-value}
"""
    async with Client(server(WRITES)) as c:
        plan = ok(await c.call_tool("k8s_apply", {"manifest": manifest, "namespace": namespace}))
        assert plan["dry_run"] and not plan["applied"] and plan["count"] == 2
        assert [o["action"] for o in plan["objects"]] == ["created", "created"]
        assert "+  mode: fast" in plan["objects"][0]["diff"]
        assert "tok-first-value" not in str(plan) and "***REDACTED***" in plan["objects"][1]["diff"]
        assert core.list_namespaced_config_map(namespace, field_selector="metadata.name=settings").items == []

        done = ok(await c.call_tool("k8s_apply", {"manifest": manifest, "namespace": namespace, "dry_run": False}))
        assert done["applied"] and not done["dry_run"]
        assert core.read_namespaced_config_map("settings", namespace).data == {"mode": "fast"}
        cm = core.read_namespaced_config_map("settings", namespace)
        assert any(m.manager == "backend-architect-mcp" and m.operation == "Apply" for m in cm.metadata.managed_fields)

        again = ok(await c.call_tool("k8s_apply", {"manifest": manifest, "namespace": namespace}))
        assert [o["action"] for o in again["objects"]] == ["unchanged", "unchanged"]
        assert all(o["diff"] == "" for o in again["objects"])

        changed = manifest.replace("mode: fast", "mode: safe").replace("tok-first-value", "tok-second-value")
        diff = ok(await c.call_tool("k8s_apply", {"manifest": changed, "namespace": namespace}))
        assert [o["action"] for o in diff["objects"]] == ["configured", "configured"]
        assert "-  mode: fast" in diff["objects"][0]["diff"] and "+  mode: safe" in diff["objects"][0]["diff"]
        assert "(changed)" in diff["objects"][1]["diff"]
        assert "tok-second-value" not in str(diff) and "tok-first-value" not in str(diff)
        assert core.read_namespaced_config_map("settings", namespace).data == {"mode": "fast"}

        bad = error_text(await c.call_tool("k8s_apply", {"manifest": "kind: ConfigMap\nmetadata: {name: x}\n"}))
        assert "lacks apiVersion" in bad
        invalid = error_text(
            await c.call_tool(
                "k8s_apply",
                {"manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: BAD_NAME}\n", "namespace": namespace},
            )
        )
        assert "[Invalid] invalid name 'BAD_NAME'" in invalid and "DNS-1123" in invalid and "Hint" in invalid
        rejected = error_text(
            await c.call_tool(
                "k8s_apply",
                {
                    "manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {bad key: v}\n",
                    "namespace": namespace,
                },
            )
        )
        assert "422" in rejected and "Hint" in rejected
        gone = ok(
            await c.call_tool(
                "k8s_resource_delete",
                {"kind": "configmap", "name": "settings", "namespace": namespace, "dry_run": True},
            )
        )
        assert gone["dry_run"] and core.read_namespaced_config_map("settings", namespace)
        gone = ok(
            await c.call_tool("k8s_resource_delete", {"kind": "configmap", "name": "settings", "namespace": namespace})
        )
        assert gone["status"] == "Success"
        assert core.list_namespaced_config_map(namespace, field_selector="metadata.name=settings").items == []


async def test_crd_crud_through_generic_tools(kubeconfig: str, namespace: str, api: Any) -> None:
    from kubernetes import client

    ext: Any = client.ApiextensionsV1Api(api)
    suffix = uuid.uuid4().hex[:6]
    group = f"bam{suffix}.example.com"
    kind = f"Widget{suffix.capitalize()}"
    plural = f"widgets{suffix}"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": f"widget{suffix}", "kind": kind, "shortNames": [f"wg{suffix}"]},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}, "replicas": {"type": "integer"}},
                                },
                                "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
                            },
                        }
                    },
                    "subresources": {
                        "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
                    },
                    "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                }
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            conds = ext.read_custom_resource_definition(f"{plural}.{group}").status.conditions or []
            if any(c.type == "Established" and c.status == "True" for c in conds):
                break
            time.sleep(0.3)
        else:
            pytest.fail("CRD not established")
        manifest = f"apiVersion: {group}/v1\nkind: {kind}\nmetadata: {{name: w1}}\nspec: {{size: 3, replicas: 1}}\n"
        async with Client(server(WRITES)) as c:
            disc = ok(await c.call_tool("k8s_api_resources", {"search": plural}))
            assert disc["resources"][0]["kind"] == kind and disc["resources"][0]["api_version"] == f"{group}/v1"
            ok(await c.call_tool("k8s_apply", {"manifest": manifest, "namespace": namespace, "dry_run": False}))
            listed = ok(await c.call_tool("k8s_resources_list", {"kind": f"wg{suffix}", "namespace": namespace}))
            assert listed["rows"] == [{"Name": "w1", "Size": 3}] and listed["columns"] == ["Name", "Size"]
            got = ok(
                await c.call_tool(
                    "k8s_resource_get", {"kind": f"{plural}.{group}", "name": "w1", "namespace": namespace}
                )
            )
            assert got["object"]["spec"] == {"size": 3, "replicas": 1}
            upd = ok(
                await c.call_tool(
                    "k8s_apply",
                    {"manifest": manifest.replace("size: 3", "size: 5"), "namespace": namespace, "dry_run": False},
                )
            )
            assert upd["objects"][0]["action"] == "configured" and "+  size: 5" in upd["objects"][0]["diff"]
            scaled = ok(
                await c.call_tool("k8s_scale", {"kind": kind, "name": "w1", "replicas": 4, "namespace": namespace})
            )
            assert scaled["previous_replicas"] == 1 and scaled["replicas"] == 4
            got = ok(
                await c.call_tool(
                    "k8s_resource_get",
                    {"kind": kind, "name": "w1", "namespace": namespace, "api_version": f"{group}/v1"},
                )
            )
            assert got["object"]["spec"] == {"size": 5, "replicas": 4}
            ok(await c.call_tool("k8s_resource_delete", {"kind": kind, "name": "w1", "namespace": namespace}))
            after = ok(
                await c.call_tool("k8s_resources_list", {"kind": kind, "namespace": namespace, "output": "names"})
            )
            assert after["names"] == []
    finally:
        ext.delete_custom_resource_definition(f"{plural}.{group}")
