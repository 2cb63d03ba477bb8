"""Every backend's outage, against one real server process: while calls run, the backend goes away and
comes back. During the outage each call ends in a tool error naming the target and /readyz answers 503
for that module; after it, /readyz answers 200 and the same session's calls succeed, without restarting
the server; and the server's threads, file descriptors and backend connections are back to what they
were before (nothing leaked by the failed calls).

The shared backends are never stopped. Docker and Kubernetes are reached through an `OutageProxy` in
front of the shared engine / API server: stopping the proxy is, from the server's side, exactly the
backend's process dying (refused connects, reset sockets). moto and the Redis Cluster are private
processes on free ports that the test kills and starts again. (PostgreSQL: test_transports.py.)
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import httpx2
import pytest
import yaml
from mcp import Client

from tests.chaos import PrivateProcess, PrivateRedisCluster, outage_proxy, process_fds, process_threads
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import backend_unavailable, error_text, free_port

pytestmark = pytest.mark.anyio

Call = tuple[str, dict[str, Any]]


@dataclass
class Outage:
    """One backend that `stop()` takes away and `start()` brings back."""

    module: str
    calls: list[Call]
    target: str
    """What the tool errors and /readyz must name (host:port of the backend as configured)."""
    stop: Callable[[], None]
    start: Callable[[], None]
    connections: Callable[[], int]
    """Open connections from the server to the backend (for the leak check)."""
    pool_bound: int
    """The most connections the module's client may keep to this backend (its pool / worker-thread bound):
    how many are open depends on how many calls overlapped, but a leak would exceed it."""
    max_call_s: float = 30.0
    """The longest a call may take during the outage (a stalled backend: the module's timeout, plus slack)."""


async def _wait_ready(h: httpx2.AsyncClient, module: str, want: int, timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    while True:
        r = await h.get("/readyz")
        if r.status_code == want:
            body: dict[str, Any] = r.json()["modules"][module]
            return body
        if time.monotonic() - start > timeout:
            pytest.fail(f"/readyz stayed {r.status_code} for {timeout}s: {r.text[:500]}")
        await anyio.sleep(0.2)


async def _burst(c: Client, calls: list[Call], rounds: int = 4) -> list[str]:
    """Run every call `rounds` times concurrently; the error texts of those that failed."""
    errors: list[str] = []

    async def one(name: str, args: dict[str, Any]) -> None:
        r = await c.call_tool(name, args)
        if r.is_error:
            errors.append(f"{name}: {error_text(r)}")

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for _ in range(rounds):
                for name, args in calls:
                    tg.start_soon(one, name, args)
    return errors


async def _settled(pid: int) -> tuple[int, int]:
    """(threads, fds) of the server once worker threads and sockets have settled."""
    await anyio.sleep(1.0)
    return process_threads(pid), process_fds(pid)


WORKER_IDLE_S = 10
"""anyio ends a worker thread idle this long when the next call into a thread is made (`to_thread`)."""


async def _after_idle_threads_expire(c: Client, calls: list[Call], pid: int) -> tuple[int, int]:
    """(threads, fds) once the worker threads the outage woke up are idle long enough to be ended.

    Calls that hung on a stalled backend each held a worker thread (up to the module's bound); afterwards
    those threads are idle, not leaked. One call at a time after the idle period lets anyio end them, so
    what is left is what a leak would leave: threads still blocked on something.
    """
    await anyio.sleep(WORKER_IDLE_S + 0.5)
    for name, args in calls:
        assert not (await c.call_tool(name, args)).is_error
    return await _settled(pid)


async def _calls_during(c: Client, calls: list[Call], seconds: float, errors: list[str], oks: list[str]) -> None:
    """Keep calling for `seconds` (the background load the outage hits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, args in calls:
            with anyio.fail_after(60):
                r = await c.call_tool(name, args)
            (errors if r.is_error else oks).append(f"{name}: {error_text(r)}" if r.is_error else name)
        await anyio.sleep(0.05)


async def run_outage(sp: ServerProcess, o: Outage) -> None:
    pid = sp.proc.pid
    async with httpx2.AsyncClient(base_url=sp.base, timeout=15) as h, Client(f"{sp.base}/mcp") as c:
        await _wait_ready(h, o.module, 200, 30)
        assert await _burst(c, o.calls) == []  # warm: pools, worker threads, clients exist
        threads0, fds0 = await _settled(pid)
        conns0 = o.connections()

        during: list[str] = []
        oks: list[str] = []
        async with anyio.create_task_group() as tg:  # calls are running when the backend goes away
            tg.start_soon(_calls_during, c, o.calls, 6.0, during, oks)
            await anyio.sleep(1.0)
            o.stop()
            down = await _wait_ready(h, o.module, 503, 20)
            assert down["status"] == "down" and down["required"] is True, down
            assert o.target in down["target"] + down["detail"], down
            t0 = time.monotonic()
            errs = await _burst(c, o.calls, rounds=2)
            took = time.monotonic() - t0
        assert took <= o.max_call_s, f"calls during the outage took {took:.1f}s (bound {o.max_call_s}s)"
        assert len(errs) == 2 * len(o.calls), errs  # every call during the outage is a tool error ...
        for e in errs + during:
            assert o.target in e, f"the error does not name {o.target}: {e}"  # ... naming the target
            assert "Traceback" not in e
        assert during, "no call ran into the outage"
        print(f"{o.module}: during the outage ({took:.1f}s): {errs[0][:400]}")

        o.start()
        up = await _wait_ready(h, o.module, 200, 60)
        assert up["status"] == "up", up
        recovered = await _recover(c, o.calls)  # same session, same server process
        print(f"{o.module}: recovered after {recovered:.2f}s; {len(during)} errors while down, {len(oks)} ok")
        assert await _burst(c, o.calls) == []
        threads1, fds1 = await _settled(pid)
        if threads1 > threads0 + 2:
            threads1, fds1 = await _after_idle_threads_expire(c, o.calls, pid)
        conns1 = o.connections()
    print(f"{o.module}: threads {threads0}->{threads1}, fds {fds0}->{fds1}, backend connections {conns0}->{conns1}")
    assert threads1 <= threads0 + 2, f"threads grew {threads0} -> {threads1}"
    assert conns1 <= o.pool_bound, f"backend connections {conns0} -> {conns1}, above the pool's {o.pool_bound}"
    assert fds1 <= fds0 + max(0, conns1 - conns0) + 2, f"file descriptors grew {fds0} -> {fds1}"
    assert sp.proc.poll() is None, "the server exited"
    assert "Traceback" not in sp.log()


async def _recover(c: Client, calls: list[Call]) -> float:
    """Seconds until every call succeeds again (at most 30)."""
    start = time.monotonic()
    while True:
        errs = await _burst(c, calls, rounds=1)
        if not errs:
            return time.monotonic() - start
        if time.monotonic() - start > 30:
            pytest.fail(f"calls did not recover: {errs}")
        await anyio.sleep(0.5)


def _server(module: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    sp = start_server("--transport", "http", "--servers", module, "--toolsets", "all", env=env)
    try:
        yield sp
    finally:
        stop_server(sp)


# --- Docker: a proxy in front of the shared engine's socket ------------------------------------------------


STALL_TIMEOUT_S = 3
"""The request timeout the server gets in the stalled-backend cases (the modules' own settings)."""


@pytest.mark.parametrize("kind", ["refused", "stalled"])
async def test_docker_engine_outage(docker_host: str, kind: str) -> None:
    sock = docker_host.removeprefix("unix://")
    if not docker_host.startswith("unix://"):
        backend_unavailable("Docker engine on a unix socket", docker_host)
    with outage_proxy(f"unix://{sock}") as proxy:
        env = {"DOCKER_HOST": f"tcp://{proxy.address}", "BAM_DOCKER_TIMEOUT_S": str(STALL_TIMEOUT_S)}
        for sp in _server("docker", env):
            calls: list[Call] = [("docker_containers_list", {}), ("docker_images_list", {})]
            stop = proxy.down if kind == "refused" else proxy.hang
            o = Outage("docker", calls, proxy.address, stop, proxy.up, lambda: proxy.open_connections, 9)
            o.max_call_s = 2 * STALL_TIMEOUT_S + 2
            await run_outage(sp, o)


# --- Kubernetes: a TLS-passthrough proxy in front of the shared kube-apiserver -----------------------------


def _kubeconfig_through(kubeconfig: str, address: str, directory: str) -> str:
    with open(kubeconfig) as f:
        cfg = yaml.safe_load(f)
    for cluster in cfg["clusters"]:
        cluster["cluster"]["server"] = f"https://{address}"  # the apiserver's certificate names 127.0.0.1
    path = os.path.join(directory, "kubeconfig")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    return path


@pytest.mark.parametrize("kind", ["refused", "stalled"])
async def test_kubernetes_apiserver_outage(kubeconfig: str, tmp_path: Any, kind: str) -> None:
    with open(kubeconfig) as f:
        server = yaml.safe_load(f)["clusters"][0]["cluster"]["server"]
    upstream = server.replace("https://", "tcp://")
    with outage_proxy(upstream) as proxy:
        env = {
            "KUBECONFIG": _kubeconfig_through(kubeconfig, proxy.address, str(tmp_path)),
            "BAM_K8S_REQUEST_TIMEOUT_S": str(STALL_TIMEOUT_S),
        }
        for sp in _server("kubernetes", env):
            calls: list[Call] = [
                ("k8s_namespaces_list", {}),
                ("k8s_resources_list", {"kind": "ConfigMap", "namespace": "default"}),
            ]
            stop = proxy.down if kind == "refused" else proxy.hang
            o = Outage("kubernetes", calls, proxy.address, stop, proxy.up, lambda: proxy.open_connections, 9)
            o.max_call_s = 2 * STALL_TIMEOUT_S + 2
            await run_outage(sp, o)


# --- AWS: a private moto_server process, killed and started again on the same port -------------------------


def _http_ok(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1).status_code < 500
    except httpx2.TransportError:
        return False


def _tcp_connections(port: int) -> int:
    """Established loopback TCP connections to `port` (from /proc/net/tcp)."""
    want = f":{port:04X}"
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[2].endswith(want) and parts[3] == "01":  # remote address = the backend, ESTABLISHED
                n += 1
    return n


async def test_moto_outage(aws_endpoint: str) -> None:
    moto = shutil.which("moto_server", path=os.path.dirname(sys.executable))
    if moto is None:
        backend_unavailable("moto_server (pip install 'moto[server]')", "not on the interpreter's path")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    p = PrivateProcess([moto, "-H", "127.0.0.1", "-p", str(port)], lambda: _http_ok(f"{endpoint}/moto-api/"))
    p.start()
    try:
        for sp in _server("aws", {"AWS_ENDPOINT_URL": endpoint, "BAM_AWS_ENDPOINT_URL": endpoint}):
            calls: list[Call] = [("aws_s3_buckets_list", {}), ("aws_caller_identity", {})]
            await run_outage(
                sp, Outage("aws", calls, f"127.0.0.1:{port}", p.kill, p.start, lambda: _tcp_connections(port), 10)
            )
    finally:
        p.kill()


# --- Redis Cluster: a private 3-primary cluster; one primary is killed and restarted ----------------------


async def test_redis_cluster_node_outage(redis_url: str) -> None:
    rc = PrivateRedisCluster()
    rc.start()
    victim = rc.ports[1]  # a primary that is not the seed node
    node = rc.nodes[victim]
    try:
        env = {"REDIS_CLUSTER_NODES": f"127.0.0.1:{rc.ports[0]}", "REDIS_URL": f"redis://127.0.0.1:{rc.ports[0]}/0"}
        for sp in _server("redis", env):
            calls: list[Call] = [  # calls that need the victim: a scan visits every primary; INFO of that node
                ("redis_keys_scan", {"pattern": "x*"}),
                ("redis_info", {"sections": ["server"], "node": f"127.0.0.1:{victim}"}),
            ]

            def restart() -> None:
                node.start()
                rc.wait_ok()

            await run_outage(
                sp, Outage("redis", calls, f"127.0.0.1:{victim}", node.kill, restart, rc.client_count, 3 * 8)
            )
    finally:
        rc.close()
