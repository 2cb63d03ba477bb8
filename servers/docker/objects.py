"""Volume and network tools, and the list/cleanup of everything this server created."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, redact, tool_error
from servers._common.paging import items_page, offset_page, page_size
from servers._common.tools import DELETE, READ, WRITE, tool
from servers.docker.common import (
    LabelFilter,
    Labels,
    Limit,
    NewName,
    ObjectRef,
    Offset,
    list_filters,
    provenance,
    state_of,
)
from servers.docker.safety import (
    check_network_create,
    host_policy,
    managed_labels,
    resolve_host_path,
    volume_bind_device,
)
from servers.docker.settings import MANAGED_LABEL
from servers.docker.values import short_id

VolumeName = ObjectRef
NetworkRef = ObjectRef


# -------------------------------------------------------------------------------------------- volumes


class VolumeSummary(BaseModel):
    name: str
    driver: str
    mountpoint: str | None
    created: str | None
    scope: str | None
    labels: dict[str, str]
    options: dict[str, str]
    managed: bool


class VolumeList(BaseModel):
    volumes: list[VolumeSummary]
    count: int
    total: int
    truncated: bool
    next_offset: int | None
    warnings: list[str]


def volume_summary(v: dict[str, Any]) -> VolumeSummary:
    return VolumeSummary(
        name=v.get("Name", ""),
        driver=v.get("Driver", ""),
        mountpoint=v.get("Mountpoint"),
        created=v.get("CreatedAt"),
        scope=v.get("Scope"),
        options=redact(v.get("Options") or {}),
        **provenance(v),
    )


@tool("Docker: list volumes", READ)
async def docker_volumes_list(
    ctx: Context[Any, Any],
    name: Annotated[str | None, Field(description="Name contains this text")] = None,
    label: LabelFilter = None,
    dangling: Annotated[bool | None, Field(description="true: only volumes no container uses")] = None,
    managed_only: Annotated[bool, Field(description="Only volumes this server created")] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> VolumeList:
    """List volumes with driver, labels and options; filter by name, label or dangling."""
    d = state_of(ctx)
    api = await d.api()
    filters = list_filters(label, managed_only, name=name, dangling=dangling)
    res = await d.call("list volumes", api.volumes, filters=filters) or {}
    items = sorted((volume_summary(v) for v in res.get("Volumes") or []), key=lambda v: v.name)
    kept, page = items_page(d.settings, items, offset, limit)
    return VolumeList(volumes=kept, **page, warnings=list(res.get("Warnings") or []))


class VolumeDetails(VolumeSummary):
    status: dict[str, Any] | None = None
    used_by: list[str] = Field(description="A page of the containers (names) that mount it")
    used_by_total: int = Field(description="Containers that mount it")
    next_offset: int | None = Field(description="Pass as `offset` for the next page of `used_by`")
    labels_total: int = Field(description="Labels of the volume (`labels` may hold fewer when cut)")
    options_total: int = Field(description="Driver options of the volume (`options` may hold fewer when cut)")
    truncated: bool = Field(
        description="True when containers (see next_offset), labels, options or status were left out"
    )
    notes: list[str] = Field(default_factory=list)


def _capped(values: dict[str, Any], max_bytes: int) -> tuple[dict[str, Any], bool]:
    """A mapping, sorted by key, cut at `max_bytes` of JSON."""
    kept, cut = cap_items(sorted(values.items()), max_items=len(values) or 1, max_bytes=max_bytes)
    return dict(kept), cut


@tool("Docker: inspect a volume", READ)
async def docker_volume_inspect(
    ctx: Context[Any, Any],
    name: VolumeName,
    label_prefix: Annotated[str | None, Field(description="Only labels with this key prefix")] = None,
    limit: Limit = None,
    offset: Offset = 0,
) -> VolumeDetails:
    """Inspect a volume: driver, mountpoint, options, labels and a page of the containers using it.

    Labels and options are cut at the byte cap (`truncated`); narrow with `label_prefix`.
    """
    d = state_of(ctx)
    api = await d.api()
    v = await d.call("inspect the volume", api.inspect_volume, name)
    users = await d.call("list containers using the volume", api.containers, all=True, filters={"volume": name})
    base = volume_summary(v)
    quarter = d.settings.max_bytes // 4
    raw_labels = {k: x for k, x in base.labels.items() if not label_prefix or k.startswith(label_prefix)}
    labels, labels_cut = _capped(raw_labels, quarter)
    options, options_cut = _capped(base.options, quarter)
    status: dict[str, Any] | None = None
    status_cut = False
    if v.get("Status"):
        status, status_cut = _capped(redact(v.get("Status")), quarter)
    names = sorted((c.get("Names") or ["/"])[0].lstrip("/") for c in users)
    kept, more, nxt = offset_page(names, offset, page_size(d.settings, limit), quarter)
    notes = []
    if labels_cut:
        notes.append("labels cut at the byte cap: read the rest with `label_prefix`")
    if options_cut or status_cut:
        notes.append("driver options or status cut at the byte cap (BAM_DOCKER_MAX_BYTES)")
    return VolumeDetails(
        **base.model_dump(exclude={"labels", "options"}),
        labels=labels,
        options=options,
        status=status,
        used_by=kept,
        used_by_total=len(names),
        next_offset=nxt,
        labels_total=len(raw_labels),
        options_total=len(base.options),
        truncated=more or labels_cut or options_cut or status_cut,
        notes=notes,
    )


@tool("Docker: create a volume", WRITE)
async def docker_volume_create(
    ctx: Context[Any, Any],
    name: NewName,
    driver: str = "local",
    driver_opts: Annotated[dict[str, str] | None, Field(description="Driver options")] = None,
    labels: Labels = None,
) -> VolumeSummary:
    """Create a named volume (labelled as managed).

    Local-driver options: none, type=tmpfs, or o=bind with a device inside the allowed bind roots.
    """
    d = state_of(ctx)
    action = "create the volume"
    opts = dict(driver_opts or {})
    device = volume_bind_device(action, driver, opts, d.settings)
    if device is not None:
        real = resolve_host_path(action, device, "bind", await host_policy(d, "bind"))
        opts = {k: real if k.strip().lower() == "device" else v for k, v in opts.items()}
    api = await d.api()
    v = await d.call(
        action,
        api.create_volume,
        name,
        driver=driver,
        driver_opts=opts or None,
        labels=managed_labels("volume_create", labels),
    )
    return volume_summary(v)


class Removed(BaseModel):
    kind: str
    name: str
    removed: bool


@tool("Docker: remove a volume", DELETE)
async def docker_volume_remove(
    ctx: Context[Any, Any],
    name: VolumeName,
    force: Annotated[bool, Field(description="Remove even if the engine reports it in use")] = False,
) -> Removed:
    """Remove a volume and all data in it."""
    d = state_of(ctx)
    api = await d.api()
    await d.call("remove the volume", api.remove_volume, name, force=force)
    return Removed(kind="volume", name=name, removed=True)


# ------------------------------------------------------------------------------------------- networks


class NetworkSummary(BaseModel):
    id: str
    name: str
    driver: str
    scope: str | None
    internal: bool
    attachable: bool
    subnets: list[str]
    created: str | None
    labels: dict[str, str]
    managed: bool


class NetworkList(BaseModel):
    networks: list[NetworkSummary]
    count: int
    total: int
    truncated: bool
    next_offset: int | None


def network_summary(n: dict[str, Any]) -> NetworkSummary:
    cfg = (n.get("IPAM") or {}).get("Config") or []
    return NetworkSummary(
        id=short_id(n.get("Id")),
        name=n.get("Name", ""),
        driver=n.get("Driver", ""),
        scope=n.get("Scope"),
        internal=bool(n.get("Internal")),
        attachable=bool(n.get("Attachable")),
        subnets=[c["Subnet"] for c in cfg if isinstance(c, dict) and c.get("Subnet")],
        created=n.get("Created"),
        **provenance(n),
    )


@tool("Docker: list networks", READ)
async def docker_networks_list(
    ctx: Context[Any, Any],
    name: Annotated[str | None, Field(description="Name contains this text")] = None,
    driver: Annotated[str | None, Field(description="Only this driver, e.g. bridge")] = None,
    label: LabelFilter = None,
    managed_only: Annotated[bool, Field(description="Only networks this server created")] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> NetworkList:
    """List networks with driver, scope, subnets and labels."""
    d = state_of(ctx)
    api = await d.api()
    filters = list_filters(label, managed_only, name=name, driver=driver)
    res = await d.call("list networks", api.networks, filters=filters) or []
    items = sorted((network_summary(n) for n in res), key=lambda n: n.name)
    kept, page = items_page(d.settings, items, offset, limit)
    return NetworkList(networks=kept, **page)


class NetworkDetails(NetworkSummary):
    gateways: list[str]
    options: dict[str, str]
    containers: dict[str, Any] = Field(description="Attached containers: name, IPv4Address, MacAddress")
    truncated: bool = Field(description="True when the container map was cut to the server's item cap")


@tool("Docker: inspect a network", READ)
async def docker_network_inspect(ctx: Context[Any, Any], network: NetworkRef) -> NetworkDetails:
    """Inspect a network: driver, IPAM subnets and gateways, options and attached containers."""
    d = state_of(ctx)
    api = await d.api()
    n = await d.call("inspect the network", api.inspect_network, network)
    cfg = (n.get("IPAM") or {}).get("Config") or []
    cons = n.get("Containers") or {}
    items = [
        (short_id(k), {"name": v.get("Name"), "ipv4": v.get("IPv4Address"), "mac": v.get("MacAddress")})
        for k, v in cons.items()
    ]
    kept, truncated, _ = offset_page(items, 0, d.settings.max_items_limit, d.settings.max_bytes)
    return NetworkDetails(
        **network_summary(n).model_dump(),
        gateways=[c["Gateway"] for c in cfg if isinstance(c, dict) and c.get("Gateway")],
        options=redact(n.get("Options") or {}),
        containers=dict(kept),
        truncated=truncated,
    )


@tool("Docker: create a network", WRITE)
async def docker_network_create(
    ctx: Context[Any, Any],
    name: NewName,
    driver: str = "bridge",
    internal: Annotated[bool, Field(description="No route to outside networks")] = False,
    subnet: Annotated[str | None, Field(description="IPv4 subnet (CIDR)")] = None,
    gateway: Annotated[str | None, Field(description="Gateway address inside `subnet`")] = None,
    attachable: Annotated[bool, Field(description="Let standalone containers attach (overlay)")] = False,
    options: Annotated[dict[str, str] | None, Field(description="Driver options")] = None,
    labels: Labels = None,
) -> NetworkSummary:
    """Create a network (labelled as created by this server)."""
    from docker.types import IPAMConfig, IPAMPool

    d = state_of(ctx)
    action = "create the network"
    check_network_create(action, driver, options, d.settings)
    if gateway and not subnet:
        raise tool_error(action, "`gateway` needs `subnet`", code="invalid")
    ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=gateway)]) if subnet else None
    api = await d.api()
    res = await d.call(
        action,
        api.create_network,
        name,
        driver=driver,
        internal=internal,
        ipam=ipam,
        attachable=attachable or None,
        options=options,
        labels=managed_labels("network_create", labels),
    )
    n = await d.call("inspect the network", api.inspect_network, res["Id"])
    return network_summary(n)


@tool("Docker: remove a network", DELETE)
async def docker_network_remove(ctx: Context[Any, Any], network: NetworkRef) -> Removed:
    """Remove a network (no container may be attached)."""
    d = state_of(ctx)
    api = await d.api()
    await d.call("remove the network", api.remove_network, network)
    return Removed(kind="network", name=network, removed=True)


# ------------------------------------------------------------------------------------- managed objects

Kind = Literal["container", "image", "volume", "network"]


class ManagedItem(BaseModel):
    kind: Kind
    id: str
    name: str
    tool: str | None = Field(description="The tool that created it")
    state: str | None = Field(default=None, description="Container state")


class ManagedList(BaseModel):
    items: list[ManagedItem]
    count: int
    total: int
    truncated: bool
    next_offset: int | None


async def _managed(ctx: Context[Any, Any], kinds: list[Kind]) -> list[ManagedItem]:
    from servers.docker.settings import TOOL_LABEL

    d = state_of(ctx)
    api = await d.api()
    flt = {"label": [f"{MANAGED_LABEL}=true"]}
    out: list[ManagedItem] = []
    if "container" in kinds:
        for c in await d.call("list containers", api.containers, all=True, filters=flt):
            out.append(
                ManagedItem(
                    kind="container",
                    id=short_id(c.get("Id")),
                    name=(c.get("Names") or ["/"])[0].lstrip("/"),
                    tool=(c.get("Labels") or {}).get(TOOL_LABEL),
                    state=c.get("State"),
                )
            )
    if "network" in kinds:
        for n in await d.call("list networks", api.networks, filters=flt):
            out.append(
                ManagedItem(
                    kind="network",
                    id=short_id(n.get("Id")),
                    name=n.get("Name", ""),
                    tool=(n.get("Labels") or {}).get(TOOL_LABEL),
                )
            )
    if "volume" in kinds:
        res = await d.call("list volumes", api.volumes, filters=flt) or {}
        for v in res.get("Volumes") or []:
            out.append(
                ManagedItem(
                    kind="volume",
                    id=v.get("Name", ""),
                    name=v.get("Name", ""),
                    tool=(v.get("Labels") or {}).get(TOOL_LABEL),
                )
            )
    if "image" in kinds:
        for i in await d.call("list images", api.images, filters=flt):
            tags = [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
            out.append(
                ManagedItem(
                    kind="image",
                    id=short_id(i.get("Id")),
                    name=tags[0] if tags else short_id(i.get("Id")),
                    tool=(i.get("Labels") or {}).get(TOOL_LABEL),
                )
            )
    return out


ALL_KINDS: list[Kind] = ["container", "network", "volume", "image"]
KindsParam = list[Kind] | None  # default: all


@tool("Docker: list what this server created", READ)
async def docker_managed_list(
    ctx: Context[Any, Any], kinds: KindsParam = None, limit: Limit = None, offset: Offset = 0
) -> ManagedList:
    """List the containers, networks, volumes and images this server created (by its provenance label)."""
    d = state_of(ctx)
    items = await _managed(ctx, list(kinds or ALL_KINDS))
    kept, page = items_page(d.settings, items, offset, limit)
    return ManagedList(items=kept, **page)


class CleanupItem(ManagedItem):
    removed: bool
    error: str | None = None


class CleanupResult(BaseModel):
    items: list[CleanupItem]
    removed: int
    failed: int
    dry_run: bool
    truncated: bool = Field(description="True when the item list was cut by the byte cap (all were processed)")


@tool("Docker: remove what this server created", DELETE)
async def docker_managed_cleanup(
    ctx: Context[Any, Any],
    kinds: KindsParam = None,
    name_contains: Annotated[str | None, Field(description="Name contains this text")] = None,
    dry_run: bool = False,
) -> CleanupResult:
    """Remove everything this server created (by its managed label) and nothing else: containers (forced), networks,
    volumes, images.
    """
    d = state_of(ctx)
    api = await d.api()
    items = await _managed(ctx, list(kinds or ALL_KINDS))
    if name_contains:
        items = [i for i in items if name_contains in i.name]
    out: list[CleanupItem] = []
    order = {"container": 0, "network": 1, "volume": 2, "image": 3}
    for it in sorted(items, key=lambda i: order[i.kind]):
        if dry_run:
            out.append(CleanupItem(**it.model_dump(), removed=False))
            continue
        try:
            if it.kind == "container":
                await d.call("remove the container", api.remove_container, it.id, force=True, v=True)
            elif it.kind == "network":
                await d.call("remove the network", api.remove_network, it.id)
            elif it.kind == "volume":
                await d.call("remove the volume", api.remove_volume, it.id, force=True)
            else:
                await d.call("remove the image", api.remove_image, it.id, force=True)
            out.append(CleanupItem(**it.model_dump(), removed=True))
        except Exception as exc:  # keep going: report each failure next to its object
            out.append(CleanupItem(**it.model_dump(), removed=False, error=str(exc)))
    kept, truncated, _ = offset_page(out, 0, len(out) or 1, d.settings.max_bytes)
    return CleanupResult(
        items=kept,
        removed=sum(1 for i in out if i.removed),
        failed=sum(1 for i in out if not i.removed and not dry_run),
        dry_run=dry_run,
        truncated=truncated,
    )
