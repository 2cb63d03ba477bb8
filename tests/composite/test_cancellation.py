"""Cancellation reaches the backend: a client that cancels a call (notifications/cancelled, stdio or HTTP)
or walks away from its HTTP request leaves no work running on PostgreSQL, Redis, Docker, CloudWatch Logs
or Kubernetes, and the pooled connection is clean for the next caller."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client

from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.composite.rawhttp import RawSession, pg_active, within
from tests.conftest import ok

pytestmark = pytest.mark.anyio

SLEEP_SQL = "SELECT pg_sleep(30) AS slept, '{marker}' AS marker"


async def _cancel_pg_calls(c: Client) -> None:
    """pg_query and pg_explain(analyze) of a 30 s sleep, each cancelled after 1 s: no backend runs on."""
    for tool, extra in (("pg_query", {}), ("pg_explain", {"analyze": True})):
        marker = uuid.uuid4().hex
        with anyio.move_on_after(1.0):
            await c.call_tool(tool, {"sql": SLEEP_SQL.format(marker=marker), **extra})
            raise AssertionError(f"{tool} of pg_sleep(30) answered within 1 s")
        took = await within(2.0, lambda m=marker: _none_active(m))  # type: ignore[misc]
        assert took < 2.0
        # the pooled connection is clean: a plain read works, with the server's default settings
        data = ok(await c.call_tool("pg_query", {"sql": "SELECT current_setting('transaction_read_only') AS ro"}))
        assert data["rows"] == [{"ro": "on"}]


async def _none_active(marker: str) -> bool:
    return await pg_active(marker) == 0


async def test_pg_cancel_over_stdio_stops_the_backend(database_url: str) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "composite", "serve", "--servers", "postgres"], env=dict(os.environ)
    )
    async with Client(params) as c:
        await _cancel_pg_calls(c)


async def test_pg_cancel_over_http_stops_the_backend(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres")
    try:
        async with Client(f"{sp.base}/mcp") as c:  # the SDK client sends notifications/cancelled
            await _cancel_pg_calls(c)
    finally:
        stop_server(sp)


async def test_pg_cancel_and_disconnect_over_legacy_sse(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres")
    try:
        async with Client(sse_client(f"{sp.base}/sse")) as c:  # notifications/cancelled via /messages/
            await _cancel_pg_calls(c)
        marker = uuid.uuid4().hex
        with anyio.move_on_after(3.0):  # the client closes its SSE stream mid-call
            async with Client(sse_client(f"{sp.base}/sse")) as c:
                await c.call_tool("pg_query", {"sql": SLEEP_SQL.format(marker=marker)})
        assert await within(2.0, lambda: _none_active(marker)) < 2.0
    finally:
        stop_server(sp)


MODES = {
    "stateful-sse": (),
    "stateful-json": ("--json-response",),
    "stateless-sse": ("--stateless",),
    "stateless-json": ("--stateless", "--json-response"),
}


@pytest.mark.parametrize("mode", list(MODES))
async def test_http_disconnect_cancels_the_query(database_url: str, mode: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", *MODES[mode])
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            marker = uuid.uuid4().hex
            left = anyio.Event()

            async def leave() -> None:
                await s.call_and_leave("pg_query", {"sql": SLEEP_SQL.format(marker=marker)}, after=3.0)
                left.set()

            async with anyio.create_task_group() as tg:
                tg.start_soon(leave)
                await within(2.9, lambda: _active(marker))  # it did run on the server
            assert left.is_set()
            assert await within(2.0, lambda: _none_active(marker)) < 2.0
            body = await s.call("pg_query", {"sql": "SELECT 41 + 1 AS answer"})
            assert '\\"answer\\":42' in body or '"answer":42' in body
        assert "Traceback" not in sp.log()
    finally:
        stop_server(sp)


async def _active(marker: str) -> bool:
    return await pg_active(marker) == 1


# ------------------------------------------------------------------------------------------------ redis


async def test_redis_subscribe_cancelled_on_disconnect(redis_url: str) -> None:
    import redis.asyncio as aioredis

    channel = f"bam-cancel-{uuid.uuid4().hex}"
    name = channel  # our own client name: other servers on the shared Redis do not count
    sp = start_server(
        "--transport", "http", "--servers", "redis", "--toolsets", "all", env={"BAM_REDIS_CLIENT_NAME": name}
    )
    r = aioredis.from_url(redis_url)
    try:

        async def subscribers() -> int:
            got = await r.pubsub_numsub(channel)
            return int(got[0][1])

        async def ours_subscribed() -> int:
            return sum(1 for c in await r.client_list() if c.get("name") == name and c.get("sub") != "0")

        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            async with anyio.create_task_group() as tg:
                tg.start_soon(s.call_and_leave, "redis_subscribe", {"channels": [channel], "timeout_s": 30}, 3.0)
                await within(2.9, lambda: _eq(subscribers, 1))
                assert await ours_subscribed() == 1
            assert await within(2.0, lambda: _eq(subscribers, 0)) < 2.0
            assert await ours_subscribed() == 0  # the subscriber connection is closed, not pooled
            body = await s.call("redis_key_get", {"key": channel})
            assert 'isError":true' not in body.replace(" ", "")
    finally:
        await r.aclose()
        stop_server(sp)


async def _eq(fn: Any, want: int) -> bool:
    return bool(await fn() == want)


# ----------------------------------------------------------------------------------------------- docker

DOCKER_ADMIN = (
    "--transport",
    "http",
    "--servers",
    "docker",
    "--toolsets",
    "all",
    "--allow-writes",
    "docker",
    "--allow-admin",
    "docker",
)


def _top_has(container: Any, needle: str) -> bool:
    procs = container.top(ps_args="-eo pid,args").get("Processes") or []
    return any(needle in " ".join(p) for p in procs)


async def test_docker_exec_killed_when_the_client_leaves(sleeper: Any) -> None:
    sp = start_server(*DOCKER_ADMIN)
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            args = {"container": sleeper.name, "command": ["sh", "-c", "sleep 37; echo never"]}

            async def running() -> bool:
                return await anyio.to_thread.run_sync(_top_has, sleeper, "sleep 37")

            async def gone() -> bool:
                return not await running()

            async with anyio.create_task_group() as tg:
                tg.start_soon(s.call_and_leave, "docker_container_exec", args, 3.0)
                await within(2.9, running)
            assert await within(2.0, gone) < 2.0  # `docker top`: the exec'd shell and its child are killed
            body = await s.call("docker_container_exec", {"container": sleeper.name, "command": ["echo", "next"]})
            assert "next" in body
    finally:
        stop_server(sp)


async def test_docker_build_stopped_when_the_client_leaves(docker_host: str) -> None:
    import docker

    client = docker.from_env()
    uid = "bamt" + uuid.uuid4().hex[:10]
    image = os.environ.get("MCP_TEST_IMAGE", "busybox:local")
    sp = start_server(*DOCKER_ADMIN)

    def build_containers() -> list[Any]:
        found = []
        for c in client.containers.list():
            with contextlib.suppress(Exception):
                if _top_has(c, f"sleep 33 # {uid}") or _top_has(c, "sleep 33"):
                    found.append(c)
        return found

    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            args = {"dockerfile": f"FROM {image}\nRUN echo {uid} && sleep 33\n", "tag": f"{uid}:cancelled"}

            async def running() -> bool:
                return bool(await anyio.to_thread.run_sync(build_containers))

            async def gone() -> bool:
                return not await running()

            async with anyio.create_task_group() as tg:
                tg.start_soon(s.call_and_leave, "docker_image_build", args, 6.0)
                await within(5.9, running)
            assert await within(5.0, gone) < 5.0  # the engine cancelled the build and removed its container
        assert not client.images.list(name=uid)
    finally:
        stop_server(sp)
        client.close()


# ---------------------------------------------------------------------------------------------- aws logs


class _InsightsProxy:
    """A loopback proxy to moto that holds Logs Insights queries `Running` and records StopQuery.

    moto finishes a query inside StartQuery and does not implement StopQuery, so a query never runs long
    enough to be cancelled there; every other request is forwarded to moto unchanged.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.stopped: list[str] = []
        self.polls = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                target = self.headers.get("x-amz-target") or ""
                if target.endswith(".StopQuery"):
                    proxy.stopped.append(json.loads(body)["queryId"])
                    return self._send(200, b'{"success": true}', "application/x-amz-json-1.1")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = httpx2.post(proxy.upstream + self.path, content=body, headers=headers, timeout=30)
                data = r.content
                if target.endswith(".GetQueryResults"):
                    proxy.polls += 1
                    doc = json.loads(data)
                    doc["status"] = "Running"
                    data = json.dumps(doc).encode()
                self._send(r.status_code, data, r.headers.get("content-type", "application/json"))

            def _send(self, status: int, data: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def insights(aws_endpoint: str) -> Iterator[tuple[_InsightsProxy, str]]:
    import boto3

    logs = boto3.client("logs", endpoint_url=aws_endpoint)
    group = f"/bam/cancel-{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=group)
    proxy = _InsightsProxy(aws_endpoint)
    try:
        yield proxy, group
    finally:
        proxy.close()
        logs.delete_log_group(logGroupName=group)


async def test_insights_query_stopped_on_cancel_and_on_timeout(insights: tuple[_InsightsProxy, str]) -> None:
    proxy, group = insights
    sp = start_server("--transport", "http", "--servers", "aws", env={"AWS_ENDPOINT_URL": proxy.url})
    try:
        async with Client(f"{sp.base}/mcp") as c:
            args = {"groups": [group], "query": "fields @message", "timeout_s": 60}
            with anyio.move_on_after(2.0):
                await c.call_tool("aws_logs_insights_query", args)
                raise AssertionError("the held query answered")
            assert proxy.polls >= 1

            async def stopped() -> bool:
                return len(proxy.stopped) == 1

            assert await within(2.0, stopped) < 2.0  # StopQuery was sent for the cancelled query
            # the per-call timeout stops the query the same way, and answers with what it has
            out = ok(await c.call_tool("aws_logs_insights_query", {**args, "timeout_s": 1}))
            assert out["status"] == "Timeout" and out["truncated"] is True
            assert len(proxy.stopped) == 2 and proxy.stopped[1] == out["query_id"] != proxy.stopped[0]
    finally:
        stop_server(sp)


# -------------------------------------------------------------------------------------------- kubernetes


@pytest.fixture
def paused_deployment(kubeconfig: str) -> Iterator[tuple[str, str]]:
    """A paused deployment in a fresh namespace: its rollout never completes."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kubeconfig)  # type: ignore[no-untyped-call]
    core: Any = client.CoreV1Api(api)
    apps: Any = client.AppsV1Api(api)
    ns = f"bam-cancel-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"bam-test": "true"}}})
    labels = {"app": "paused"}
    apps.create_namespaced_deployment(
        ns,
        {
            "metadata": {"name": "paused"},
            "spec": {
                "paused": True,
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox:local"}]},
                },
            },
        },
    )
    try:
        yield ns, "paused"
    finally:
        core.delete_namespace(ns)
        api.close()


async def _kube_threads_in_use(sp: ServerProcess) -> float:
    async with httpx2.AsyncClient(base_url=sp.base) as h:
        text = (await h.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith('bam_worker_threads{module="kubernetes",state="in_use"}'):
            return float(line.split()[-1])
    raise AssertionError("no kubernetes thread gauge in /metrics")


async def test_k8s_rollout_wait_stopped_when_the_client_leaves(paused_deployment: tuple[str, str]) -> None:
    ns, name = paused_deployment
    sp = start_server("--transport", "http", "--servers", "kubernetes")
    try:
        async with httpx2.AsyncClient(base_url=sp.base, timeout=60) as http:
            s = await RawSession(http).open()
            args = {"name": name, "namespace": ns, "wait_seconds": 60}
            t0 = time.monotonic()
            await s.call_and_leave("k8s_rollout_status", args, 2.0)

            async def logged() -> bool:
                return '"tool":"k8s_rollout_status"' in sp.log()

            await within(2.0, logged)  # the call ended (its log line is written when it returns)
            line = next(x for x in sp.log().splitlines() if '"tool":"k8s_rollout_status"' in x)
            assert json.loads(line)["ms"] < 4_000 and time.monotonic() - t0 < 4.5
            assert await _kube_threads_in_use(sp) == 0
            body = await s.call("k8s_rollout_status", {**args, "wait_seconds": 0})
            assert "updated" in body
    finally:
        stop_server(sp)
