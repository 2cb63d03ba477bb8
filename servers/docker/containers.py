"""Engine and container tools: info, disk usage, list, inspect, logs, stats, top, diff, lifecycle, exec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import redact, tool_error, truncate_text
from servers.docker.common import ContainerRef, LabelFilter, Labels, Limit, Offset, dk, limit_of
from servers.docker.safety import check_container, managed_labels
from servers.docker.values import (
    iso_from_epoch,
    page,
    parse_since,
    parse_size,
    redact_env_list,
    redact_inspect,
    redact_output,
    short_id,
)

# --------------------------------------------------------------------------------------------- engine


class EngineInfo(BaseModel):
    server_version: str
    api_version: str
    min_api_version: str | None
    os: str | None = Field(description="Engine host OS")
    kernel_version: str | None
    architecture: str | None
    cpus: int | None
    memory_bytes: int | None
    storage_driver: str | None
    cgroup_driver: str | None
    cgroup_version: str | None
    containers: int
    containers_running: int
    containers_paused: int
    containers_stopped: int
    images: int
    security_options: list[str]
    warnings: list[str]
    registry_mirrors: list[str]
    insecure_registries: list[str]
    swarm: str | None = Field(description="Swarm node state: inactive, active, ...")


async def docker_engine_info(ctx: Context[Any, Any]) -> EngineInfo:
    """Show the Docker engine's version, host, storage/cgroup drivers, object counts and warnings."""
    d = dk(ctx)
    api = await d.api()
    ver = await d.call("read the engine version", api.version)
    info = await d.call("read the engine info", api.info)
    reg = info.get("RegistryConfig") or {}
    return EngineInfo(
        server_version=str(ver.get("Version", "")),
        api_version=str(ver.get("ApiVersion", "")),
        min_api_version=ver.get("MinAPIVersion"),
        os=info.get("OperatingSystem"),
        kernel_version=info.get("KernelVersion"),
        architecture=info.get("Architecture"),
        cpus=info.get("NCPU"),
        memory_bytes=info.get("MemTotal"),
        storage_driver=info.get("Driver"),
        cgroup_driver=info.get("CgroupDriver"),
        cgroup_version=info.get("CgroupVersion"),
        containers=int(info.get("Containers") or 0),
        containers_running=int(info.get("ContainersRunning") or 0),
        containers_paused=int(info.get("ContainersPaused") or 0),
        containers_stopped=int(info.get("ContainersStopped") or 0),
        images=int(info.get("Images") or 0),
        security_options=list(info.get("SecurityOptions") or []),
        warnings=[redact_output(w) for w in info.get("Warnings") or []],
        registry_mirrors=list(reg.get("Mirrors") or []),
        insecure_registries=list(reg.get("InsecureRegistryCIDRs") or [])
        + [k for k, v in (reg.get("IndexConfigs") or {}).items() if isinstance(v, dict) and not v.get("Secure")],
        swarm=(info.get("Swarm") or {}).get("LocalNodeState"),
    )


class DfCategory(BaseModel):
    kind: Literal["images", "containers", "volumes", "build_cache"]
    count: int
    active: int = Field(description="Items in use (images used by containers, running containers, ...)")
    size_bytes: int
    reclaimable_bytes: int = Field(description="Bytes a prune of unused items would free (estimate)")


class DfItem(BaseModel):
    kind: str
    name: str
    size_bytes: int
    in_use: bool


class DiskUsage(BaseModel):
    layers_size_bytes: int
    categories: list[DfCategory]
    largest: list[DfItem] = Field(description="The largest items across all kinds, biggest first")
    truncated: bool = Field(description="True when more items exist than `largest` shows")


async def docker_engine_df(
    ctx: Context[Any, Any],
    top: Annotated[int, Field(ge=0, le=200, description="How many of the largest items to list")] = 10,
) -> DiskUsage:
    """Show disk usage of images, containers, volumes and build cache, with what pruning would reclaim."""
    d = dk(ctx)
    api = await d.api()
    df = await d.call("read disk usage", api.df)
    items: list[DfItem] = []
    cats: list[DfCategory] = []

    imgs = df.get("Images") or []
    isz = sum(int(i.get("Size") or 0) for i in imgs)
    active_imgs = [i for i in imgs if int(i.get("Containers") or 0) > 0]
    cats.append(
        DfCategory(
            kind="images",
            count=len(imgs),
            active=len(active_imgs),
            size_bytes=isz,
            reclaimable_bytes=max(0, isz - sum(int(i.get("Size") or 0) for i in active_imgs)),
        )
    )
    for i in imgs:
        tags = i.get("RepoTags") or []
        items.append(
            DfItem(
                kind="image",
                name=tags[0] if tags else short_id(i.get("Id")),
                size_bytes=int(i.get("Size") or 0),
                in_use=int(i.get("Containers") or 0) > 0,
            )
        )
    cons = df.get("Containers") or []
    csz = sum(int(c.get("SizeRw") or 0) for c in cons)
    running = [c for c in cons if c.get("State") == "running"]
    cats.append(
        DfCategory(
            kind="containers",
            count=len(cons),
            active=len(running),
            size_bytes=csz,
            reclaimable_bytes=sum(int(c.get("SizeRw") or 0) for c in cons if c.get("State") != "running"),
        )
    )
    for c in cons:
        items.append(
            DfItem(
                kind="container",
                name=(c.get("Names") or ["/" + short_id(c.get("Id"))])[0].lstrip("/"),
                size_bytes=int(c.get("SizeRw") or 0),
                in_use=c.get("State") == "running",
            )
        )
    vols = df.get("Volumes") or []

    def vsize(v: dict[str, Any]) -> int:
        return max(0, int((v.get("UsageData") or {}).get("Size") or 0))

    def vrefs(v: dict[str, Any]) -> int:
        return int((v.get("UsageData") or {}).get("RefCount") or 0)

    cats.append(
        DfCategory(
            kind="volumes",
            count=len(vols),
            active=sum(1 for v in vols if vrefs(v) > 0),
            size_bytes=sum(vsize(v) for v in vols),
            reclaimable_bytes=sum(vsize(v) for v in vols if vrefs(v) == 0),
        )
    )
    for v in vols:
        items.append(DfItem(kind="volume", name=v.get("Name", ""), size_bytes=vsize(v), in_use=vrefs(v) > 0))
    cache = df.get("BuildCache") or []
    cats.append(
        DfCategory(
            kind="build_cache",
            count=len(cache),
            active=sum(1 for b in cache if b.get("InUse")),
            size_bytes=sum(int(b.get("Size") or 0) for b in cache),
            reclaimable_bytes=sum(int(b.get("Size") or 0) for b in cache if not b.get("InUse") and not b.get("Shared")),
        )
    )
    items.sort(key=lambda x: x.size_bytes, reverse=True)
    return DiskUsage(
        layers_size_bytes=int(df.get("LayersSize") or 0),
        categories=cats,
        largest=items[:top],
        truncated=len(items) > top,
    )


# ----------------------------------------------------------------------------------------- containers

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
    from servers.docker.settings import MANAGED_LABEL

    labels = c.get("Labels") or {}
    return ContainerSummary(
        id=short_id(c.get("Id")),
        name=(c.get("Names") or ["/"])[0].lstrip("/"),
        image=c.get("Image", ""),
        command=redact_output(c.get("Command") or ""),
        state=c.get("State", ""),
        status=c.get("Status", ""),
        created=iso_from_epoch(c.get("Created")),
        networks=sorted(((c.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
        labels=redact(labels),
        managed=labels.get(MANAGED_LABEL) == "true",
    )


async def docker_containers_list(
    ctx: Context[Any, Any],
    all: Annotated[bool, Field(description="Include stopped containers (default true)")] = True,
    status: Annotated[list[ContainerStatus] | None, Field(description="Only these states")] = None,
    label: LabelFilter = None,
    name: Annotated[str | None, Field(description="Name contains this text (regular expression)")] = None,
    image: Annotated[str | None, Field(description="Created from this image (ancestor)")] = None,
    managed_only: Annotated[bool, Field(description="Only containers this server created")] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> ContainerList:
    """List containers with filters on state, labels, name and image; newest first, paged."""
    from servers.docker.settings import MANAGED_LABEL

    d = dk(ctx)
    api = await d.api()
    filters: dict[str, Any] = {}
    if status:
        filters["status"] = list(status)
    labels = list(label or [])
    if managed_only:
        labels.append(f"{MANAGED_LABEL}=true")
    if labels:
        filters["label"] = labels
    if name:
        filters["name"] = name
    if image:
        filters["ancestor"] = image
    raw = await d.call("list containers", api.containers, all=all, filters=filters or None)
    items = [container_summary(c) for c in raw]
    kept, truncated, nxt = page(items, offset, limit_of(d, limit), d.settings.max_bytes)
    return ContainerList(containers=kept, count=len(kept), total=len(items), truncated=truncated, next_offset=nxt)


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


async def docker_container_inspect(
    ctx: Context[Any, Any],
    container: ContainerRef,
    full: Annotated[bool, Field(description="Also return the whole inspect document (redacted)")] = False,
) -> ContainerDetails:
    """Inspect a container: state, config, environment (secrets masked), mounts, networks and limits."""
    from servers._common import json_size

    d = dk(ctx)
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
    raw = None
    truncated = False
    if full:
        if json_size(data) <= d.settings.max_bytes:
            raw = data
        else:
            truncated = True
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


async def docker_container_logs(
    ctx: Context[Any, Any],
    container: ContainerRef,
    tail: Annotated[int | None, Field(ge=1, description="Last N lines (default 200, capped by the server)")] = None,
    since: Annotated[
        str | None, Field(description="Only lines after this: 10m, 2h, 1d, a Unix time or ISO 8601 time stamp")
    ] = None,
    until: Annotated[str | None, Field(description="Only lines before this (same formats as `since`)")] = None,
    timestamps: Annotated[bool, Field(description="Prefix each line with its RFC 3339 time stamp")] = False,
    stream: Annotated[Literal["both", "stdout", "stderr"], Field(description="Which output streams")] = "both",
    max_bytes: Annotated[
        int | None, Field(ge=256, description="Byte cap (default and upper bound: the server's cap)")
    ] = None,
) -> Logs:
    """Read the last lines of a container's logs, bounded by lines and bytes (the newest lines are kept)."""
    d = dk(ctx)
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
    out, cut_bytes = truncate_text("\n".join(lines), min(max_bytes or s.max_log_bytes, s.max_log_bytes))
    if cut_bytes and "\n" in out:
        out = out.split("\n", 1)[1]  # drop the partial first line
    truncated = cut_lines or cut_bytes
    return Logs(
        container=container,
        text=redact_output(out),
        lines=len(out.splitlines()),
        truncated=truncated,
        hint="narrow with `since`/`until`, or page back with `until` set to the first time stamp (timestamps=true)"
        if truncated
        else None,
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


async def docker_container_stats(ctx: Context[Any, Any], container: ContainerRef) -> Stats:
    """Take one resource-usage snapshot of a container: CPU %, memory, network and block I/O, PIDs."""
    d = dk(ctx)
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


async def docker_container_top(
    ctx: Context[Any, Any],
    container: ContainerRef,
    ps_args: Annotated[
        str | None, Field(pattern=r"^[A-Za-z -]*$", description="ps options, e.g. 'aux' or '-ef' (letters only)")
    ] = None,
    limit: Limit = None,
) -> Top:
    """List the processes running in a container (like `docker top`); command lines have secrets masked."""
    d = dk(ctx)
    api = await d.api()
    kwargs: dict[str, Any] = {"ps_args": ps_args} if ps_args else {}
    res = await d.call("list processes", api.top, container, **kwargs)
    procs = [[redact_output(str(x)) for x in row] for row in res.get("Processes") or []]
    kept, truncated, _ = page(procs, 0, limit_of(d, limit), d.settings.max_bytes)
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


async def docker_container_diff(
    ctx: Context[Any, Any], container: ContainerRef, limit: Limit = None, offset: Offset = 0
) -> Diff:
    """List files added, modified or deleted in a container's filesystem since it was created."""
    d = dk(ctx)
    api = await d.api()
    res = await d.call("diff the container filesystem", api.diff, container) or []
    items = [Change(path=c.get("Path", ""), kind=_KINDS.get(int(c.get("Kind", 0)), "modified")) for c in res]
    kept, truncated, nxt = page(items, offset, limit_of(d, limit), d.settings.max_bytes)
    return Diff(
        container=container, changes=kept, count=len(kept), total=len(items), truncated=truncated, next_offset=nxt
    )


# ----------------------------------------------------------------------------------- container writes


class MountSpec(BaseModel):
    type: Literal["bind", "volume", "tmpfs"] = Field(description="bind (host path), volume (named) or tmpfs")
    source: str | None = Field(default=None, description="Host path (bind) or volume name (volume); none for tmpfs")
    target: str = Field(description="Absolute path inside the container")
    read_only: bool = False


class RunResult(BaseModel):
    id: str
    name: str
    state: str = Field(description="State after start (and after waiting, when `wait_s` was given)")
    exit_code: int | None = Field(description="Exit code, when it exited within `wait_s`")
    logs: str | None = Field(description="Last log lines (when `wait_s` was given), secrets masked")
    logs_truncated: bool
    removed: bool = Field(description="True when the container was removed after exiting (`remove`)")
    labels: dict[str, str]


async def docker_container_run(
    ctx: Context[Any, Any],
    image: Annotated[str, Field(min_length=1, description="Image to run; must be present (pull or build first)")],
    command: Annotated[list[str] | None, Field(description="Command and arguments (exec form)")] = None,
    entrypoint: Annotated[list[str] | None, Field(description="Override the image's entrypoint")] = None,
    name: Annotated[
        str | None, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=128, description="Container name")
    ] = None,
    env: Annotated[dict[str, str] | None, Field(description="Environment variables")] = None,
    mounts: Annotated[list[MountSpec] | None, Field(description="Bind, volume or tmpfs mounts")] = None,
    network_mode: Annotated[
        str | None, Field(description="none, host, bridge, container:<id> or a network name (default: engine's)")
    ] = None,
    labels: Labels = None,
    memory: Annotated[str | None, Field(description="Memory limit, e.g. 256m, 1g")] = None,
    cpus: Annotated[float | None, Field(gt=0, le=1024, description="CPU limit in cores, e.g. 0.5")] = None,
    pids_limit: Annotated[int | None, Field(ge=1, description="Maximum number of processes")] = None,
    user: Annotated[str | None, Field(description="User (name or uid[:gid]) to run as")] = None,
    working_dir: Annotated[str | None, Field(description="Working directory inside the container")] = None,
    read_only_rootfs: Annotated[bool, Field(description="Mount the root filesystem read-only")] = False,
    restart_policy: Annotated[
        Literal["no", "on-failure", "always", "unless-stopped"], Field(description="Restart policy")
    ] = "no",
    privileged: Annotated[bool, Field(description="Privileged mode (refused unless the operator allows it)")] = False,
    pid_mode: Annotated[
        str | None, Field(description="'host' shares the host PID namespace (refused by default)")
    ] = None,
    ipc_mode: Annotated[
        str | None, Field(description="'host' shares the host IPC namespace (refused by default)")
    ] = None,
    cap_add: Annotated[list[str] | None, Field(description="Capabilities to add (refused by default)")] = None,
    cap_drop: Annotated[list[str] | None, Field(description="Capabilities to drop, e.g. ['ALL']")] = None,
    wait_s: Annotated[
        float | None, Field(gt=0, le=600, description="Wait up to this long for it to exit; returns code and logs")
    ] = None,
    remove: Annotated[bool, Field(description="Remove the container after it exited within `wait_s`")] = False,
) -> RunResult:
    """Create and start a container (detached) with env, mounts, network mode, labels and resource limits.

    Privileged mode, host PID/IPC, mounting / or the Docker socket and cap_add are refused unless the
    operator allows each. The image is never pulled implicitly. Everything created is labelled
    io.backend-architect-mcp.managed=true, so docker_managed_cleanup can remove it.
    """
    from docker.types import Mount

    d = dk(ctx)
    action = "run the container"
    host_paths = [m.source for m in mounts or [] if m.type == "bind" and m.source]
    check_container(
        action,
        d.settings,
        privileged=privileged,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        cap_add=cap_add,
        host_paths=host_paths,
    )
    for m in mounts or []:
        if m.type != "tmpfs" and not m.source:
            raise tool_error(action, f"mount to {m.target} needs a `source`", code="invalid")
        if m.type == "bind" and not (m.source or "").startswith("/"):
            raise tool_error(action, f"bind source {m.source!r} must be an absolute host path", code="invalid")
    try:
        mem = parse_size(memory)
    except ValueError as exc:
        raise tool_error(action, str(exc), code="invalid") from exc
    api = await d.api()
    final_labels = managed_labels("container_run", labels)
    host_config = api.create_host_config(
        mounts=[Mount(m.target, m.source or "", type=m.type, read_only=m.read_only) for m in mounts or []] or None,
        network_mode=network_mode,
        privileged=privileged,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        cap_add=cap_add or None,
        cap_drop=cap_drop or None,
        mem_limit=mem,
        nano_cpus=int(cpus * 1e9) if cpus else None,
        pids_limit=pids_limit,
        read_only=read_only_rootfs or None,
        restart_policy={"Name": restart_policy} if restart_policy != "no" else None,
    )
    created = await d.call(
        action,
        api.create_container,
        image,
        command=command,
        entrypoint=entrypoint,
        name=name,
        environment=env,
        labels=final_labels,
        working_dir=working_dir,
        user=user,
        host_config=host_config,
        detach=True,
        use_config_proxy=False,
    )
    cid = created["Id"]
    try:
        await d.call(action, api.start, cid)
    except Exception:
        await d.call("remove the container that failed to start", api.remove_container, cid, force=True)
        raise
    exit_code: int | None = None
    logs: str | None = None
    logs_truncated = False
    removed = False
    if wait_s:
        import requests.exceptions

        try:
            res = await d.backend.run_sync(api.wait, cid, timeout=wait_s)
            exit_code = int(res.get("StatusCode", -1))
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):  # still running
            exit_code = None
        except Exception as exc:
            raise d.translate(exc, "wait for the container") from exc
        raw: bytes = await d.call("read the logs", api.logs, cid, tail=d.settings.max_log_lines)
        logs, logs_truncated = truncate_text(raw.decode(errors="replace"), d.settings.max_log_bytes)
        logs = redact_output(logs)
    info = await d.call("inspect the container", api.inspect_container, cid)
    state = (info.get("State") or {}).get("Status", "")
    if remove and exit_code is not None:
        await d.call("remove the container", api.remove_container, cid, v=True, force=True)
        removed = True
    return RunResult(
        id=short_id(cid),
        name=(info.get("Name") or "").lstrip("/"),
        state=state,
        exit_code=exit_code,
        logs=logs,
        logs_truncated=logs_truncated,
        removed=removed,
        labels=redact(final_labels),
    )


class ContainerState(BaseModel):
    container: str
    action: str
    state: str = Field(description="State after the action (removed: 'removed')")
    changed: bool = Field(description="False when it already was in the requested state")


async def _lifecycle(ctx: Context[Any, Any], container: str, action: str, **kwargs: Any) -> ContainerState:
    import docker.errors

    d = dk(ctx)
    api = await d.api()
    fn = {
        "start": api.start,
        "stop": api.stop,
        "restart": api.restart,
        "pause": api.pause,
        "unpause": api.unpause,
        "remove": api.remove_container,
    }[action]
    before = ""
    if action in ("start", "stop", "pause", "unpause"):
        pre = await d.call(f"{action} the container", api.inspect_container, container)
        before = (pre.get("State") or {}).get("Status", "")
    try:
        await d.backend.run_sync(fn, container, **kwargs)
    except docker.errors.APIError as exc:
        if exc.status_code != 304:  # 304: already in that state
            raise d.translate(exc, f"{action} the container") from exc
    except Exception as exc:
        raise d.translate(exc, f"{action} the container") from exc
    if action == "remove":
        return ContainerState(container=container, action=action, state="removed", changed=True)
    info = await d.call("inspect the container", api.inspect_container, container)
    after = (info.get("State") or {}).get("Status", "")
    changed = action == "restart" or before != after
    return ContainerState(container=container, action=action, state=after, changed=changed)


StopTimeout = Annotated[int, Field(ge=0, le=600, description="Seconds to wait before SIGKILL")]


async def docker_container_start(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Start a created or stopped container."""
    return await _lifecycle(ctx, container, "start")


async def docker_container_stop(
    ctx: Context[Any, Any], container: ContainerRef, timeout: StopTimeout = 10
) -> ContainerState:
    """Stop a running container (SIGTERM, then SIGKILL after `timeout` seconds)."""
    return await _lifecycle(ctx, container, "stop", timeout=timeout)


async def docker_container_restart(
    ctx: Context[Any, Any], container: ContainerRef, timeout: StopTimeout = 10
) -> ContainerState:
    """Restart a container (stop with `timeout`, then start)."""
    return await _lifecycle(ctx, container, "restart", timeout=timeout)


async def docker_container_pause(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Freeze every process of a running container (cgroup freezer)."""
    return await _lifecycle(ctx, container, "pause")


async def docker_container_unpause(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Resume a paused container."""
    return await _lifecycle(ctx, container, "unpause")


async def docker_container_remove(
    ctx: Context[Any, Any],
    container: ContainerRef,
    force: Annotated[bool, Field(description="Kill it first if it is running")] = False,
    volumes: Annotated[bool, Field(description="Also remove its anonymous volumes")] = False,
) -> ContainerState:
    """Remove a container (its writable layer is lost)."""
    return await _lifecycle(ctx, container, "remove", force=force, v=volumes)


class ExecResult(BaseModel):
    container: str
    exit_code: int | None
    stdout: str = Field(description="Standard output (secrets masked)")
    stderr: str = Field(description="Standard error (secrets masked)")
    truncated: bool = Field(description="True when output was cut to the byte cap (the tail is kept)")


async def docker_container_exec(
    ctx: Context[Any, Any],
    container: ContainerRef,
    command: Annotated[list[str], Field(min_length=1, description="Command and arguments (exec form, no shell)")],
    user: Annotated[str | None, Field(description="User to run as (default: the container's)")] = None,
    working_dir: Annotated[str | None, Field(description="Working directory")] = None,
    env: Annotated[dict[str, str] | None, Field(description="Extra environment variables")] = None,
) -> ExecResult:
    """Run a command inside a running container and return its exit code, stdout and stderr (bounded).

    Admin-level: it runs arbitrary commands. No TTY, no stdin, never privileged. A command that stays
    silent longer than the engine timeout (BAM_DOCKER_TIMEOUT_S) fails with a timeout error.
    """
    d = dk(ctx)
    api = await d.api()
    ex = await d.call(
        "create the exec",
        api.exec_create,
        container,
        command,
        stdout=True,
        stderr=True,
        user=user or "",
        workdir=working_dir,
        environment=env,
    )
    out, err = await d.call("run the command", api.exec_start, ex["Id"], demux=True)
    res = await d.call("read the exit code", api.exec_inspect, ex["Id"])
    cap = d.settings.max_log_bytes
    so, t1 = truncate_text((out or b"").decode(errors="replace"), cap)
    se, t2 = truncate_text((err or b"").decode(errors="replace"), cap)
    return ExecResult(
        container=container,
        exit_code=res.get("ExitCode"),
        stdout=redact_output(so),
        stderr=redact_output(se),
        truncated=t1 or t2,
    )


__all__ = ["container_summary", "redact_env_list"]
