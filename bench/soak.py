"""Soak (`make soak`): 64 concurrent HTTP clients for 60 s of mixed read calls across all five modules
against one server process; writes bench/results/soak.md and exits 1 when a target is missed.

Targets: 0 errors; RSS at the end within 10% of RSS after the warm-up; no growth in the server's open file
descriptors, nor in its PostgreSQL sessions (pg_stat_activity, by this run's application_name) and Redis
connections (CLIENT LIST, by this run's client name). p50/p99 are reported per tool and overall.

Each client is its own MCP session (initialize, then `tools/call` POSTs on its own keep-alive connection,
SSE responses as a default client gets them). Not named bench_*.py: `make bench` does not run it.
SOAK_SECONDS, SOAK_WARMUP_S and SOAK_CLIENTS change the shape (for a quick local try).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import orjson

from bench.common import cpu_seconds, write

CLIENTS = int(os.environ.get("SOAK_CLIENTS", "64"))
SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WARMUP_S = float(os.environ.get("SOAK_WARMUP_S", "10"))
WARMUP_MAX_S = 120.0
RSS_SLACK = 0.10
PROTOCOL = "2025-11-25"
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("pg_query", {"sql": "SELECT 1 AS one"}),
    ("pg_tables_list", {"schema": "public"}),
    ("redis_info", {"sections": ["server"]}),
    ("redis_keys_scan", {"pattern": "bam-soak-*"}),
    ("k8s_namespaces_list", {}),
    ("k8s_resources_list", {"kind": "ConfigMap", "namespace": "default"}),
    ("aws_s3_buckets_list", {}),
    ("aws_caller_identity", {}),
    ("docker_containers_list", {}),
    ("docker_engine_info", {}),
]


def _port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


async def fds(pid: int) -> int:
    """Open fds, the least of 5 readings 50 ms apart: a socket of a call in flight (moto closes every
    connection, so botocore opens one per call) is not held; a leaked one stays in every reading."""
    readings = []
    for _ in range(5):
        readings.append(len(os.listdir(f"/proc/{pid}/fd")))
        await anyio.sleep(0.05)
    return min(readings)


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


@dataclass
class Sample:
    at_s: float
    rss_kib: int
    fds: int
    threads: int
    pg_sessions: int
    redis_clients: int


@dataclass
class Load:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {n: [] for n, _ in CALLS})
    errors: list[str] = field(default_factory=list)
    done: dict[int, int] = field(default_factory=dict)
    """Calls answered per client (the warm-up lasts until every client has cycled through every tool)."""
    warmup_s: float = 0.0
    record: bool = False
    stop: bool = False


class Soak:
    def __init__(self) -> None:
        self.name = f"bam-soak-{secrets.token_hex(4)}"
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "BAM_PG_APPLICATION_NAME": self.name, "BAM_REDIS_CLIENT_NAME": self.name}
        argv = ["-m", "composite", "serve", "--transport", "http", "--port", str(self.port)]
        argv += ["--servers", "all", "--toolsets", "all", "--log-level", "WARNING"]
        self.proc = subprocess.Popen(
            [sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
        )
        self.samples: list[Sample] = []

    def wait_ready(self) -> None:
        for _ in range(600):
            try:
                if httpx2.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready: {httpx2.get(f'{self.base}/readyz').text[:500]}")

    async def pg_sessions(self) -> int:
        import asyncpg

        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            n: int = await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", self.name)
            return n
        finally:
            await conn.close()

    async def redis_clients(self) -> int:
        import redis.asyncio as aioredis

        r = aioredis.from_url(os.environ["REDIS_URL"])
        try:
            return sum(1 for c in await r.client_list() if c.get("name") == self.name)
        finally:
            await r.aclose()

    async def sample(self, t0: float) -> Sample:
        pid = self.proc.pid
        s = Sample(
            round(time.monotonic() - t0, 1),
            rss_kib(pid),
            await fds(pid),
            threads(pid),
            await self.pg_sessions(),
            await self.redis_clients(),
        )
        self.samples.append(s)
        return s

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def _session(h: httpx2.AsyncClient, url: str) -> dict[str, str]:
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}},
    }
    r = await h.post(url, content=orjson.dumps(init), headers=HEADERS)
    r.raise_for_status()
    headers = {**HEADERS, "mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    await h.post(url, content=orjson.dumps(note), headers=headers)
    return headers


def _answer(r: httpx2.Response) -> dict[str, Any]:
    text = r.text
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        text = next((line[5:] for line in text.splitlines() if line.startswith("data:")), "")
    out: dict[str, Any] = orjson.loads(text)
    return out


class Barrier:
    """All clients wait here, then go at once."""

    def __init__(self, parties: int) -> None:
        self.parties, self.waiting, self.event = parties, 0, anyio.Event()

    async def wait(self) -> None:
        self.waiting += 1
        if self.waiting == self.parties:
            self.waiting, event, self.event = 0, self.event, anyio.Event()
            event.set()
        else:
            await self.event.wait()


async def _call(h: httpx2.AsyncClient, url: str, headers: dict[str, str], n: int, name: str, args: Any) -> str | None:
    """One tools/call; the error text, or None when it succeeded."""
    body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": args}}
    try:
        r = await h.post(url, content=orjson.dumps(body), headers=headers)
        answer = _answer(r)
        if r.status_code != 200 or "error" in answer or answer["result"].get("isError"):
            return f"{name}: {str(answer)[:300]}"
    except Exception as exc:
        return f"{name}: {type(exc).__name__}: {exc}"
    return None


async def client(i: int, url: str, load: Load, barrier: Barrier) -> None:
    limits = httpx2.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx2.AsyncClient(limits=limits, timeout=60) as h:
        headers = await _session(h, url)
        for n, (name, args) in enumerate(CALLS):  # saturation: every client on the same tool at once, so
            await barrier.wait()  # each pool reaches its bound now; growth later would be a leak
            if (err := await _call(h, url, headers, n, name, args)) is not None:
                load.errors.append(f"(saturation) {err}")
        n = i
        while not load.stop:
            name, args = CALLS[n % len(CALLS)]
            n += 1
            t0 = time.perf_counter()
            err = await _call(h, url, headers, n, name, args)
            load.done[i] = load.done.get(i, 0) + 1
            if load.record:
                load.latencies[name].append(time.perf_counter() - t0)
                if err is not None:
                    load.errors.append(err)


async def warm_up(soak: Soak, load: Load) -> None:
    """Until every client has called every tool and the server's pools have settled (fds, PostgreSQL
    sessions and Redis connections unchanged over 5 s): at least WARMUP_S, at most WARMUP_MAX_S. Pools
    grow to the load's concurrency peak and then stay: growth after that point is what a leak looks like."""
    start = time.monotonic()
    last: tuple[int, int, int] | None = None
    while time.monotonic() - start < WARMUP_MAX_S:
        await anyio.sleep(5.0)
        pid = soak.proc.pid
        now = (await fds(pid), await soak.pg_sessions(), await soak.redis_clients())
        called = len(load.done) == CLIENTS and min(load.done.values()) >= len(CALLS)
        if called and now == last and time.monotonic() - start >= WARMUP_S:
            break
        last = now
    load.warmup_s = time.monotonic() - start


async def run(soak: Soak) -> tuple[Load, float, float]:
    load = Load()
    url = f"{soak.base}/mcp"
    async with anyio.create_task_group() as tg:
        barrier = Barrier(CLIENTS)
        for i in range(CLIENTS):
            tg.start_soon(client, i, url, load, barrier)
        await warm_up(soak, load)
        t0 = time.monotonic()
        await soak.sample(t0)  # after the warm-up: the reference
        cpu0 = cpu_seconds(soak.proc.pid)
        load.record = True
        while time.monotonic() - t0 < SECONDS:
            await anyio.sleep(min(10.0, SECONDS - (time.monotonic() - t0)))
            await soak.sample(t0)
        load.record = False
        seconds = time.monotonic() - t0
        cpu = cpu_seconds(soak.proc.pid) - cpu0
        load.stop = True
    return load, seconds, cpu


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] * 1000 if xs else float("nan")


def verdicts(soak: Soak, load: Load) -> list[tuple[str, bool, str]]:
    first, last = soak.samples[0], soak.samples[-1]
    growth = (last.rss_kib - first.rss_kib) / first.rss_kib
    return [
        ("0 errors", not load.errors, f"{len(load.errors)} errors"),
        (f"RSS at the end within {RSS_SLACK:.0%} of after warm-up", abs(growth) <= RSS_SLACK, f"{growth:+.1%}"),
        ("no growth in open fds", last.fds <= first.fds, f"{first.fds} -> {last.fds}"),
        (
            "no growth in PostgreSQL sessions",
            last.pg_sessions <= first.pg_sessions,
            f"{first.pg_sessions} -> {last.pg_sessions}",
        ),
        (
            "no growth in Redis connections",
            last.redis_clients <= first.redis_clients,
            f"{first.redis_clients} -> {last.redis_clients}",
        ),
    ]


def report(soak: Soak, load: Load, seconds: float, cpu: float) -> str:
    every = [x for xs in load.latencies.values() for x in xs]
    lines = [
        f"## Soak: {CLIENTS} concurrent HTTP clients, {seconds:.0f} s of mixed read calls, one server process",
        "",
        f"{len(every)} calls ({len(every) / seconds:.0f}/s), {len(load.errors)} errors; server CPU "
        f"{cpu / seconds:.2f} cores on average; measured after a {load.warmup_s:.0f} s warm-up: first all {CLIENTS} "
        "clients call each tool at the same moment (every pool reaches its bound), then the mixed load runs "
        "until fds, sessions and connections are unchanged over 5 s.",
        "",
        "| tool | calls | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, xs in load.latencies.items():
        lines.append(f"| {name} | {len(xs)} | {pct(xs, 0.5):.1f} | {pct(xs, 0.99):.1f} | {max(xs) * 1000:.1f} |")
    lines.append(
        f"| **all** | {len(every)} | {pct(every, 0.5):.1f} | {pct(every, 0.99):.1f} | {max(every) * 1000:.1f} |"
    )
    lines += [
        "",
        "| t (s) | RSS (MiB) | open fds | threads | PostgreSQL sessions | Redis connections |",
        "|---|---|---|---|---|---|",
    ]
    for s in soak.samples:
        lines.append(
            f"| {s.at_s:.0f} | {s.rss_kib / 1024:.1f} | {s.fds} | {s.threads} | {s.pg_sessions} | {s.redis_clients} |"
        )
    lines += ["", "| target | met | measured |", "|---|---|---|"]
    lines += [f"| {what} | {'yes' if ok else '**no**'} | {got} |" for what, ok, got in verdicts(soak, load)]
    if load.errors:
        lines += ["", "First errors:", "", *[f"- `{e}`" for e in load.errors[:5]]]
    lines += [
        "",
        f"Calls cycle through {len(CALLS)} read tools of all five modules (PostgreSQL, Redis, Kubernetes API server, "
        "moto, dockerd: the local backends). Each client is its own MCP session with one keep-alive connection; "
        "the load generator runs on the same shared 2-core machine as the server and the backends, so latencies "
        "include queueing behind the 64 clients (the PostgreSQL pool holds 10 connections, Redis's 32). Pools keep "
        "what they opened at their busiest moment, which is why the warm-up drives each to its bound first. "
        "Sessions and connections are counted by this run's application_name / client name, so other users "
        "of the shared backends do not count.",
    ]
    return "\n".join(lines) + "\n"


async def main() -> int:
    soak = Soak()
    try:
        soak.wait_ready()
        load, seconds, cpu = await run(soak)
    finally:
        soak.stop()
    text = report(soak, load, seconds, cpu)
    print(write("soak", text).read_text())
    return 0 if all(ok for _, ok, _ in verdicts(soak, load)) else 1


if __name__ == "__main__":
    sys.exit(anyio.run(main))
