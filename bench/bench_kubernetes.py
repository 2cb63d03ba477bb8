"""Listing pods: the raw kubernetes client vs. `k8s_resources_list` through the composite server in-process.

Run: `.venv/bin/python -m bench.bench_kubernetes` (needs KUBECONFIG pointing at a cluster with a fake or real
kubelet). Seeds a temporary namespace with 10 pods, measures all variants interleaved, deletes the namespace.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import anyio
from mcp import Client

from bench.common import measure, table, write

PODS = 10


def _seed(core: Any, ns: str) -> None:
    core.create_namespace({"metadata": {"name": ns}})
    deadline = time.monotonic() + 20
    while not core.list_namespaced_service_account(ns).items and time.monotonic() < deadline:
        time.sleep(0.2)
    for i in range(PODS):
        core.create_namespaced_pod(
            ns,
            {
                "metadata": {"name": f"p{i}", "labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:local"}]},
            },
        )


async def main() -> None:
    from kubernetes import client, config

    from composite.app import build
    from composite.settings import AppSettings

    api = config.new_client_from_config()  # type: ignore[no-untyped-call]
    core: Any = client.CoreV1Api(api)
    ns = f"bam-bench-{uuid.uuid4().hex[:6]}"
    await anyio.to_thread.run_sync(_seed, core, ns)
    try:
        app = build(AppSettings(servers="kubernetes"))
        async with Client(app.server) as c:

            async def raw_models() -> object:
                return await anyio.to_thread.run_sync(lambda: core.list_namespaced_pod(ns, limit=50))

            async def raw_json() -> object:
                def call() -> object:
                    resp = core.list_namespaced_pod(ns, limit=50, _preload_content=False)
                    return json.loads(resp.data)

                return await anyio.to_thread.run_sync(call)

            async def mcp_table() -> object:
                r = await c.call_tool("k8s_resources_list", {"kind": "pods", "namespace": ns, "limit": 50})
                assert not r.is_error and r.structured_content and r.structured_content["count"] == PODS
                return r

            async def mcp_json() -> object:
                r = await c.call_tool(
                    "k8s_resources_list", {"kind": "pods", "namespace": ns, "limit": 50, "output": "json"}
                )
                assert not r.is_error
                return r

            stats = await measure(
                {
                    "raw CoreV1Api.list_namespaced_pod (models)": raw_models,
                    "raw list_namespaced_pod (JSON, no models)": raw_json,
                    "composite k8s_resources_list (table)": mcp_table,
                    "composite k8s_resources_list (json)": mcp_json,
                },
                n=200,
                warmup=20,
            )
    finally:
        await anyio.to_thread.run_sync(core.delete_namespace, ns)
        api.close()
    notes = (
        f"{PODS} pods in one namespace, kube-apiserver 1.20 on loopback, 2-core box. Raw calls run in a worker "
        "thread as the server does. `table` asks the API server for its Table rendering (kubectl columns); `json` "
        "returns full objects with managedFields stripped and secrets redacted. All variants interleaved in one run."
    )
    text = table(
        "List pods: raw kubernetes client vs. composite MCP server (in-process)",
        stats,
        "raw CoreV1Api.list_namespaced_pod (models)",
        notes,
    )
    path = write("kubernetes", text)
    print(text)
    print(f"written to {path}")


if __name__ == "__main__":
    anyio.run(main)
