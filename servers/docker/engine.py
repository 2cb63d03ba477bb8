"""Engine tools: version and host information, and disk usage with what a prune would reclaim."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import redact_output
from servers._common.tools import READ, tool
from servers.docker.common import state_of
from servers.docker.values import short_id


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


@tool("Docker: engine version and info", READ)
async def docker_engine_info(ctx: Context[Any, Any]) -> EngineInfo:
    """Show the Docker engine's version, drivers, object counts and warnings."""
    d = state_of(ctx)
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


Row = dict[str, Any]


def _category(
    kind: Literal["images", "containers", "volumes", "build_cache"],
    rows: list[Row],
    size: Callable[[Row], int],
    active: Callable[[Row], bool],
    reclaimable: Callable[[Row], bool] | None = None,
) -> DfCategory:
    """Counts and sizes of one kind; by default what is not active is reclaimable."""
    free = reclaimable or (lambda r: not active(r))
    return DfCategory(
        kind=kind,
        count=len(rows),
        active=sum(1 for r in rows if active(r)),
        size_bytes=sum(size(r) for r in rows),
        reclaimable_bytes=sum(size(r) for r in rows if free(r)),
    )


def _image_size(i: Row) -> int:
    return int(i.get("Size") or 0)


def _image_used(i: Row) -> bool:
    return int(i.get("Containers") or 0) > 0


def _container_size(c: Row) -> int:
    return int(c.get("SizeRw") or 0)


def _container_running(c: Row) -> bool:
    return c.get("State") == "running"


def _volume_size(v: Row) -> int:
    return max(0, int((v.get("UsageData") or {}).get("Size") or 0))  # -1: not computed


def _volume_refs(v: Row) -> int:
    return int((v.get("UsageData") or {}).get("RefCount") or 0)  # -1: not computed


def _volume_used(v: Row) -> bool:
    return _volume_refs(v) > 0


@tool("Docker: disk usage", READ)
async def docker_engine_df(
    ctx: Context[Any, Any],
    top: Annotated[int, Field(ge=0, le=200, description="Largest items to list")] = 10,
) -> DiskUsage:
    """Show disk usage of images, containers, volumes and build cache, and what pruning would reclaim."""
    d = state_of(ctx)
    api = await d.api()
    df = await d.call("read disk usage", api.df)
    imgs: list[Row] = df.get("Images") or []
    cons: list[Row] = df.get("Containers") or []
    vols: list[Row] = df.get("Volumes") or []
    cache: list[Row] = df.get("BuildCache") or []
    cats = [
        _category("images", imgs, _image_size, _image_used),
        _category("containers", cons, _container_size, _container_running),
        _category("volumes", vols, _volume_size, _volume_used, lambda v: _volume_refs(v) == 0),
        _category(
            "build_cache",
            cache,
            lambda b: int(b.get("Size") or 0),
            lambda b: bool(b.get("InUse")),
            lambda b: not b.get("InUse") and not b.get("Shared"),
        ),
    ]
    items: list[DfItem] = []
    for i in imgs:
        tags = i.get("RepoTags") or []
        name = tags[0] if tags else short_id(i.get("Id"))
        items.append(DfItem(kind="image", name=name, size_bytes=_image_size(i), in_use=_image_used(i)))
    for c in cons:
        name = (c.get("Names") or ["/" + short_id(c.get("Id"))])[0].lstrip("/")
        items.append(DfItem(kind="container", name=name, size_bytes=_container_size(c), in_use=_container_running(c)))
    for v in vols:
        items.append(DfItem(kind="volume", name=v.get("Name", ""), size_bytes=_volume_size(v), in_use=_volume_used(v)))
    items.sort(key=lambda x: x.size_bytes, reverse=True)
    return DiskUsage(
        layers_size_bytes=int(df.get("LayersSize") or 0),
        categories=cats,
        largest=items[:top],
        truncated=len(items) > top,
    )
