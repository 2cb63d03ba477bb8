"""Adversarial corpus against the real API server: hostile identifiers in every argument of every read tool.

Canary Secrets (data, stringData, a last-applied annotation) and secret-named ConfigMap keys and pod env
values are seeded; then hand-picked and Hypothesis-generated path-like and shell-like strings go into each
identifier argument. Every attempt must be refused with a clear error or be harmless, no canary may appear
in any output (raw, base64, base64 of base64, structured or text), and no object may change.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from servers._common.output import REDACTED
from servers.kubernetes.names import api_path
from servers.kubernetes.shaping import redact_object
from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import WRITES, run_pod, server

pytestmark = pytest.mark.anyio

TAG = uuid.uuid4().hex[:10]
CANARIES = {
    "data": f"cnry-data-{TAG}",
    "string": f"cnry-string-{TAG}",
    "applied": f"cnry-applied-{TAG}",
    "cm_key": f"cnry-cmkey-{TAG}",
    "env": f"cnry-env-{TAG}",
    "embedded_json": f"cnry-embjson-{TAG}",
    "embedded_yaml": f"cnry-embyaml-{TAG}",
    "log": f"cnry-log-{TAG}",
}
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _forms(value: str) -> set[str]:
    """A canary as it could leak: raw, base64 (standard, urlsafe, unpadded) and base64 of its base64."""
    b64 = base64.b64encode(value.encode()).decode()
    return {
        value,
        b64,
        b64.rstrip("="),
        base64.urlsafe_b64encode(value.encode()).decode().rstrip("="),
        base64.b64encode(b64.encode()).decode().rstrip("="),
    }


LEAKS = set().union(*(_forms(v) for v in CANARIES.values()))


def output_of(result: CallToolResult) -> str:
    """Everything a tool call shows the model: text content and structured content."""
    text = " ".join(getattr(c, "text", "") for c in result.content)
    return text + json.dumps(result.structured_content, ensure_ascii=False)


def assert_no_leak(result: CallToolResult, what: Any) -> None:
    out = output_of(result)
    leaked = [f for f in LEAKS if f in out]
    assert not leaked, (what, leaked, out[:2000])


# ---------------------------------------------------------------------------------------------------------
# seeding and the state fingerprint


def _secret_manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "canary-applied"},
        "stringData": {"key": CANARIES["applied"]},
    }


def _canary_logs() -> str:
    """Log text in which a process printed a Secret as JSON."""
    value = base64.b64encode(CANARIES["log"].encode()).decode()
    printed = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "leaked"}, "data": {"k": value}}
    return f"started\n{json.dumps(printed)}\nserving\n"


@pytest.fixture(scope="module")
def canaries(api: Any, namespace: str) -> str:
    """The canary objects in the module's namespace; returns the namespace."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    ns = namespace
    data = {"password": base64.b64encode(CANARIES["data"].encode()).decode()}
    core.create_namespaced_secret(
        ns, {"metadata": {"name": "canary-secret"}, "data": data, "stringData": {"api-token": CANARIES["string"]}}
    )
    applied = _secret_manifest()
    core.create_namespaced_secret(
        ns,
        {
            "metadata": {"name": "canary-applied", "annotations": {LAST_APPLIED: json.dumps(applied)}},
            "stringData": applied["stringData"],
        },
    )
    embedded_json = {**_secret_manifest(), "stringData": {"key": CANARIES["embedded_json"]}}
    embedded_yaml = (
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\nstringData:\n  key: {CANARIES['embedded_yaml']}\n"
    )
    core.create_namespaced_config_map(
        ns,
        {
            "metadata": {
                "name": "canary-config",
                "annotations": {"example.com/manifest": json.dumps(embedded_json)},
            },
            "data": {"DB_PASSWORD": CANARIES["cm_key"], "bundle.yaml": embedded_yaml, "plain": "hello"},
        },
    )
    run_pod(
        api,
        ns,
        {
            "metadata": {"name": "canary-pod", "annotations": {"fake-kubelet/logs": _canary_logs()}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox:local",
                        "env": [
                            {"name": "DB_PASSWORD", "value": CANARIES["env"]},
                            {
                                "name": "API_KEY",
                                "valueFrom": {"secretKeyRef": {"name": "canary-secret", "key": "password"}},
                            },
                        ],
                        "envFrom": [{"secretRef": {"name": "canary-secret"}}],
                    }
                ]
            },
        },
    )
    return ns


def fingerprint(api: Any, ns: str) -> dict[str, str]:
    """resourceVersion of every object the tools could touch in the namespace, and of the namespace itself."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    apps: Any = client.AppsV1Api(api)
    out = {f"namespace/{ns}": core.read_namespace(ns).metadata.resource_version}
    for kind, items in (
        ("secret", core.list_namespaced_secret(ns).items),
        ("configmap", core.list_namespaced_config_map(ns).items),
        ("serviceaccount", core.list_namespaced_service_account(ns).items),
        ("deployment", apps.list_namespaced_deployment(ns).items),
    ):
        out |= {f"{kind}/{o.metadata.name}": o.metadata.resource_version for o in items}
    pod = core.read_namespaced_pod("canary-pod", ns)
    out["pod/canary-pod/spec"] = json.dumps(api.sanitize_for_serialization(pod.spec), sort_keys=True)
    return out


# ---------------------------------------------------------------------------------------------------------
# the corpus


def hostile(ns: str) -> list[str]:
    """Hand-picked identifiers: traversal, percent-encoding, query/fragment, shell, whitespace, look-alikes."""
    return [
        "",
        ".",
        "..",
        "../secrets",
        "../secrets/canary-secret",
        "x/../../secrets/canary-secret",
        "canary-config/../../secrets/canary-secret",
        "canary-secret/..",
        f"../../namespaces/{ns}/secrets/canary-secret",
        f"{ns}/secrets",
        f"{ns}/secrets#",
        f"{ns}/secrets?",
        f"{ns}/secrets/canary-secret#",
        "canary-config?x=1",
        "canary-config#frag",
        "canary-pod/log?container=main#",
        "%2e%2e%2fsecrets",
        "..%2Fsecrets%2Fcanary-secret",
        "%2F",
        "canary%2Dsecret",
        "..\\secrets\\canary-secret",
        "canary\u2215secrets",
        "canary\uff0fsecrets",
        "\uff0e\uff0e",
        "canary-secr\u0435t",
        " canary-secret",
        "canary-secret ",
        "canary-secret\n",
        "a\tb",
        "a\x00b",
        "$(cat /etc/passwd)",
        "`id`",
        "; rm -rf /",
        "a|b&c",
        "*",
        "~root",
        "-rf",
        "CanarySecret",
        "x" * 64,
        "x" * 254,
        "a" * 5000,
        "secrets",
        "kube-system",
    ]


NAMED_READS: list[tuple[str, dict[str, Any]]] = [
    ("k8s_resource_get", {"kind": "configmaps"}),
    ("k8s_resource_get", {"kind": "pods", "output": "yaml"}),
    ("k8s_resource_describe", {"kind": "configmaps"}),
    ("k8s_resource_describe", {"kind": "pods"}),
    ("k8s_pod_logs", {}),
    ("k8s_rollout_status", {}),
]


def attempts(ns: str, value: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every read tool with `value` in each identifier argument (the others valid and pointing at canaries)."""
    for tool, base in NAMED_READS:
        yield tool, {**base, "name": value, "namespace": ns}
        yield tool, {**base, "name": "canary-secret", "namespace": value}
    yield "k8s_pod_logs", {"name": "canary-pod", "namespace": ns, "container": value}
    for output in ("json", "yaml", "table", "names"):
        yield "k8s_resources_list", {"kind": "configmaps", "namespace": value, "output": output}
    yield "k8s_resources_list", {"kind": "pods", "namespace": ns, "label_selector": value, "output": "json"}
    yield "k8s_resources_list", {"kind": "pods", "namespace": ns, "field_selector": value, "output": "json"}
    yield "k8s_resources_list", {"kind": "configmaps", "namespace": ns, "continue_token": value, "output": "json"}
    yield "k8s_resources_list", {"kind": value, "namespace": ns, "output": "json"}
    yield "k8s_resources_list", {"kind": "configmaps", "namespace": ns, "api_version": value, "output": "json"}
    yield "k8s_resource_get", {"kind": value, "name": "canary-config", "namespace": ns}
    yield "k8s_resource_get", {"kind": "configmaps", "name": "canary-config", "namespace": ns, "context": value}
    yield "k8s_events_list", {"namespace": value}
    yield "k8s_events_list", {"namespace": ns, "name": value}
    yield "k8s_events_list", {"namespace": ns, "kind": value}
    yield "k8s_events_list", {"namespace": ns, "reason": value}
    yield "k8s_namespaces_list", {"label_selector": value}
    yield "k8s_namespaces_list", {"continue_token": value}
    yield "k8s_api_resources", {"search": value}
    yield "k8s_api_resources", {"group": value}
    yield "k8s_contexts_list", {"search": value}


_KINDS = {"configmaps": "ConfigMap", "pods": "Pod"}


def check_attempt(result: CallToolResult, tool: str, args: dict[str, Any]) -> None:
    """Refused with a clear error, or harmless: never a canary, never an object of another kind or name."""
    assert_no_leak(result, (tool, args))
    if result.is_error:
        text = error_text(result)
        assert text.startswith(f"Error executing tool {tool}: failed to "), (tool, args, text)  # a ToolError
        assert len(text) < 1500, (tool, args, text[:300])  # a hostile value is never echoed in full
        return
    out = result.structured_content or {}
    if tool in ("k8s_resource_get", "k8s_resource_describe"):
        assert out["kind"] == _KINDS.get(args["kind"], out["kind"]) and out["name"] == args["name"], (tool, args)
        obj = out.get("object") or {}
        assert obj.get("kind") in (None, out["kind"]), (tool, args)
    if tool == "k8s_resources_list":
        for item in out.get("items") or []:
            assert item.get("kind") != "Secret" or args["kind"] in ("secrets", "Secret"), (tool, args)


async def test_hand_picked_corpus(kubeconfig: str, api: Any, canaries: str) -> None:
    ns = canaries
    before = fingerprint(api, ns)
    count = 0
    async with Client(server()) as c:
        for value in hostile(ns):
            for tool, args in attempts(ns, value):
                check_attempt(await c.call_tool(tool, args), tool, args)
                count += 1
        # the old exploits, spelled out: each one is refused before any request and names the argument
        for tool, args, argument in [
            ("k8s_resource_get", {"kind": "configmaps", "name": "../secrets/canary-secret", "namespace": ns}, "name"),
            ("k8s_resource_get", {"kind": "pods", "name": "x/../../secrets/canary-secret", "namespace": ns}, "name"),
            (
                "k8s_resources_list",
                {"kind": "configmaps", "namespace": f"{ns}/secrets#", "output": "json"},
                "namespace",
            ),
            (
                "k8s_resources_list",
                {"kind": "configmaps", "namespace": f"{ns}/secrets?", "output": "yaml"},
                "namespace",
            ),
            ("k8s_pod_logs", {"name": "../secrets/canary-secret#", "namespace": ns}, "name"),
            ("k8s_pod_logs", {"name": "canary-pod", "namespace": ns, "container": "main&previous=true"}, "container"),
            ("k8s_rollout_status", {"name": f"../../../../api/v1/namespaces/{ns}/secrets/canary-secret#"}, "name"),
            ("k8s_events_list", {"namespace": ns, "reason": "x,involvedObject.kind=Secret "}, "reason"),
            ("k8s_resource_get", {"kind": "configmaps", "name": "canary-config\n", "namespace": ns}, "name"),
            ("k8s_resource_get", {"kind": "configmaps", "name": "canary-config", "namespace": f"{ns}\n"}, "namespace"),
        ]:
            err = error_text(await c.call_tool(tool, args))
            assert f"invalid {argument}" in err and "Invalid" in err, (tool, args, err)
    assert count == len(hostile(ns)) * len(list(attempts(ns, "x")))
    assert fingerprint(api, ns) == before


async def test_namespace_policy_cannot_be_walked_around(
    kubeconfig: str, canaries: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = canaries
    monkeypatch.setenv("BAM_K8S_ALLOWED_NAMESPACES", f"{ns}*")
    async with Client(server()) as c:
        for value in (f"{ns}/../kube-system", f"{ns}/../../api/v1/namespaces/kube-system", f"{ns}/../{ns}"):
            err = error_text(await c.call_tool("k8s_resources_list", {"kind": "configmaps", "namespace": value}))
            assert "invalid namespace" in err or "Forbidden by policy" in err, (value, err)
        err = error_text(await c.call_tool("k8s_resources_list", {"kind": "configmaps", "namespace": "kube-system"}))
        assert "Forbidden by policy" in err


# ---------------------------------------------------------------------------------------------------------
# generated corpus (Hypothesis)

_PIECES = st.sampled_from(
    [".", "..", "/", "\\", "%", "%2f", "%2F", "%2e", "%00", "#", "?", "&", "=", ";", "secrets", "canary-secret",
     "api", "v1", "namespaces", "log", " ", "\t", "\n", "\x00", "\u2215", "\uff0f", "\uff0e", "$(", ")", "`", "|",
     "*", "~", "'", '"', "<", ">", "{", "}", "a", "-", "0"]
)  # fmt: skip
PATH_LIKE = st.lists(_PIECES, min_size=1, max_size=12).map("".join)
SHELL_LIKE = st.text(alphabet=st.sampled_from(list("$`;|&<>(){}[]*?!~'\"\\ \n\t/.%#=,:@a-z0")), max_size=40)
ANY_TEXT = st.text(max_size=300)
HOSTILE = st.one_of(PATH_LIKE, SHELL_LIKE, ANY_TEXT)


@pytest.fixture(scope="module")
def portal_client(kubeconfig: str, canaries: str) -> Iterator[tuple[Any, Client]]:
    """One MCP client, driven from Hypothesis' synchronous examples through a blocking portal."""
    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(server())) as c,
    ):
        yield portal, c


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=HOSTILE, slot=st.integers(min_value=0, max_value=10_000))
def test_generated_corpus(portal_client: tuple[Any, Client], canaries: str, value: str, slot: int) -> None:
    portal, c = portal_client
    every = list(attempts(canaries, value))
    for tool, args in (every[slot % len(every)], every[(slot * 7 + 3) % len(every)]):
        check_attempt(portal.call(c.call_tool, tool, args), tool, args)


@settings(max_examples=400, deadline=None)
@given(
    namespace=st.one_of(st.none(), HOSTILE),
    name=st.one_of(st.none(), HOSTILE),
    group=st.sampled_from(["", "apps", "rbac.authorization.k8s.io"]),
)
def test_path_builder_segments_cannot_escape(namespace: str | None, name: str | None, group: str) -> None:
    """Any path the builder returns has exactly its segments, each decoding back to the validated input."""
    from urllib.parse import unquote

    from mcp.server.mcpserver.exceptions import ToolError

    plural = "roles" if group.startswith("rbac") else "configmaps"
    try:
        path = api_path(group, "v1", plural, namespace=namespace, name=name, kind="X")
    except ToolError as exc:
        assert "invalid" in str(exc)
        return
    parts = [unquote(p) for p in path.split("/")[1:]]
    want = (["apis", group] if group else ["api"]) + ["v1"]
    want += (["namespaces", namespace] if namespace is not None else []) + [plural]
    want += [name] if name is not None else []
    assert parts == want
    assert not {"", ".", ".."} & set(path.split("/")[1:]) and "?" not in path and "#" not in path


# ---------------------------------------------------------------------------------------------------------
# Secrets read directly, redaction by what was returned, reveal setting


async def test_secrets_read_by_kind_stay_redacted(kubeconfig: str, canaries: str) -> None:
    ns = canaries
    async with Client(server()) as c:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("k8s_resource_get", {"kind": "secret", "name": "canary-secret", "namespace": ns}),
            ("k8s_resource_get", {"kind": "v1/Secret", "name": "canary-applied", "namespace": ns, "output": "yaml"}),
            ("k8s_resource_describe", {"kind": "secrets", "name": "canary-applied", "namespace": ns}),
            ("k8s_resource_get", {"kind": "cm", "name": "canary-config", "namespace": ns}),
            ("k8s_resource_describe", {"kind": "pod", "name": "canary-pod", "namespace": ns}),
            ("k8s_resource_get", {"kind": "pod", "name": "canary-pod", "namespace": ns, "output": "yaml"}),
        ]
        for output in ("json", "yaml", "table", "names"):
            calls.append(("k8s_resources_list", {"kind": "secrets", "namespace": ns, "output": output}))
            calls.append(("k8s_resources_list", {"kind": "secrets", "all_namespaces": True, "output": output}))
            calls.append(("k8s_resources_list", {"kind": "configmaps", "namespace": ns, "output": output}))
            calls.append(("k8s_resources_list", {"kind": "pods", "namespace": ns, "output": output}))
        calls.append(("k8s_events_list", {"namespace": ns}))
        calls.append(("k8s_pod_logs", {"name": "canary-pod", "namespace": ns}))
        results = {json.dumps(args): await c.call_tool(tool, args) for tool, args in calls}
        for key, r in results.items():
            ok(r)
            assert_no_leak(r, key)
        got = ok(results[json.dumps(calls[0][1])])["object"]
        assert got["data"] == {"password": REDACTED, "api-token": REDACTED}
        applied = ok(results[json.dumps(calls[2][1])])
        assert applied["spec"]["data"] == {"key": REDACTED}
        cm = ok(results[json.dumps(calls[3][1])])["object"]
        assert cm["data"]["DB_PASSWORD"] == REDACTED and cm["data"]["plain"] == "hello"
        assert "name: x" in cm["data"]["bundle.yaml"] and REDACTED in cm["data"]["bundle.yaml"]
        embedded = json.loads(cm["metadata"]["annotations"]["example.com/manifest"])
        assert embedded["stringData"] == {"key": REDACTED}
        logs = ok(results[json.dumps(calls[-1][1])])["text"]
        assert '"name":"leaked"' in logs and REDACTED in logs and "serving" in logs


async def test_reveal_setting_relaxes_only_secrets(
    kubeconfig: str, canaries: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_K8S_REVEAL_SECRETS", "true")
    async with Client(server()) as c:
        got = ok(
            await c.call_tool("k8s_resource_get", {"kind": "secret", "name": "canary-secret", "namespace": canaries})
        )
    assert base64.b64decode(got["object"]["data"]["password"]).decode() == CANARIES["data"]


def test_redaction_follows_the_returned_kind() -> None:
    """Lists are redacted by the kind the server gave them: SecretList items, `List` of mixed kinds, kind-less."""
    secret = {"metadata": {"name": "s"}, "data": {"k": "c2VjcmV0"}, "stringData": {"k": "secret"}}
    for doc in (
        {"kind": "SecretList", "apiVersion": "v1", "items": [secret]},
        {
            "kind": "List",
            "apiVersion": "v1",
            "items": [{"kind": "ConfigMap", "data": {}}, {**secret, "kind": "Secret"}],
        },
        {"kind": "List", "apiVersion": "v1", "items": [secret]},
    ):
        out = json.dumps(redact_object(doc))
        assert "c2VjcmV0" not in out and '"secret"' not in out, doc
    cm = {"kind": "ConfigMapList", "items": [{"metadata": {"name": "c"}, "data": {"a": "1"}}]}
    assert redact_object(cm)["items"][0]["data"] == {"a": "1"}
    last = {
        "kind": "Pod",
        "metadata": {"annotations": {LAST_APPLIED: json.dumps({"kind": "Secret", "data": {"k": "c2VjcmV0"}})}},
    }
    assert "c2VjcmV0" not in json.dumps(redact_object(last))
    broken = {"kind": "Pod", "metadata": {"annotations": {"x": '{"kind": "Secret", "data": {"k": "c2VjcmV0"'}}}
    assert "c2VjcmV0" not in json.dumps(redact_object(broken))


# ---------------------------------------------------------------------------------------------------------
# apply: a change of a masked value is still a change


def settle_deployment(api: Any, ns: str, name: str) -> None:
    """Wait until the deployment controller has annotated and observed the new deployment."""
    import time

    from kubernetes import client

    apps: Any = client.AppsV1Api(api)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dep = apps.read_namespaced_deployment(name, ns)
        annotated = "deployment.kubernetes.io/revision" in (dep.metadata.annotations or {})
        if annotated and (dep.status.observed_generation or 0) >= dep.metadata.generation:
            time.sleep(0.5)
            return
        time.sleep(0.2)
    pytest.fail(f"deployment {name} was not observed by the controller")


async def test_apply_reports_masked_changes(kubeconfig: str, canaries: str, api: Any) -> None:
    ns = canaries
    name = f"masked-{TAG}"
    deployment = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 0
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      containers:
      - name: app
        image: busybox:local
        env:
        - {name: DB_PASSWORD, value: VALUE}
        - {name: DB_URL, value: "postgres://app:VALUE@db:5432/app"}
---
apiVersion: v1
kind: Secret
metadata: {name: NAME}
data: {token: TOKEN}
""".replace("NAME", name)

    def manifest(value: str) -> str:
        token = base64.b64encode(value.encode()).decode()
        return deployment.replace("VALUE", value).replace("TOKEN", token)

    first, second = f"first{TAG}", f"second{TAG}"
    async with Client(server(WRITES)) as c:
        ok(await c.call_tool("k8s_apply", {"manifest": manifest(first), "namespace": ns, "dry_run": False}))
        settle_deployment(api, ns, name)
        same = ok(await c.call_tool("k8s_apply", {"manifest": manifest(first), "namespace": ns}))
        assert [o["action"] for o in same["objects"]] == ["unchanged", "unchanged"]
        assert all(o["diff"] == "" for o in same["objects"])
        plan = await c.call_tool("k8s_apply", {"manifest": manifest(second), "namespace": ns})
        changed = ok(plan)
        assert [o["action"] for o in changed["objects"]] == ["configured", "configured"]
        dep_diff, secret_diff = (o["diff"] for o in changed["objects"])
        added = [line for line in dep_diff.splitlines() if line.startswith("+ ")]
        assert any(f"value: '{REDACTED} (changed)'" in line for line in added), dep_diff
        assert any(f"postgres://app:{REDACTED}@db:5432/app (changed)" in line for line in added), dep_diff
        assert f"+  token: '{REDACTED} (changed)'" in secret_diff, secret_diff
        out = output_of(plan)
        for value in (first, second):
            assert not [f for f in _forms(value) if f in out]


# ---------------------------------------------------------------------------------------------------------
# the answer must be the object asked for, and pass the policy by its own kind and namespace


async def test_returned_objects_are_checked(kubeconfig: str, canaries: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp.server.mcpserver.exceptions import ToolError

    from servers.kubernetes.client import resources
    from servers.kubernetes.common import allowed_returned, check_returned
    from servers.kubernetes.logs import _refuse_api_object
    from servers.kubernetes.settings import KubernetesSettings

    ns = canaries
    monkeypatch.setenv("BAM_K8S_DENIED_KINDS", "Secret")
    monkeypatch.setenv("BAM_K8S_DENIED_NAMESPACES", "kube-*")
    async with resources(KubernetesSettings()) as kube:
        cluster = await kube.cluster(None)
        configmaps = await kube.backend.run_sync(cluster.resolve, "configmaps")
        secret = await kube.backend.run_sync(cluster.request, "GET", f"/api/v1/namespaces/{ns}/secrets/canary-secret")
        with pytest.raises(ToolError, match="answered with Secret"):
            check_returned(kube, cluster, configmaps, secret, "canary-secret", ns, "get")
        other = {"kind": "ConfigMap", "metadata": {"name": "canary-config", "namespace": "kube-system"}}
        with pytest.raises(ToolError, match="answered with ConfigMap"):
            check_returned(kube, cluster, configmaps, other, "canary-config", ns, "get")
        assert not allowed_returned(kube, cluster, secret)
        assert not allowed_returned(kube, cluster, {**other, "metadata": {"name": "x", "namespace": "kube-system"}})
        assert allowed_returned(kube, cluster, {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"namespace": ns}})
        row = {"kind": "PartialObjectMetadata", "metadata": {"name": "s", "namespace": ns}}
        assert not allowed_returned(kube, cluster, row, await kube.backend.run_sync(cluster.resolve, "secrets"))
    with pytest.raises(ToolError, match="not log text"):
        _refuse_api_object(json.dumps(secret).encode(), "read logs")
    _refuse_api_object(b'{"level": "info", "msg": "kind of slow"}\n', "read logs")


async def test_write_tools_refuse_hostile_identifiers(kubeconfig: str, api: Any, canaries: str) -> None:
    """The same builder guards the writes: nothing is deleted, scaled or patched through a crafted name."""
    from mcp.server.mcpserver.exceptions import ToolError

    from servers.kubernetes.names import check_segment_name

    def invalid(value: str) -> bool:
        try:
            check_segment_name(value)
        except ToolError:
            return True
        return False

    ns = canaries
    before = fingerprint(api, ns)
    values = [v for v in hostile(ns) if invalid(v)]
    async with Client(server(WRITES)) as c:
        for value in values:
            manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": value}})
            writes: list[tuple[str, dict[str, Any]]] = [
                ("k8s_resource_delete", {"kind": "configmaps", "name": value, "namespace": ns}),
                ("k8s_resource_delete", {"kind": "secrets", "name": "canary-secret", "namespace": value}),
                ("k8s_scale", {"name": value, "replicas": 0, "namespace": ns}),
                ("k8s_rollout_restart", {"name": value, "namespace": ns}),
                ("k8s_rollout_undo", {"name": value, "namespace": ns}),
                ("k8s_node_cordon", {"node": value}),
                ("k8s_apply", {"manifest": manifest, "namespace": ns, "dry_run": False}),
                ("k8s_apply", {"manifest": manifest.replace(json.dumps(value), '"x"'), "namespace": value}),
            ]
            for tool, args in writes:
                result = await c.call_tool(tool, args)
                err = error_text(result)
                assert "invalid" in err or (value == "" and "lacks" in err), (tool, args, err)
                assert_no_leak(result, (tool, args))
    assert fingerprint(api, ns) == before
