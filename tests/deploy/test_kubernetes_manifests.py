"""deploy/kubernetes: every manifest passes a server-side dry run on the test API server, and the server,
run with the in-cluster configuration of its ServiceAccount (token and CA files as a pod sees them), can use
the read tools while RBAC refuses writes and Secrets with a clear 403."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from mcp import Client

from servers.kubernetes.client import Cluster, KubeApiError
from servers.kubernetes.settings import KubernetesSettings
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
APP = "backend-architect-mcp"
READ_VERBS = {"get", "list", "watch"}
LOG_LINE = "served GET /orders in 12 ms"


def manifest_files() -> list[Path]:
    """The kustomization's resources, then the optional and example manifests: every file in the folder."""
    listed = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["resources"]
    rest = sorted(p.name for p in MANIFESTS.glob("*.yaml") if p.name not in listed and p.name != "kustomization.yaml")
    return [MANIFESTS / n for n in [*listed, *rest]]


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def all_docs() -> list[dict[str, Any]]:
    return [d for p in manifest_files() for d in docs(p)]


@pytest.fixture(scope="module")
def admin(kubeconfig: str) -> Iterator[Cluster]:
    """The admin context of the test cluster, through the module's own API client."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg, persist_config=False)  # type: ignore[no-untyped-call]
    api = client.ApiClient(configuration=cfg)
    try:
        yield Cluster("admin", api, "default", KubernetesSettings())
    finally:
        api.close()  # type: ignore[no-untyped-call]


@pytest.fixture(scope="module")
def namespace(admin: Cluster) -> Iterator[str]:
    name = f"bam-deploy-{uuid.uuid4().hex[:8]}"
    admin.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name, "labels": {"bam-test": "true"}}})
    try:
        yield name
    finally:
        admin.request("DELETE", f"/api/v1/namespaces/{name}")


def retarget(doc: dict[str, Any], namespace: str, namespaced: bool) -> dict[str, Any]:
    """Place a manifest in the test namespace; cluster-scoped RBAC names get the namespace as suffix."""
    doc = json.loads(json.dumps(doc))
    meta = doc["metadata"]
    if namespaced:
        meta["namespace"] = namespace
    elif doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
        meta["name"] = f"{meta['name']}-{namespace}"
    if doc["kind"] in ("RoleBinding", "ClusterRoleBinding"):
        if doc["roleRef"]["kind"] == "ClusterRole":
            doc["roleRef"]["name"] = f"{doc['roleRef']['name']}-{namespace}"
        for s in doc["subjects"]:
            s["namespace"] = namespace
    return doc


def served_api_version(admin: Cluster, doc: dict[str, Any]) -> str:
    """The manifest's apiVersion, or for a PodDisruptionBudget on a server older than 1.21 the same spec
    under policy/v1beta1 (the only downgrade allowed; pdb.yaml documents it)."""
    served = {(r.api_version, r.kind) for r in admin.resources()}
    want = doc["apiVersion"]
    if (want, doc["kind"]) in served:
        return str(want)
    if doc["kind"] == "PodDisruptionBudget" and ("policy/v1beta1", "PodDisruptionBudget") in served:
        return "policy/v1beta1"
    pytest.fail(f"{doc['kind']} {want} is not served by the test API server")


def apply(admin: Cluster, doc: dict[str, Any], namespace: str, *, dry_run: bool) -> dict[str, Any]:
    """Server-side apply (optionally a dry run) of one manifest, retargeted to the test namespace."""
    version = served_api_version(admin, doc)
    res = admin.resolve(doc["kind"], version)
    body = retarget({**doc, "apiVersion": version}, namespace, res.namespaced)
    query = {"fieldManager": "bam-deploy-test", "force": True, "dryRun": "All" if dry_run else None}
    path = res.path(name=body["metadata"]["name"], namespace=body["metadata"].get("namespace"))
    out: dict[str, Any] = admin.request(
        "PATCH", path, body=json.dumps(body), content_type="application/apply-patch+yaml", query=query
    )
    return out


def test_every_manifest_passes_a_server_side_dry_run(admin: Cluster, namespace: str) -> None:
    results = {(d["kind"], d["metadata"]["name"]): apply(admin, d, namespace, dry_run=True) for d in all_docs()}
    kinds = {k for k, _ in results}
    assert kinds >= {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "NetworkPolicy",
    }
    # a dry run persists nothing
    with pytest.raises(KubeApiError) as missing:
        admin.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{APP}")
    assert missing.value.status == 404
    # what the API server kept (it drops unknown fields) still carries every hardening setting
    dep = results[("Deployment", APP)]
    assert dep["spec"]["replicas"] == 2
    pod = dep["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == APP and pod["securityContext"]["runAsNonRoot"] is True
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert set(c["resources"]["requests"]) == {"cpu", "memory"} and set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert {v["mountPath"] for v in c["volumeMounts"]} == {"/tmp"}
    assert {e.get("secretRef", {}).get("name") for e in c["envFrom"]} >= {APP}
    assert results[("PodDisruptionBudget", APP)]["spec"]["minAvailable"] == 1


def test_read_cluster_role_is_read_only_without_secrets() -> None:
    (role,) = [d for d in all_docs() if d["kind"] == "ClusterRole"]
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= READ_VERBS, rule
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"], rule
    core = next(r for r in role["rules"] if r["apiGroups"] == [""])
    assert {"pods", "pods/log", "events", "namespaces"} <= set(core["resources"])


# -- in-cluster: the server with the ServiceAccount's token ----------------------------------------------


def service_account_dir(admin: Cluster, kubeconfig: str, namespace: str) -> str:
    """token, ca.crt and namespace files as the kubelet mounts them (token from the TokenRequest API)."""
    req = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}}
    token = admin.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{APP}/token", body=req)
    kc = yaml.safe_load(Path(kubeconfig).read_text())
    ca = kc["clusters"][0]["cluster"]["certificate-authority"]
    d = tempfile.mkdtemp(prefix="bam-sa-")
    Path(d, "token").write_text(token["status"]["token"])
    Path(d, "ca.crt").write_bytes(Path(ca).read_bytes())
    Path(d, "namespace").write_text(namespace)
    return d


def run_logger_pod(admin: Cluster, namespace: str) -> None:
    """A pod whose logs the fake kubelet serves (its annotation), Running before the tests read it."""
    pod = {
        "metadata": {"name": "logger", "annotations": {"fake-kubelet/logs": f"{LOG_LINE}\n"}},
        "spec": {"containers": [{"name": "main", "image": "busybox:local"}]},
    }
    admin.request("POST", f"/api/v1/namespaces/{namespace}/pods", body=pod)
    deadline = time.monotonic() + 30
    while (
        admin.request("GET", f"/api/v1/namespaces/{namespace}/pods/logger").get("status", {}).get("phase") != "Running"
    ):
        assert time.monotonic() < deadline, "the fake kubelet did not start the pod"
        time.sleep(0.3)


def wait_for_rbac(server: str, sa_dir: str, path: str) -> None:
    """The authorizer sees a new binding within moments; wait until the token may read `path`."""
    import ssl

    import httpx2

    token = Path(sa_dir, "token").read_text()
    ca = ssl.create_default_context(cafile=str(Path(sa_dir, "ca.crt")))
    with httpx2.Client(verify=ca, headers={"Authorization": f"Bearer {token}"}) as h:
        deadline = time.monotonic() + 20
        while (code := h.get(f"{server}{path}", timeout=5).status_code) != 200:
            assert time.monotonic() < deadline, f"the ServiceAccount still gets {code} on {path}"
            time.sleep(0.3)


@pytest.fixture(scope="module")
def in_cluster(admin: Cluster, kubeconfig: str, namespace: str) -> Iterator[ServerProcess]:
    """SA + read ClusterRole + binding created for real; a Deployment to look at; the server as a pod runs it."""
    created = []
    for d in all_docs():
        if d["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
            created.append(apply(admin, d, namespace, dry_run=False))
    dep = next(d for d in all_docs() if d["kind"] == "Deployment")
    apply(admin, dep, namespace, dry_run=False)
    run_logger_pod(admin, namespace)
    sa_dir = service_account_dir(admin, kubeconfig, namespace)
    wait_for_rbac(admin.server, sa_dir, f"/apis/apps/v1/namespaces/{namespace}/deployments")
    server = urlsplit(admin.server)
    env = {
        "KUBECONFIG": os.path.join(sa_dir, "no-kubeconfig"),
        "KUBERNETES_SERVICE_HOST": server.hostname or "",
        "KUBERNETES_SERVICE_PORT": str(server.port or 443),
        "BAM_K8S_SERVICE_ACCOUNT_DIR": sa_dir,
        "BAM_K8S_DENIED_KINDS": "",
    }
    sp = start_server("--transport", "http", "--servers", "kubernetes", "--allow-writes", "kubernetes", env=env)
    try:
        yield sp
    finally:
        stop_server(sp)
        for obj in reversed(created):
            if obj["kind"] != "ServiceAccount":  # namespaced objects go with the namespace
                admin.request(
                    "DELETE", f"/apis/rbac.authorization.k8s.io/v1/{obj['kind'].lower()}s/{obj['metadata']['name']}"
                )


async def test_in_cluster_service_account_reads_and_is_refused_writes(
    in_cluster: ServerProcess, namespace: str
) -> None:
    async with Client(f"{in_cluster.base}/mcp") as c:
        ctx = ok(await c.call_tool("k8s_contexts_list", {}))
        assert "in-cluster" in json.dumps(ctx)
        args = {"kind": "deployments", "namespace": namespace, "output": "names"}
        assert ok(await c.call_tool("k8s_resources_list", args))["names"] == [APP]
        for kind in ("pods", "services", "configmaps", "events", "replicasets", "poddisruptionbudgets"):
            ok(await c.call_tool("k8s_resources_list", {"kind": kind, "namespace": namespace}))
        ok(await c.call_tool("k8s_resources_list", {"kind": "nodes"}))
        assert namespace in json.dumps(ok(await c.call_tool("k8s_namespaces_list", {})))
        ok(await c.call_tool("k8s_resource_describe", {"kind": "deployment", "name": APP, "namespace": namespace}))
        ok(await c.call_tool("k8s_events_list", {"namespace": namespace}))
        logs = ok(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": namespace}))
        assert LOG_LINE in json.dumps(logs)
        ok(await c.call_tool("k8s_rollout_status", {"kind": "deployment", "name": APP, "namespace": namespace}))
        # writes are exposed (--allow-writes kubernetes) but RBAC refuses them: the error names the 403
        scale = error_text(
            await c.call_tool("k8s_scale", {"kind": "deployment", "name": APP, "namespace": namespace, "replicas": 3})
        )
        assert "403" in scale and "Forbidden" in scale and f"system:serviceaccount:{namespace}:{APP}" in scale
        assert "kubectl auth can-i" in scale
        secrets = error_text(await c.call_tool("k8s_resources_list", {"kind": "secrets", "namespace": namespace}))
        assert "403" in secrets and "secrets" in secrets


def test_in_cluster_readiness_uses_the_service_account(in_cluster: ServerProcess) -> None:
    import httpx2

    deadline = time.monotonic() + 20
    while True:
        r = httpx2.get(f"{in_cluster.base}/readyz", timeout=10)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.status_code == 200, r.text
    assert r.json()["modules"]["kubernetes"]["status"] == "up"
