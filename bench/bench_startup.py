"""Cold start to the first tools/list over stdio: all five modules vs. a minimal MCPServer on the same SDK.

Each sample starts a fresh process, sends `initialize`, `notifications/initialized` and `tools/list` as raw
JSON-RPC lines and stops the clock at the tools/list answer. Variants alternate sample by sample.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import orjson

from bench.common import cpu_seconds, write

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}},
}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def cold_start(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds from spawn to the tools/list answer, the CPU seconds the server used until then, the tools."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(orjson.dumps(INIT) + b"\n")
        proc.stdin.flush()
        proc.stdout.readline()
        proc.stdin.write(orjson.dumps(INITIALIZED) + b"\n" + orjson.dumps(LIST) + b"\n")
        proc.stdin.flush()
        answer = orjson.loads(proc.stdout.readline())
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
        tools = len(answer["result"]["tools"])
    finally:
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return elapsed, cpu, tools


def main() -> None:
    n = int(os.environ.get("BENCH_STARTS", "10"))
    # As installed by pip: our modules byte-compiled like the SDK's (PYTHONDONTWRITEBYTECODE would leave
    # every start compiling our sources while the SDK's .pyc files exist).
    root = Path(__file__).resolve().parents[1]
    for pkg in ("servers", "composite", "bench"):
        compileall.compile_dir(root / pkg, quiet=1)
    env = dict(os.environ)
    ours = ["-m", "composite", "serve", "--log-level", "WARNING"]
    variants = {
        "minimal MCPServer (one no-op tool)": (["-m", "bench.floor_server"], env),
        "ours, all five modules": (ours, env),
    }
    samples: dict[str, list[float]] = {k: [] for k in variants}
    cpus: dict[str, list[float]] = {k: [] for k in variants}
    tools: dict[str, int] = {}
    for argv, e in variants.values():  # warm the OS page cache and .pyc files
        cold_start(argv, e)
    for _ in range(n):
        for name, (argv, e) in variants.items():
            seconds, cpu, tools[name] = cold_start(argv, e)
            samples[name].append(seconds)
            cpus[name].append(cpu)
    floor = statistics.median(samples["minimal MCPServer (one no-op tool)"])
    floor_cpu = statistics.median(cpus["minimal MCPServer (one no-op tool)"])
    lines = [
        "## Cold start to the first tools/list over stdio (one run, alternating)",
        "",
        "| server | tools | starts | median (s) | min (s) | vs minimal | server CPU median (s) | vs minimal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, xs in samples.items():
        med = statistics.median(xs)
        cpu = statistics.median(cpus[name])
        lines.append(
            f"| {name} | {tools[name]} | {len(xs)} | {med:.3f} | {min(xs):.3f} | {med / floor:.2f}× | {cpu:.3f} | "
            f"{cpu / floor_cpu:.2f}× |"
        )
    lines += [
        "",
        "Target: ours ≤ 1.25× the minimal MCPServer. Server CPU = user+system time of the server process until it "
        "answered tools/list (/proc/<pid>/stat), steadier than wall time on a loaded machine. "
        "Our packages are byte-compiled first, as a pip install does.",
    ]
    print(write("startup", "\n".join(lines) + "\n").read_text())


if __name__ == "__main__":
    main()
