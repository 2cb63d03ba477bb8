"""k8s_pod_logs against the real API server and the fake kubelet: containers, tail, byte cap, timestamps,
and the logs of the previous (crashed) instance of a restarted container."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.kubernetes.conftest import LOG_LINES, run_pod, server

pytestmark = pytest.mark.anyio

CURRENT = "started again\nserving on :8080\n"
PREVIOUS = "booting\nloading config\npanic: cannot reach db with token=tok-crash-9f3e\nexit status 2\n"


@pytest.fixture(scope="module")
def crashed(api: Any, namespace: str) -> str:
    """Pod `crashy`: the fake kubelet reports its container restarted once and serves PREVIOUS as its old logs."""
    run_pod(
        api,
        namespace,
        {
            "metadata": {
                "name": "crashy",
                "annotations": {"fake-kubelet/logs": CURRENT, "fake-kubelet/previous-logs": PREVIOUS},
            },
            "spec": {"containers": [{"name": "app", "image": "busybox:local"}]},
        },
    )
    return namespace


async def test_pod_logs(kubeconfig: str, logger: str) -> None:
    ns = logger
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
        assert tail["container"] == "sidecar" and tail["lines"] == 2 and tail["notes"] == []
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
        assert stamped["lines"] == 1 and stamped["text"][:4].isdigit() and "T" in stamped["text"].split()[0]
        wrong = error_text(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": ns, "container": "nope"}))
        assert "containers: main, sidecar" in wrong
        missing = error_text(await c.call_tool("k8s_pod_logs", {"name": "ghost", "namespace": ns}))
        assert "404 NotFound" in missing


async def test_previous_instance_logs(kubeconfig: str, crashed: str) -> None:
    ns = crashed
    async with Client(server()) as c:
        desc = ok(await c.call_tool("k8s_resource_describe", {"kind": "pod", "name": "crashy", "namespace": ns}))
        assert desc["containers"][0]["restarts"] == 1 and desc["containers"][0]["state"].startswith("running")
        assert desc["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] == "Error"

        current = ok(await c.call_tool("k8s_pod_logs", {"name": "crashy", "namespace": ns}))
        assert current["text"] == CURRENT and current["container"] == "app" and current["notes"] == []

        prev = ok(await c.call_tool("k8s_pod_logs", {"name": "crashy", "namespace": ns, "previous": True}))
        assert prev["container"] == "app" and prev["lines"] == 4 and not prev["truncated"]
        assert prev["text"].startswith("booting\n") and prev["text"].endswith("exit status 2\n")
        assert "tok-crash-9f3e" not in prev["text"] and "token=***REDACTED***" in prev["text"]

        last = ok(
            await c.call_tool(
                "k8s_pod_logs",
                {"name": "crashy", "namespace": ns, "previous": True, "tail_lines": 1, "timestamps": True},
            )
        )
        assert last["lines"] == 1 and last["text"].rstrip("\n").endswith(" exit status 2")


async def test_previous_of_a_container_that_never_restarted(kubeconfig: str, logger: str) -> None:
    async with Client(server()) as c:
        err = error_text(await c.call_tool("k8s_pod_logs", {"name": "logger", "namespace": logger, "previous": True}))
    assert "400" in err and 'previous terminated container "main"' in err
    assert "`previous` needs a restarted container" in err
