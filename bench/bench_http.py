"""Streamable HTTP throughput: pg_query vs. the SDK's no-op floor, 32 concurrent clients, one process each.

Servers (subprocesses on loopback ports, stateless with JSON responses):
- the SDK floor: a minimal MCPServer with a no-op tool (bench/floor_server.py);
- ours, one process: `serve --transport http --servers postgres --stateless --json-response`;
- ours, `--workers 2` (several processes on one port).
The load is raw JSON-RPC `tools/call` POSTs from 32 concurrent tasks sharing one HTTP/1.1 connection pool,
in rounds that alternate between the servers (noise hits all alike). Server CPU per call is read from
/proc/<pid>/stat of the server process (and its worker processes).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from typing import Any

import anyio
import httpx2
import orjson

from bench.common import cpu_seconds, write

CLIENTS = int(os.environ.get("BENCH_HTTP_CLIENTS", "32"))
CALLS_PER_ROUND = int(os.environ.get("BENCH_HTTP_CALLS", "640"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "4"))
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn's worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _cpu(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


class Server:
    def __init__(self, name: str, argv: list[str], tool: str, args: dict[str, Any]) -> None:
        self.name, self.port = name, _port()
        self.proc = subprocess.Popen(
            [sys.executable, *[a.replace("{port}", str(self.port)) for a in argv]],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}
        self.body = orjson.dumps(body)
        self.calls, self.seconds, self.cpu = 0, 0.0, 0.0

    def wait_ready(self) -> None:
        for _ in range(600):
            try:
                r = httpx2.post(self.url, content=self.body, headers=HEADERS, timeout=2)
                if r.status_code == 200 and b'"isError":false' in r.content:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _burst(client: httpx2.AsyncClient, s: Server, calls: int) -> None:
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            r = await client.post(s.url, content=s.body, headers=HEADERS)
            if r.status_code != 200 or b'"isError":false' not in r.content:
                raise RuntimeError(f"{s.name}: {r.status_code} {r.text[:300]}")

    async with anyio.create_task_group() as tg:
        for _ in range(CLIENTS):
            tg.start_soon(worker)


async def run() -> list[Server]:
    py_noop = ["-m", "bench.floor_server", "--http", "{port}"]
    ours = ["-m", "composite", "serve", "--transport", "http", "--port", "{port}", "--servers", "postgres"]
    ours += ["--stateless", "--json-response", "--log-level", "WARNING"]
    servers = [
        Server("SDK floor: no-op tool", py_noop, "noop", {}),
        Server("ours pg_query SELECT 1", ours, "pg_query", {"sql": "SELECT 1"}),
        Server("ours pg_query SELECT 1, --workers 2", [*ours, "--workers", "2"], "pg_query", {"sql": "SELECT 1"}),
    ]
    try:
        for s in servers:
            s.wait_ready()
        limits = httpx2.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
        async with httpx2.AsyncClient(limits=limits, timeout=60) as client:
            for s in servers:
                await _burst(client, s, CLIENTS * 4)  # warm up pools and caches
            for _ in range(ROUNDS):
                for s in servers:
                    cpu0, t0 = _cpu(s.proc.pid), time.perf_counter()
                    await _burst(client, s, CALLS_PER_ROUND)
                    s.seconds += time.perf_counter() - t0
                    s.cpu += _cpu(s.proc.pid) - cpu0
                    s.calls += CALLS_PER_ROUND
    finally:
        for s in servers:
            s.stop()
    return servers


def report(servers: list[Server]) -> str:
    floor = servers[0]
    rate = {s.name: s.calls / s.seconds for s in servers}
    cpu = {s.name: s.cpu / s.calls * 1e6 for s in servers}
    lines = [
        f"## Streamable HTTP, {CLIENTS} concurrent clients, stateless JSON responses (one run, alternating rounds)",
        "",
        "| server | calls | calls/s | vs floor | server CPU per call (µs) | vs floor |",
        "|---|---|---|---|---|---|",
    ]
    for s in servers:
        lines.append(
            f"| {s.name} | {s.calls} | {rate[s.name]:.0f} | {rate[s.name] / rate[floor.name]:.2f}× | "
            f"{cpu[s.name]:.0f} | {cpu[s.name] / cpu[floor.name]:.2f}× |"
        )
    lines += [
        "",
        "Targets (one process): pg_query throughput ≥ 0.80× the floor's, server CPU per pg_query ≤ 1.3× the no-op's. "
        "Load: raw JSON-RPC POSTs (httpx, one pool of keep-alive connections) from one client process on the same "
        "2-core machine, which is shared with other jobs: the client and the servers compete for the CPUs, so "
        "calls/s understates what a server alone reaches; CPU per call is the server's own (/proc/<pid>/stat, "
        "summed over worker processes).",
    ]
    return "\n".join(lines) + "\n"


async def main() -> None:
    print(write("http", report(await run())).read_text())


if __name__ == "__main__":
    anyio.run(main)
