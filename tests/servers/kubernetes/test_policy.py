"""Safety settings enforced on every call, context allow-list, and a cluster that is missing or down."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client

from servers.kubernetes.client import resources
from servers.kubernetes.settings import KubernetesSettings
from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def seeded(api: Any, namespace: str) -> str:
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "visible"}, "data": {"a": "1"}})
    core.create_namespaced_secret(namespace, {"metadata": {"name": "hidden"}, "stringData": {"k": "v"}})
    return namespace


async def test_namespace_allow_list(kubeconfig: str, seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_K8S_ALLOWED_NAMESPACES", f"{seeded},kube-public")
    async with Client(server(WRITES)) as c:
        mine = ok(
            await c.call_tool("k8s_resources_list", {"kind": "configmaps", "namespace": seeded, "output": "names"})
        )
        assert "visible" in mine["names"]
        cases: list[tuple[str, dict[str, Any]]] = [
            ("k8s_resources_list", {"kind": "configmaps", "namespace": "kube-system"}),
            ("k8s_resources_list", {"kind": "configmaps"}),  # the context's default namespace: `default`
            ("k8s_resource_get", {"kind": "namespace", "name": "kube-system"}),
            ("k8s_resource_describe", {"kind": "sa", "name": "default", "namespace": "default"}),
            ("k8s_events_list", {"namespace": "kube-system"}),
            ("k8s_pod_logs", {"name": "x", "namespace": "default"}),
            ("k8s_rollout_status", {"name": "x", "namespace": "default"}),
            (
                "k8s_apply",
                {"manifest": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n"},
            ),
            ("k8s_resource_delete", {"kind": "configmap", "name": "x", "namespace": "default"}),
            ("k8s_scale", {"name": "x", "replicas": 1, "namespace": "default"}),
            ("k8s_rollout_restart", {"name": "x", "namespace": "default"}),
            ("k8s_rollout_undo", {"name": "x", "namespace": "default"}),
        ]
        for name, args in cases:
            err = error_text(await c.call_tool(name, args))
            assert "Forbidden by policy" in err and "BAM_K8S_ALLOWED_NAMESPACES" in err, (name, err)
        nss = ok(await c.call_tool("k8s_namespaces_list", {}))
        assert sorted(n["name"] for n in nss["namespaces"]) == sorted([seeded, "kube-public"])
        assert nss["hidden_by_policy"] >= 3
        every = ok(await c.call_tool("k8s_resources_list", {"kind": "serviceaccounts", "all_namespaces": True}))
        assert {r["Namespace"] for r in every["rows"]} <= {seeded, "kube-public"}
        assert every["hidden_by_policy"] >= 2
        listed_ns = ok(await c.call_tool("k8s_resources_list", {"kind": "namespaces", "output": "names"}))
        assert sorted(listed_ns["names"]) == sorted([seeded, "kube-public"])
        events = ok(await c.call_tool("k8s_events_list", {"all_namespaces": True}))
        assert all(e["namespace"] in (seeded, "kube-public") for e in events["events"])


async def test_namespace_deny_and_kind_deny(kubeconfig: str, seeded: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_K8S_DENIED_NAMESPACES", "kube-*")
    monkeypatch.setenv("BAM_K8S_DENIED_KINDS", "Secret,clusterroles.rbac.authorization.k8s.io")
    async with Client(server(WRITES)) as c:
        err = error_text(await c.call_tool("k8s_resources_list", {"kind": "pods", "namespace": "kube-system"}))
        assert "Forbidden by policy" in err and "BAM_K8S_DENIED_NAMESPACES" in err
        cases: list[tuple[str, dict[str, Any]]] = [
            ("k8s_resource_get", {"kind": "secret", "name": "hidden", "namespace": seeded}),
            ("k8s_resources_list", {"kind": "secrets", "namespace": seeded}),
            ("k8s_resources_list", {"kind": "secrets", "all_namespaces": True}),
            ("k8s_resources_list", {"kind": "clusterroles"}),
            ("k8s_resource_delete", {"kind": "Secret", "name": "hidden", "namespace": seeded}),
            ("k8s_apply", {"manifest": "apiVersion: v1\nkind: Secret\nmetadata: {name: s2}\n", "namespace": seeded}),
        ]
        for name, args in cases:
            err = error_text(await c.call_tool(name, args))
            assert "denied kinds" in err and "BAM_K8S_DENIED_KINDS" in err, (name, err)
        roles = ok(await c.call_tool("k8s_resources_list", {"kind": "roles", "all_namespaces": True}))
        assert all(not r["Namespace"].startswith("kube-") for r in roles["rows"])


def _two_context_kubeconfig(src: str, dest: Path) -> Path:
    doc = yaml.safe_load(Path(src).read_text())
    base = doc["contexts"][0]
    doc["contexts"].append({"name": "other", "context": {**base["context"], "namespace": "kube-public"}})
    doc["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:1"}})
    doc["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": base["context"]["user"]}})
    dest.write_text(yaml.safe_dump(doc))
    return dest


async def test_context_argument_and_allow_list(
    kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _two_context_kubeconfig(kubeconfig, tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("BAM_K8S_ALLOWED_CONTEXTS", "local,dead")
    async with Client(server()) as c:
        ctxs = ok(await c.call_tool("k8s_contexts_list", {}))
        allowed = {x["name"]: x["allowed"] for x in ctxs["contexts"]}
        assert allowed == {"local": True, "other": False, "dead": True}
        err = error_text(await c.call_tool("k8s_namespaces_list", {"context": "other"}))
        assert "Forbidden by policy" in err and "BAM_K8S_ALLOWED_CONTEXTS" in err
        err = error_text(await c.call_tool("k8s_api_resources", {"context": "nope"}))
        assert "not in the kubeconfig" in err and "local" in err
        ok(await c.call_tool("k8s_namespaces_list", {"context": "local"}))
        down = error_text(await c.call_tool("k8s_resources_list", {"kind": "pods", "context": "dead"}))
        assert "https://127.0.0.1:1" in down and "unreachable" in down and "KUBECONFIG" in down
    monkeypatch.delenv("BAM_K8S_ALLOWED_CONTEXTS")
    async with Client(server()) as c:
        other = ok(
            await c.call_tool("k8s_resources_list", {"kind": "serviceaccounts", "context": "other", "output": "names"})
        )
        assert other["namespace"] == "kube-public" and "default" in other["names"]


async def test_unconfigured_then_recovers(kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "later" / "kubeconfig"
    monkeypatch.setenv("KUBECONFIG", str(path))
    async with resources(KubernetesSettings()) as kube:
        health = await kube.check()
        assert health.status == "unconfigured" and "KUBECONFIG" in health.detail
    async with Client(server()) as c:
        err = error_text(await c.call_tool("k8s_namespaces_list", {}))
        assert "not configured" in err and "KUBECONFIG" in err
        path.parent.mkdir()
        shutil.copy(kubeconfig, path)
        assert ok(await c.call_tool("k8s_namespaces_list", {}))["count"] >= 4


async def test_health_up_and_down(kubeconfig: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with resources(KubernetesSettings()) as kube:
        health = await kube.check()
        assert health.ok and health.latency_ms is not None
    path = _two_context_kubeconfig(kubeconfig, tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("BAM_K8S_CONTEXT", "dead")
    async with resources(KubernetesSettings()) as kube:
        health = await kube.check()
        assert health.status == "down" and "127.0.0.1:1" in health.detail
