"""Container reads: list, inspect, logs, stats, processes (top) and filesystem changes (diff)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import newest_lines, redact_output, tool_error
from servers._common.lines import GrepArg, grep_filter
from servers._common.paging import items_page, offset_page, page_size
from servers._common.tools import READ, tool
from servers.docker.common import ContainerRef, LabelFilter, Limit, Offset, list_filters, provenance, state_of
from servers.docker.values import iso_from_epoch, parse_since, raw_if_fits, redact_inspect, short_id

ContainerStatus = Literal["created", "restarting", "running", "removing", "paused", "exited", "dead"]


class ContainerSummary(BaseModel):
    id: str = Field(description="Short id (12 hex digits)")
    name: str
    image: str
    command: str
    state: str = Field(description="created, running, paused, restarting, exited, dead")
    status: str = Field(description="Human status, e.g. 'Up 5 minutes', 'Exited (0) 2 hours ago'")
    created: str | None
    networks: list[str]
    labels: dict[str, str]
    managed: bool = Field(description="Created by this server (carries io.backend-architect-mcp.managed=true)")


class ContainerList(BaseModel):
    containers: list[ContainerSummary]
    count: int
    total: int = Field(description="Containers matching the filters")
    truncated: bool
    next_offset: int | None


def container_summary(c: dict[str, Any]) -> ContainerSummary:
    return ContainerSummary(
        id=short_id(c.get("Id")),
        name=(c.get("Names") or ["/"])[0].lstrip("/"),
        image=c.get("Image", ""),
        command=redact_output(c.get("Command") or ""),
        state=c.get("State", ""),
        status=c.get("Status", ""),
        created=iso_from_epoch(c.get("Created")),
        networks=sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
        **provenance(c),
    )


@tool("Docker: list containers", READ)
async def docker_containers_list(
    ctx: Context[Any, Any],
    all: Annotated[bool, Field(description="Include stopped containers (default true)")] = True,
    status: Annotated[list[ContainerStatus] | None, Field(description="Only these states")] = None,
    label: LabelFilter = None,
    name: Annotated[str | None, Field(description="Name matches this regular expression")] = None,
    image: Annotated[str | None, Field(description="Ancestor image")] = None,
    managed_only: Annotated[bool, Field(description="Only containers this server created")] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> ContainerList:
    """List containers, newest first, with state, image, networks and labels."""
    d = state_of(ctx)
    api = await d.api()
    filters = list_filters(label, managed_only, status=status, name=name, ancestor=image)
    raw = await d.call("list containers", api.containers, all=all, filters=filters)
    items = [container_summary(c) for c in raw]
    kept, page = items_page(d.settings, items, offset, limit)
    return ContainerList(containers=kept, **page)


class MountInfo(BaseModel):
    type: str
    source: str | None
    destination: str
    read_only: bool
    name: str | None = Field(default=None, description="Volume name, for volume mounts")


class ContainerDetails(BaseModel):
    id: str
    name: str
    image: str
    image_id: str
    created: str | None
    state: dict[str, Any] = Field(description="Status, Running, Paused, ExitCode, StartedAt, FinishedAt, Health...")
    command: list[str]
    entrypoint: list[str]
    env: list[str] = Field(description="Environment; values of secret-looking names or values are masked")
    labels: dict[str, str]
    working_dir: str | None
    user: str | None
    restart_count: int
    network_mode: str | None
    networks: dict[str, Any] = Field(description="Per network: IPAddress, Gateway, MacAddress, Aliases")
    mounts: list[MountInfo]
    privileged: bool
    pid_mode: str | None
    ipc_mode: str | None
    cap_add: list[str]
    memory_limit_bytes: int | None
    nano_cpus: int | None
    pids_limit: int | None
    restart_policy: str | None
    raw: dict[str, Any] | None = Field(
        default=None, description="The full inspect document (redacted), when `full` was asked for and it fits"
    )
    truncated: bool = Field(default=False, description="True when `raw` was left out for exceeding the byte cap")


@tool("Docker: inspect a container", READ)
async def docker_container_inspect(
    ctx: Context[Any, Any],
    container: ContainerRef,
    full: Annotated[bool, Field(description="Also return the whole inspect document")] = False,
) -> ContainerDetails:
    """Inspect a container: state, config, env (secrets masked), mounts, networks, limits."""
    d = state_of(ctx)
    api = await d.api()
    data = redact_inspect(await d.call("inspect the container", api.inspect_container, container))
    cfg = data.get("Config") or {}
    hc = data.get("HostConfig") or {}
    ns = data.get("NetworkSettings") or {}
    networks = {
        k: {kk: v.get(kk) for kk in ("IPAddress", "Gateway", "MacAddress", "Aliases", "NetworkID")}
        for k, v in (ns.get("Networks") or {}).items()
    }
    rp = hc.get("RestartPolicy") or {}
    raw, truncated = raw_if_fits(data, full, d.settings.max_bytes)
    return ContainerDetails(
        id=data.get("Id", ""),
        name=(data.get("Name") or "").lstrip("/"),
        image=cfg.get("Image", ""),
        image_id=data.get("Image", ""),
        created=data.get("Created"),
        state=data.get("State") or {},
        command=list(cfg.get("Cmd") or []),
        entrypoint=list(cfg.get("Entrypoint") or []),
        env=list(cfg.get("Env") or []),
        labels=cfg.get("Labels") or {},
        working_dir=cfg.get("WorkingDir") or None,
        user=cfg.get("User") or None,
        restart_count=int(data.get("RestartCount") or 0),
        network_mode=hc.get("NetworkMode"),
        networks=networks,
        mounts=[
            MountInfo(
                type=m.get("Type", ""),
                source=m.get("Source"),
                destination=m.get("Destination", ""),
                read_only=not m.get("RW", True),
                name=m.get("Name"),
            )
            for m in data.get("Mounts") or []
        ],
        privileged=bool(hc.get("Privileged")),
        pid_mode=hc.get("PidMode") or None,
        ipc_mode=hc.get("IpcMode") or None,
        cap_add=list(hc.get("CapAdd") or []),
        memory_limit_bytes=hc.get("Memory") or None,
        nano_cpus=hc.get("NanoCpus") or None,
        pids_limit=hc.get("PidsLimit") or None,
        restart_policy=rp.get("Name") or None,
        raw=raw,
        truncated=truncated,
    )


class Logs(BaseModel):
    container: str
    text: str = Field(description="Log lines (stdout and stderr interleaved), secrets masked")
    lines: int = Field(description="Lines returned")
    truncated: bool = Field(description="True when older lines were cut by the line or byte cap")
    hint: str | None = Field(default=None, description="How to see more")


@tool("Docker: container logs", READ)
async def docker_container_logs(
    ctx: Context[Any, Any],
    container: ContainerRef,
    tail: Annotated[int | None, Field(ge=1, description="Last N lines (default 200, capped by the server)")] = None,
    since: Annotated[str | None, Field(description="Only lines after this: 10m, 2h, Unix or ISO 8601 time")] = None,
    until: Annotated[str | None, Field(description="Only lines before this (as since)")] = None,
    timestamps: bool = False,
    stream: Literal["both", "stdout", "stderr"] = "both",
    max_bytes: Annotated[
        int | None, Field(ge=256, description="Byte cap (default and upper bound: the server's cap)")
    ] = None,
    grep: GrepArg = None,
) -> Logs:
    """Read a container's last log lines, bounded by lines and bytes."""
    d = state_of(ctx)
    s = d.settings
    n = min(tail or s.max_log_lines, s.max_log_lines_limit)
    try:
        since_v = parse_since(since)
        until_v = parse_since(until)
    except ValueError as exc:
        raise tool_error("read the logs", str(exc), code="invalid") from exc
    api = await d.api()
    raw: bytes = await d.call(
        "read the logs",
        api.logs,
        container,
        stdout=stream in ("both", "stdout"),
        stderr=stream in ("both", "stderr"),
        timestamps=timestamps,
        tail=n + 1,
        since=since_v,
        until=until_v,
    )
    text = raw.decode(errors="replace")
    all_lines = text.splitlines()
    cut_lines = len(all_lines) > n
    lines = all_lines[-n:]
    cap = min(max_bytes or s.max_log_bytes, s.max_log_bytes)
    found = grep_filter(redact_output("\n".join(lines)), grep, cap, "read the logs") if grep else None
    out, cut_bytes = (found.text, found.truncated) if found else newest_lines("\n".join(lines), cap)
    truncated = cut_lines or cut_bytes
    return Logs(
        container=container,
        text=redact_output(out),
        lines=len(out.splitlines()),
        truncated=truncated,
        hint=(found.hint if found else None)
        or (
            "narrow with `since`/`until`, or page back with `until` set to the first time stamp (timestamps=true)"
            if truncated
            else None
        ),
    )


class Stats(BaseModel):
    container: str
    running: bool
    cpu_percent: float | None = Field(description="CPU use over the sample interval, 100% = one core")
    online_cpus: int | None
    memory_usage_bytes: int | None = Field(description="Usage minus page cache")
    memory_limit_bytes: int | None
    memory_percent: float | None
    network_rx_bytes: int
    network_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int
    pids: int | None
    read_at: str | None


@tool("Docker: container resource usage", READ)
async def docker_container_stats(ctx: Context[Any, Any], container: ContainerRef) -> Stats:
    """Take a resource-usage snapshot of a container: CPU, memory, network, block I/O, PIDs."""
    d = state_of(ctx)
    api = await d.api()
    st: dict[str, Any] = await d.call("read container stats", api.stats, container, stream=False)
    cpu = st.get("cpu_stats") or {}
    pre = st.get("precpu_stats") or {}
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or None
    cpu_pct = None
    try:
        cdelta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
        sdelta = cpu["system_cpu_usage"] - pre["system_cpu_usage"]
        if sdelta > 0 and cdelta >= 0:
            cpu_pct = round(cdelta / sdelta * (online or 1) * 100.0, 2)
    except (KeyError, TypeError):
        cpu_pct = None
    mem = st.get("memory_stats") or {}
    usage = mem.get("usage")
    mstats = mem.get("stats") or {}
    cache = mstats.get("inactive_file", mstats.get("total_inactive_file", mstats.get("cache", 0))) or 0
    mem_used = usage - cache if isinstance(usage, int) else None
    limit = mem.get("limit")
    nets = st.get("networks") or {}
    blk = (st.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    running = bool(st.get("read")) and not str(st.get("read", "")).startswith("0001-")
    return Stats(
        container=container,
        running=running,
        cpu_percent=cpu_pct,
        online_cpus=online,
        memory_usage_bytes=mem_used,
        memory_limit_bytes=limit,
        memory_percent=round(mem_used / limit * 100.0, 2) if mem_used is not None and limit else None,
        network_rx_bytes=sum(int(v.get("rx_bytes") or 0) for v in nets.values()),
        network_tx_bytes=sum(int(v.get("tx_bytes") or 0) for v in nets.values()),
        block_read_bytes=sum(int(b.get("value") or 0) for b in blk if str(b.get("op", "")).lower() == "read"),
        block_write_bytes=sum(int(b.get("value") or 0) for b in blk if str(b.get("op", "")).lower() == "write"),
        pids=(st.get("pids_stats") or {}).get("current"),
        read_at=st.get("read"),
    )


class Top(BaseModel):
    container: str
    titles: list[str]
    processes: list[list[str]] = Field(description="One row per process, columns as in `titles`")
    count: int
    truncated: bool


@tool("Docker: container processes", READ)
async def docker_container_top(
    ctx: Context[Any, Any],
    container: ContainerRef,
    ps_args: Annotated[str | None, Field(pattern=r"^[A-Za-z -]*$", description="ps options, e.g. aux")] = None,
    limit: Limit = None,
) -> Top:
    """List a container's processes (like `docker top`), secrets masked."""
    d = state_of(ctx)
    api = await d.api()
    kwargs: dict[str, Any] = {"ps_args": ps_args} if ps_args else {}
    res = await d.call("list processes", api.top, container, **kwargs)
    procs = [[redact_output(str(x)) for x in row] for row in res.get("Processes") or []]
    kept, truncated, _ = offset_page(procs, 0, page_size(d.settings, limit), d.settings.max_bytes)
    return Top(
        container=container, titles=list(res.get("Titles") or []), processes=kept, count=len(kept), truncated=truncated
    )


class Change(BaseModel):
    path: str
    kind: Literal["modified", "added", "deleted"]


class Diff(BaseModel):
    container: str
    changes: list[Change]
    count: int
    total: int
    truncated: bool
    next_offset: int | None


_KINDS: dict[int, Literal["modified", "added", "deleted"]] = {0: "modified", 1: "added", 2: "deleted"}


@tool("Docker: container filesystem changes", READ)
async def docker_container_diff(
    ctx: Context[Any, Any], container: ContainerRef, limit: Limit = None, offset: Offset = 0
) -> Diff:
    """List files added, changed or deleted in a container since it was created."""
    d = state_of(ctx)
    api = await d.api()
    res = await d.call("diff the container filesystem", api.diff, container) or []
    items = [Change(path=c.get("Path", ""), kind=_KINDS.get(int(c.get("Kind", 0)), "modified")) for c in res]
    kept, page = items_page(d.settings, items, offset, limit)
    return Diff(container=container, changes=kept, **page)
