"""Generic reads against the real API server: list (paging, selectors, outputs, byte cap), get, describe."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import server

pytestmark = pytest.mark.anyio

SECRET_VALUE = "s3cr3t-value-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def seeded(api: Any, logger: str) -> dict[str, Any]:
    """12 labelled ConfigMaps and a Secret beside the `logger` pod in the module's namespace."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    for i in range(12):
        core.create_namespaced_config_map(
            logger,
            {
                "metadata": {
                    "name": f"cm-{i:02d}",
                    "labels": {"set": "paging", "parity": "even" if i % 2 == 0 else "odd"},
                },
                "data": {"index": str(i), "db_password": "cm-pass-" + str(i)},
            },
        )
    core.create_namespaced_secret(
        logger,
        {"metadata": {"name": "creds"}, "type": "Opaque", "stringData": {"password": SECRET_VALUE, "user": "admin"}},
    )
    return {"namespace": logger}


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


async def test_describe_pod(kubeconfig: str, seeded: dict[str, Any]) -> None:
    ns = seeded["namespace"]
    async with Client(server()) as c:
        desc = ok(await c.call_tool("k8s_resource_describe", {"kind": "pod", "name": "logger", "namespace": ns}))
        assert desc["kind"] == "Pod" and desc["uid"] and desc["labels"] == {"app": "logger"}
        assert [x["name"] for x in desc["containers"]] == ["main", "sidecar"]
        assert desc["containers"][0]["state"].startswith("running") and desc["containers"][0]["ready"] is True
        assert desc["containers"][0]["restarts"] == 0
        assert any(x["type"] == "Ready" and x["status"] == "True" for x in desc["conditions"])
        reasons = {e["reason"] for e in desc["events"]}
        assert {"Scheduled", "Started"} <= reasons and all(e["object"] == "Pod/logger" for e in desc["events"])
        few = ok(
            await c.call_tool(
                "k8s_resource_describe", {"kind": "pod", "name": "logger", "namespace": ns, "events_limit": 1}
            )
        )
        assert len(few["events"]) == 1 and few["events_truncated"]
        assert few["events"][0]["last_seen"] == max(e["last_seen"] for e in desc["events"])
        cm = ok(await c.call_tool("k8s_resource_describe", {"kind": "cm", "name": "cm-02", "namespace": ns}))
        assert cm["spec"]["data"]["index"] == "2" and cm["containers"] == [] and cm["events"] == []
