"""Threads are bounded per module: blocking SDK calls (docker, kubernetes, boto3) run in their module's own
pool (BAM_<MODULE>_MAX_THREADS), so a hung or saturated Docker engine delays neither PostgreSQL nor the
other thread-using modules."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


@contextlib.contextmanager
def stalled_endpoint() -> Iterator[int]:
    """A loopback TCP port that accepts connections and never answers (a hung engine)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(srv.accept()[0])

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        srv.close()


async def _threads(sp: ServerProcess, module: str) -> dict[str, float]:
    async with httpx2.AsyncClient(base_url=sp.base) as h:
        text = (await h.get("/metrics")).text
    out = {}
    for state in ("in_use", "limit"):
        key = f'bam_worker_threads{{module="{module}",state="{state}"}}'
        out[state] = next(float(x.split()[-1]) for x in text.splitlines() if x.startswith(key))
    return out


async def _timed(c: Client, tool: str, args: dict[str, Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    r = await c.call_tool(tool, args)
    return r, time.monotonic() - t0


async def test_hung_docker_engine_does_not_delay_postgres_or_aws(database_url: str, aws_endpoint: str) -> None:
    with stalled_endpoint() as port:
        env = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "BAM_DOCKER_TIMEOUT_S": "8", "BAM_DOCKER_MAX_THREADS": "2"}
        sp = start_server("--transport", "http", "--servers", "docker,postgres,aws", "--require", "none", env=env)
        try:
            async with Client(f"{sp.base}/mcp") as c:
                hung: list[Any] = []

                async def docker_call() -> None:
                    hung.append(await c.call_tool("docker_containers_list", {}))

                async with anyio.create_task_group() as tg:
                    for _ in range(2):
                        tg.start_soon(docker_call)
                    await anyio.sleep(1.0)  # every docker call is now stuck on the engine
                    assert not hung
                    assert (await _threads(sp, "docker"))["in_use"] <= 2
                    for _ in range(2):
                        r, took = await _timed(c, "pg_query", {"sql": "SELECT 1 AS one"})
                        assert ok(r)["rows"] == [{"one": 1}] and took < 2.5
                        r, took = await _timed(c, "aws_logs_groups_list", {"limit": 1})
                        ok(r)
                        assert took < 2.5
                    assert not hung  # still hung while the others answered
                # the hung calls end with the engine timeout, as tool errors naming the engine
                assert len(hung) == 2
                assert all(f"127.0.0.1:{port}" in error_text(r) or "timeout" in error_text(r) for r in hung)
        finally:
            stop_server(sp)


async def test_saturated_docker_pool_is_bounded_and_isolated(
    database_url: str, aws_endpoint: str, sleeper: Any
) -> None:
    box = sleeper
    args = ("--servers", "docker,postgres,aws", "--allow-writes", "docker", "--allow-admin", "docker")
    sp: ServerProcess | None = None
    try:
        sp = start_server("--transport", "http", *args, env={"BAM_DOCKER_MAX_THREADS": "2"})
        async with Client(f"{sp.base}/mcp") as c:
            assert (await _threads(sp, "docker"))["limit"] == 2
            done: list[float] = []

            async def slow_exec() -> None:
                ok(await c.call_tool("docker_container_exec", {"container": box.name, "command": ["sleep", "6"]}))
                done.append(time.monotonic())

            t0 = time.monotonic()
            async with anyio.create_task_group() as tg:
                for _ in range(4):
                    tg.start_soon(slow_exec)
                await anyio.sleep(1.0)
                assert (await _threads(sp, "docker"))["in_use"] == 2  # the pool is full, the rest wait for it
                r, took = await _timed(c, "pg_query", {"sql": "SELECT 1 AS one"})
                assert ok(r) and took < 2.5
                r, took = await _timed(c, "aws_logs_groups_list", {"limit": 1})  # boto3: its own pool
                assert ok(r) is not None and took < 2.5
                assert not done  # both answered while the first execs still held the docker pool
            # 4 execs of 6 s through 2 threads: two rounds
            assert sorted(d - t0 for d in done)[-1] >= 11.5
    finally:
        if sp is not None:
            stop_server(sp)
