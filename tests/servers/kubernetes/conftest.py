"""Fixtures of the kubernetes module tests: a raw API client, a unique namespace per module, a pod with
known logs (served by the fake kubelet), servers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from servers._common import ToolPolicy

WRITES = ToolPolicy(allow_writes=frozenset({"kubernetes"}))
LOG_LINES = [f"line {i} request served" for i in range(1, 41)] + ["connecting with password=hunter2 now"]


@pytest.fixture(scope="module")
def api(kubeconfig: str) -> Iterator[Any]:
    """The official client's ApiClient for test setup and cross-checks."""
    from kubernetes import config

    client = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def namespace(api: Any) -> Iterator[str]:
    """A fresh namespace for the test module, deleted at the end."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    name = f"bam-k8s-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"bam-test": "true"}}})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the service account controller must create `default` first
        if core.list_namespaced_service_account(name).items:
            break
        time.sleep(0.2)
    try:
        yield name
    finally:
        core.delete_namespace(name)


def server(policy: ToolPolicy | None = None) -> MCPServer[Any]:
    """A fresh standalone kubernetes server (settings are read from the environment at lifespan start)."""
    from servers.kubernetes import build_server

    return build_server(policy=policy or ToolPolicy())


def run_pod(api: Any, namespace: str, body: dict[str, Any]) -> None:
    """Create a pod and wait until the fake kubelet has bound it and marked it Running."""
    from kubernetes import client

    core: Any = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, body)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if core.read_namespaced_pod(body["metadata"]["name"], namespace).status.phase == "Running":
            return
        time.sleep(0.3)
    pytest.fail(f"the fake kubelet did not start pod {body['metadata']['name']}")


@pytest.fixture(scope="module")
def logger(api: Any, namespace: str) -> str:
    """Pod `logger` (containers main + sidecar, a secret-looking env var) whose logs are LOG_LINES; its namespace."""
    run_pod(
        api,
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
    return namespace
