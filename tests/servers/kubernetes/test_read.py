"""Read tools against the real API server: discovery, list/get/describe, paging, selectors, events, logs."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, server

pytestmark = pytest.mark.anyio

SECRET_VALUE = "s3cr3t-value-" + uuid.uuid4().hex[:6]
LOG_LINES = [f"line {i} request served" for i in range(1, 41)] + ["connecting with password=hunter2 now"]


@pytest.fixture(scope="module")
def seeded(api: Any, namespace: str) -> dict[str, Any]:
    """12 labelled ConfigMaps, a Secret and a pod with known logs in the module's namespace."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    for i in range(12):
        core.create_namespaced_config_map(
            namespace,
            {
                "metadata": {
                    "name": f"cm-{i:02d}",
                    "labels": {"set": "paging", "parity": "even" if i % 2 == 0 else "odd"},
                },
                "data": {"index": str(i), "db_password": "cm-pass-" + str(i)},
            },
        )
    core.create_namespaced_secret(
        namespace,
        {"metadata": {"name": "creds"}, "type": "Opaque", "stringData": {"password": SECRET_VALUE, "user": "admin"}},
    )
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {
                "name": "logger",
                "labels": {"app": "logger"},
                "annotations": {"fake-kubelet/logs": "\n".join(LOG_LINES) + "\n"},
            },
            "spec": {
                "containers": [
                    {"name": "main", "image": "busybox:local", "env": [{"name": "API_TOKEN", "value": "tok-123456"}]},
                    {"name": "sidecar", "image": "busybox:local"},
                ]
            },
        },
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pod = core.read_namespaced_pod("logger", namespace)
        if pod.status.phase == "Running":
            break
        time.sleep(0.5)
    else:
        pytest.fail("the fake kubelet did not start the pod")
    return {"namespace": namespace}


async def test_read_only_by_default_hides_write_tools(kubeconfig: str) -> None:
    async with Client(server()) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert {"k8s_resources_list", "k8s_pod_logs", "k8s_rollout_status", "k8s_events_list"} <= names
    assert not names & {"k8s_apply", "k8s_resource_delete", "k8s_scale", "k8s_node_cordon", "k8s_rollout_undo"}
    ann = tools["k8s_resources_list"].annotations
    assert ann is not None and ann.read_only_hint and ann.open_world_hint
    async with Client(server(WRITES)) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert len(tools) == 16
    delete = tools["k8s_resource_delete"].annotations
    assert delete is not None and delete.destructive_hint and not delete.read_only_hint


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
        allv = ok(await c.call_tool("k8s_api_resources", {"search": "cronjob", "all_versions": True}))
        assert {r["api_version"] for r in allv["resources"]} >= {"batch/v1beta1"}
        node = ok(await c.call_tool("k8s_resource_describe", {"kind": "nodes", "name": "mcp-node"}))
        assert node["namespace"] is None and any(x["type"] == "Ready" for x in node["conditions"])
        assert all(e["object"] == "Node/mcp-node" for e in node["events"])


async def test_namespaces_list(kubeconfig: str, namespace: str) -> None:
    async with Client(server()) as c:
        res = ok(await c.call_tool("k8s_namespaces_list", {"label_selector": "bam-test=true"}))
        assert namespace in [n["name"] for n in res["namespaces"]]
        assert all(n["labels"].get("bam-test") == "true" for n in res["namespaces"])
        page = ok(await c.call_tool("k8s_namespaces_list", {"limit": 1}))
        assert page["count"] == 1 and page["truncated"] and page["continue_token"]
        nxt = ok(await c.call_tool("k8s_namespaces_list", {"limit": 1, "continue_token": page["continue_token"]}))
        assert nxt["namespaces"][0]["name"] != page["namespaces"][0]["name"]


async def test_list_paging_and_selectors(kubeconfig: str, seeded: dict[str, Any]) -> None:
    ns = seeded["namespace"]
    async with Client(server()) as c:
        seen: list[str] = []
        token = None
        pages = 0
        while True:
            args: dict[str, Any] = {"kind": "cm", "namespace": ns, "label_selector": "set=paging", "limit": 5}
            if token:
                args["continue_token"] = token
            page = ok(await c.call_tool("k8s_resources_list", args))
            pages += 1
            assert page["columns"][:2] == ["Name", "Data"]
            seen += [r["Name"] for r in page["rows"]]
            token = page["continue_token"]
            assert page["truncated"] == (token is not None)
            if not token:
                break
        assert pages == 3 and seen == [f"cm-{i:02d}" for i in range(12)]
        odd = ok(
            await c.call_tool(
                "k8s_resources_list",
                {"kind": "configmaps", "namespace": ns, "label_selector": "parity=odd", "output": "names"},
            )
        )
        assert odd["names"] == [f"cm-{i:02d}" for i in range(1, 12, 2)]
        one = ok(
            await c.call_tool(
                "k8s_resources_list",
                {"kind": "ConfigMap", "namespace": ns, "field_selector": "metadata.name=cm-03", "output": "json"},
            )
        )
        assert one["count"] == 1 and one["items"][0]["data"]["index"] == "3"
        assert "managedFields" not in one["items"][0]["metadata"]
        assert one["items"][0]["data"]["db_password"] == "***REDACTED***"
        as_yaml = ok(await c.call_tool("k8s_resources_list", {"kind": "pods", "namespace": ns, "output": "yaml"}))
        assert "name: logger" in as_yaml["yaml"] and "tok-123456" not in as_yaml["yaml"]
        everywhere = ok(await c.call_tool("k8s_resources_list", {"kind": "pods", "all_namespaces": True}))
        assert everywhere["columns"][0] == "Namespace"
        assert any(r["Namespace"] == ns and r["Name"] == "logger" for r in everywhere["rows"])
        bad = error_text(
            await c.call_tool("k8s_resources_list", {"kind": "pods", "namespace": ns, "field_selector": "nope=1"})
        )
        assert "400" in bad and "Hint" in bad
        unknown = error_text(await c.call_tool("k8s_resources_list", {"kind": "widgets"}))
        assert "NotFound" in unknown and "k8s_api_resources" in unknown


async def test_byte_cap_cuts_page_and_cursor_resumes(
    kubeconfig: str, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_K8S_MAX_BYTES", "1500")
    ns = seeded["namespace"]
    async with Client(server()) as c:
        seen: list[str] = []
        token = None
        cuts = 0
        for _ in range(30):
            args: dict[str, Any] = {
                "kind": "configmaps",
                "namespace": ns,
                "label_selector": "set=paging",
                "output": "json",
                "limit": 5,
            }
            if token:
                args["continue_token"] = token
            page = ok(await c.call_tool("k8s_resources_list", args))
            seen += [i["metadata"]["name"] for i in page["items"]]
            cuts += any("byte cap" in n for n in page["notes"])
            token = page["continue_token"]
            if not token:
                break
        assert cuts > 0
        assert seen == [f"cm-{i:02d}" for i in range(12)]


async def test_get_and_secret_redaction(kubeconfig: str, seeded: dict[str, Any]) -> None:
    ns = seeded["namespace"]
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    async with Client(server()) as c:
        cm = ok(await c.call_tool("k8s_resource_get", {"kind": "configmap", "name": "cm-01", "namespace": ns}))
        assert cm["object"]["data"]["index"] == "1" and cm["yaml"] is None and not cm["truncated"]
        results = [
            await c.call_tool("k8s_resource_get", {"kind": "secret", "name": "creds", "namespace": ns}),
            await c.call_tool(
                "k8s_resource_get", {"kind": "secrets", "name": "creds", "namespace": ns, "output": "yaml"}
            ),
            await c.call_tool("k8s_resources_list", {"kind": "secrets", "namespace": ns, "output": "json"}),
            await c.call_tool("k8s_resources_list", {"kind": "secrets", "namespace": ns, "output": "yaml"}),
            await c.call_tool("k8s_resources_list", {"kind": "secrets", "namespace": ns}),
            await c.call_tool("k8s_resource_describe", {"kind": "Secret", "name": "creds", "namespace": ns}),
        ]
        for r in results:
            text = str(ok(r)) + " ".join(getattr(x, "text", "") for x in r.content)
            assert SECRET_VALUE not in text and encoded not in text
        got = ok(results[0])["object"]
        assert got["data"] == {"password": "***REDACTED***", "user": "***REDACTED***"}
        desc = ok(results[5])
        assert desc["spec"]["data"]["password"] == "***REDACTED***"
        pod = ok(await c.call_tool("k8s_resource_get", {"kind": "po", "name": "logger", "namespace": ns}))
        env = pod["object"]["spec"]["containers"][0]["env"][0]
        assert env == {"name": "API_TOKEN", "value": "***REDACTED***"}
        missing = error_text(
            await c.call_tool("k8s_resource_get", {"kind": "configmap", "name": "nope", "namespace": ns})
        )
        assert "404 NotFound" in missing


async def test_secret_reveal_setting(kubeconfig: str, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_K8S_REVEAL_SECRETS", "true")
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    async with Client(server()) as c:
        got = ok(
            await c.call_tool("k8s_resource_get", {"kind": "secret", "name": "creds", "namespace": seeded["namespace"]})
        )
    assert got["object"]["data"]["password"] == encoded


async def test_describe_and_events(kubeconfig: str, seeded: dict[str, Any]) -> None:
    ns = seeded["namespace"]
    async with Client(server()) as c:
        desc = ok(await c.call_tool("k8s_resource_describe", {"kind": "pod", "name": "logger", "namespace": ns}))
        assert desc["kind"] == "Pod" and desc["uid"] and desc["labels"] == {"app": "logger"}
        assert [x["name"] for x in desc["containers"]] == ["main", "sidecar"]
        assert desc["containers"][0]["state"].startswith("running") and desc["containers"][0]["ready"] is True
        assert any(x["type"] == "Ready" and x["status"] == "True" for x in desc["conditions"])
        reasons = {e["reason"] for e in desc["events"]}
        assert {"Scheduled", "Started"} <= reasons and all(e["object"] == "Pod/logger" for e in desc["events"])
        evs = ok(await c.call_tool("k8s_events_list", {"namespace": ns, "kind": "Pod", "name": "logger"}))
        assert evs["count"] >= 2 and {e["reason"] for e in evs["events"]} >= {"Scheduled"}
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


async def test_pod_logs(kubeconfig: str, seeded: dict[str, Any]) -> None:
    ns = seeded["namespace"]
    async with Client(server()) as c:
        full = ok(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns}))
        assert full["container"] == "main" and full["containers"] == ["main", "sidecar"]
        assert any("sidecar" in n for n in full["notes"])
        assert full["lines"] == len(LOG_LINES) and not full["truncated"]
        assert "hunter2" not in full["text"] and "password=***REDACTED***" in full["text"]
        tail = ok(
            await c.call_tool(
                "k8s_pod_logs", {"name": "logger", "namespace": ns, "container": "sidecar", "tail_lines": 2}
            )
        )
        assert tail["container"] == "sidecar" and tail["lines"] == 2
        assert tail["text"].splitlines()[-1] == "connecting with password=***REDACTED*** now"
        capped = ok(
            await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "max_bytes": 256, "tail_lines": 1000})
        )
        assert capped["truncated"] and capped["bytes"] <= 256 and "line 1 request" not in capped["text"]
        stamped = ok(
            await c.call_tool(
                "k8s_pod_logs",
                {"name": "logger", "namespace": ns, "timestamps": True, "tail_lines": 1, "since_seconds": 3600},
            )
        )
        assert stamped["lines"] == 1
        prev = error_text(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "container": "nope"}))
        assert "containers: main, sidecar" in prev


async def test_rollout_status_of_missing_deployment(kubeconfig: str, namespace: str) -> None:
    async with Client(server()) as c:
        err = error_text(await c.call_tool("k8s_rollout_status", {"name": "ghost", "namespace": namespace}))
    assert "404 NotFound" in err
