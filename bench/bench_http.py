"""Concurrency over streamable HTTP: many client sessions calling pg_query and redis_command at once.

One composite server process on a loopback port (stateful, then stateless), C concurrent client sessions,
each making K calls; reports p50/p95 latency and calls per second for each concurrency level.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import anyio
import httpx2
from mcp import Client

from bench.common import write

CALLS_PER_CLIENT = int(os.environ.get("BENCH_HTTP_CALLS", "40"))
LEVELS = (1, 10, 50)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(*extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "composite",
            "serve",
            "--transport",
            "http",
            "--port",
            str(port),
            "--servers",
            "postgres,redis",
            "--log-level",
            "WARNING",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


async def _level(base: str, clients: int) -> tuple[float, float, float]:
    lat: list[float] = []

    async def client(i: int) -> None:
        async with Client(f"{base}/mcp") as c:
            for k in range(CALLS_PER_CLIENT):
                t0 = time.perf_counter()
                if k % 2:
                    r = await c.call_tool("redis_command", {"args": ["GET", "bam:bench:http"]})
                else:
                    r = await c.call_tool("pg_query", {"sql": "SELECT $1::int AS i", "params": [i]})
                assert not r.is_error, r.content
                lat.append((time.perf_counter() - t0) * 1e3)

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(clients):
            tg.start_soon(client, i)
    elapsed = time.perf_counter() - start
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.95) - 1], len(lat) / elapsed


async def main() -> None:
    rows = ["| mode | concurrent sessions | calls | p50 (ms) | p95 (ms) | calls/s |", "|---|---|---|---|---|---|"]
    for mode, extra in (("stateful", ()), ("stateless", ("--stateless",))):
        proc, base = _start(*extra)
        try:
            await _level(base, 2)  # warm up pools
            for clients in LEVELS:
                p50, p95, rate = await _level(base, clients)
                rows.append(
                    f"| {mode} | {clients} | {clients * CALLS_PER_CLIENT} | {p50:.2f} | {p95:.2f} | {rate:.0f} |"
                )
        finally:
            proc.terminate()
            proc.wait(10)
    text = "\n".join(
        [
            "## Streamable HTTP under concurrency (pg_query and redis_command GET, alternating)",
            "",
            *rows,
            "",
            "One server process (one event loop) on 127.0.0.1; clients in one other process on the same 2-core "
            "machine, so client and server compete for the CPUs. Session set-up is excluded from latencies "
            "but included in calls/s.",
        ]
    )
    print(write("http", text + "\n").read_text())


if __name__ == "__main__":
    anyio.run(main)
