"""Run ours and the peers over stdio side by side: start, probe once, measure interleaved, write a table.

Every MCP variant is a subprocess spoken to over stdio by the same mcp 2.x `Client`; the raw driver call
runs in this process as the floor. A peer that cannot be installed, started or called is reported with the
command and the error line instead of a number.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.client import ConnectMode
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult, TextContent

from bench.common import Stat, measure, table, write
from bench.peers.install import VENVS, Installed, Peer, PeerUnavailable, install

ROOT = Path(__file__).resolve().parents[2]
Check = Callable[[CallToolResult, str], bool]


@dataclass
class McpVariant:
    """One tool call through one stdio server. `launch` turns the installed peer into a command line."""

    name: str
    tool: str
    arguments: dict[str, object]
    check: Check
    peer: Peer | None = None  # None: ours (the composite)
    launch: Callable[[Installed | None], list[str]] | None = None
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    big_arguments: dict[str, object] | None = None  # one extra call to record the size of a large answer
    mode: ConnectMode = "auto"  # "legacy": the initialize handshake, the protocol the older peers speak


@dataclass
class Domain:
    key: str
    title: str
    raw_name: str
    raw: Callable[[], Awaitable[object]]
    variants: list[McpVariant]
    setup_note: str
    big_label: str = ""
    n: int = 200
    warmup: int = 20


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def wire_size(result: CallToolResult) -> int:
    """Bytes of the JSON-RPC result body as the server serialises it (camelCase, no nulls)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


def redact(text: str) -> str:
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


def _first_line(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0] if msg else ''}"


def _tail(path: Path, pattern: str = r"error|exception|refus|fail") -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    hits = [ln for ln in lines if re.search(pattern, ln, re.I)]
    return (hits or lines or [""])[-1][:400]


def _short(arg: str) -> str:
    if "\n" in arg:
        return "<inline script in bench/peers/run.py>"
    if arg.startswith("/"):
        path = Path(arg)
        return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else arg
    return arg


def ours_command(module: str) -> list[str]:
    return [sys.executable, "-m", "composite", "serve", "--servers", module]


async def _open(stack: AsyncExitStack, v: McpVariant, argv: list[str], slug: str) -> Client:
    log = VENVS / f"{slug}.stderr.log"
    VENVS.mkdir(parents=True, exist_ok=True)
    errlog = stack.enter_context(log.open("w"))
    params = StdioServerParameters(command=argv[0], args=argv[1:], env={**os.environ, **v.env}, cwd=ROOT)
    try:
        client = Client(stdio_client(params, errlog=errlog), cache=None, read_timeout_seconds=120, mode=v.mode)
        return await stack.enter_async_context(client)
    except Exception as exc:
        errlog.flush()
        cmd = redact(shlex.join([_short(a) for a in argv]))
        raise PeerUnavailable(f"`{cmd}` did not start: {_first_line(exc)}; its stderr: `{redact(_tail(log))}`") from exc


async def compare(d: Domain) -> str:
    """Install and start every variant, probe each once, measure the survivors interleaved, write the table."""
    failures: list[str] = []
    notes: list[str] = []
    sizes: dict[str, int] = {}
    live: dict[str, Callable[[], Awaitable[object]]] = {d.raw_name: d.raw}
    async with AsyncExitStack() as stack:
        for v in d.variants:
            installed: Installed | None = None
            try:
                if v.peer is not None:
                    installed = await anyio.to_thread.run_sync(install, v.peer)
                    v.name = v.name.format(version=installed.version)
                    notes += [f"{v.peer.label}: {n}" for n in installed.notes]
                assert v.launch is not None
                argv = v.launch(installed)
                slug = v.peer.key if v.peer else re.sub(r"[^a-z0-9]+", "-", f"{d.key} {v.name}".lower())
                client = await _open(stack, v, argv, slug)
                tools = {t.name for t in (await client.list_tools()).tools}
                if v.tool not in tools:
                    raise PeerUnavailable(f"no tool `{v.tool}` (has: {', '.join(sorted(tools))})")
                probe = await client.call_tool(v.tool, v.arguments)
                body = text_of(probe)
                if probe.is_error or not v.check(probe, body):
                    raise PeerUnavailable(f"`{v.tool}` probe failed (is_error={probe.is_error}): {body[:300]!r}")
                sizes[v.name] = wire_size(probe)
                big = ""
                if v.big_arguments is not None:
                    r = await client.call_tool(v.tool, v.big_arguments)
                    state = "error: " + text_of(r)[:120] if r.is_error else "ok"
                    big = f" {d.big_label}: {wire_size(r)} bytes ({state})."
            except PeerUnavailable as exc:
                failures.append(f"**{v.name}** not measured: {exc}")
                continue
            live[v.name] = _caller(client, v)
            where = f"{v.peer.label} {installed.version}" if v.peer and installed else "ours (composite)"
            proto = client.protocol_version
            cmd = redact(shlex.join([_short(a) for a in argv]))
            extra = big + (f" {v.note}" if v.note else "")
            notes.append(
                f"`{v.name}` = {where}, `{cmd}`, tool `{v.tool}` {json.dumps(v.arguments)}, protocol {proto}, "
                f"one response = {sizes[v.name]} bytes.{extra}"
            )
        stats = await measure(live, n=int(os.environ.get("BENCH_N", str(d.n))), warmup=d.warmup)
    text = table(d.title, stats, d.raw_name, _notes(d, stats, notes, failures))
    write(f"peers_{d.key}", text)
    return text


def _caller(client: Client, v: McpVariant) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        r = await client.call_tool(v.tool, v.arguments)
        if r.is_error:
            raise RuntimeError(f"{v.name}: {text_of(r)[:300]}")
        return r

    return call


def _notes(d: Domain, stats: Sequence[Stat], notes: list[str], failures: list[str]) -> str:
    ours = [s for s in stats if s.name.startswith("ours")]
    peers = [s for s in stats if s.name.startswith("peer")]
    ratios = [f"{p.name} / {o.name}: {p.p50_us / o.p50_us:.2f}×" for o in ours for p in peers]
    parts = [
        d.setup_note + " All MCP variants are stdio subprocesses driven by the same mcp 2.x `Client` (response "
        "cache off) from this process, measured round-robin in one run after a warm-up; the raw driver call runs "
        "in-process as the floor. Sizes are the JSON of one `CallToolResult` (content + structuredContent). "
        "The client runs in mode 'auto' (a server without 2026-07-28 support is reached through the initialize "
        "handshake), or 'legacy' where a variant says so; each variant's protocol is named below.",
    ]
    if ratios:
        parts.append("p50 ratio peer vs ours: " + "; ".join(ratios) + ".")
    parts += [f"- {n}" for n in notes]
    parts += [f"- {f}" for f in failures]
    return "\n\n".join(parts[:2]) + "\n\n" + "\n".join(parts[2:])
