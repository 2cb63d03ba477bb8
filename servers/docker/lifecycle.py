"""Container writes: run (with the safety checks), start/stop/restart/pause/unpause and remove."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import newest_lines, redact, redact_output, tool_error
from servers._common.tools import DELETE, DISRUPT, STOP, WRITE, WRITE_IDEMPOTENT, tool
from servers.docker.client import Docker
from servers.docker.common import NEW_NAME_PATTERN, ContainerRef, ImageRef, Labels, NewName, state_of
from servers.docker.safety import (
    check_container,
    check_network,
    host_policy,
    managed_labels,
    resolve_host_path,
    volume_bind_device,
)
from servers.docker.values import parse_size, short_id


class MountSpec(BaseModel):
    type: Literal["bind", "volume", "tmpfs"]
    source: str | None = Field(default=None, description="Host path (bind) or volume name (volume); none for tmpfs")
    target: str = Field(description="Absolute path inside the container")
    read_only: bool = False


VOLUME_NAME = re.compile(NEW_NAME_PATTERN)


async def _mounts(d: Docker, action: str, mounts: list[MountSpec]) -> list[Any]:
    """The engine's mount objects: bind sources resolved and checked, named volumes' own binds checked too."""
    from docker.types import Mount

    out = []
    for m in mounts:
        source = m.source or ""
        if m.type == "tmpfs" and source:
            raise tool_error(action, f"a tmpfs mount ({m.target}) takes no `source`", code="invalid")
        if m.type != "tmpfs" and not source:
            raise tool_error(action, f"mount to {m.target} needs a `source`", code="invalid")
        if m.type == "bind":
            source = resolve_host_path(action, source, "bind", await host_policy(d, "bind"))
        elif m.type == "volume":
            await _check_volume(d, action, source)
        out.append(Mount(m.target, source, type=m.type, read_only=m.read_only))
    return out


def _size(action: str, memory: str | None) -> int | None:
    try:
        return parse_size(memory)
    except ValueError as exc:
        raise tool_error(action, str(exc), code="invalid") from exc


async def _check_volume(d: Docker, action: str, name: str) -> None:
    """A named volume may not be a way around the bind checks (a local volume binding a host path)."""
    import docker.errors

    if not VOLUME_NAME.match(name):
        raise tool_error(action, f"{name!r} is not a volume name", code="invalid", hint="use type=bind for host paths")
    api = await d.api()
    try:
        vol = await d.backend.run_sync(api.inspect_volume, name)
    except docker.errors.NotFound:
        return  # the engine creates a plain local volume
    except Exception as exc:
        raise d.translate(exc, action) from exc
    device = volume_bind_device(action, vol.get("Driver", ""), vol.get("Options") or {}, d.settings)
    if device is not None:
        resolve_host_path(action, device, "bind", await host_policy(d, "bind"))


class RunResult(BaseModel):
    id: str
    name: str
    state: str = Field(description="State after start (and after waiting, when `wait_s` was given)")
    exit_code: int | None = Field(description="Exit code, when it exited within `wait_s`")
    logs: str | None = Field(description="Last log lines (when `wait_s` was given), secrets masked")
    logs_truncated: bool
    removed: bool = Field(description="True when the container was removed after exiting (`remove`)")
    labels: dict[str, str]


Command = Annotated[list[str] | None, Field(description="Command and arguments (exec form)")]
Entrypoint = list[str] | None
ContainerName = NewName | None
Env = dict[str, str] | None
Mounts = Annotated[list[MountSpec] | None, Field(description="Bind, volume or tmpfs mounts")]
NetworkMode = Annotated[
    str | None,
    Field(description="none, bridge or a network name; host, container:<id> need settings"),
]
Memory = Annotated[str | None, Field(description="Memory limit, e.g. 256m, 1g")]
Cpus = Annotated[float | None, Field(gt=0, le=1024, description="Cores, e.g. 0.5")]
PidsLimit = Annotated[int | None, Field(ge=1)]
User = Annotated[str | None, Field(description="name or uid[:gid]")]
WorkingDir = str | None
ReadOnlyRootfs = bool
RestartPolicy = Literal["no", "on-failure", "always", "unless-stopped"]
Privileged = bool
PidMode = Annotated[str | None, Field(description="'host': the host's PID namespace")]
IpcMode = Annotated[str | None, Field(description="'host': the host's IPC namespace")]
CapAdd = list[str] | None
CapDrop = Annotated[list[str] | None, Field(description="e.g. ['ALL']")]
WaitS = Annotated[
    float | None, Field(gt=0, le=600, description="Wait up to this long for it to exit; returns code and logs")
]
Remove = Annotated[bool, Field(description="Remove it once it exited within `wait_s`")]


@dataclass(frozen=True)
class ContainerSpec:
    """What docker_container_run was asked to create, as one value."""

    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    name: str | None = None
    env: dict[str, str] | None = None
    mounts: list[MountSpec] | None = None
    network_mode: str | None = None
    labels: dict[str, str] | None = None
    memory: str | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    user: str | None = None
    working_dir: str | None = None
    read_only_rootfs: bool = False
    restart_policy: str = "no"
    privileged: bool = False
    pid_mode: str | None = None
    ipc_mode: str | None = None
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None


async def _host_config(d: Docker, api: Any, spec: ContainerSpec, action: str) -> Any:
    """The engine's host config, mounts checked (privilege, namespaces and network are checked before)."""
    return api.create_host_config(
        mounts=await _mounts(d, action, spec.mounts or []) or None,
        network_mode=spec.network_mode,
        privileged=spec.privileged,
        pid_mode=spec.pid_mode,
        ipc_mode=spec.ipc_mode,
        cap_add=spec.cap_add or None,
        cap_drop=spec.cap_drop or None,
        mem_limit=_size(action, spec.memory),
        nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
        pids_limit=spec.pids_limit,
        read_only=spec.read_only_rootfs or None,
        restart_policy={"Name": spec.restart_policy} if spec.restart_policy != "no" else None,
        cgroupns="private",  # never the host's cgroup namespace, whatever the engine's default
    )


async def _create_and_start(d: Docker, spec: ContainerSpec, labels: dict[str, str]) -> str:
    """Create the container and start it (removed again when it fails to start); its id."""
    action = "run the container"
    check_container(
        action,
        d.settings,
        privileged=spec.privileged,
        network_mode=spec.network_mode,
        pid_mode=spec.pid_mode,
        ipc_mode=spec.ipc_mode,
        cap_add=spec.cap_add,
    )
    await check_network(d, action, spec.network_mode)
    api = await d.api()
    host_config = await _host_config(d, api, spec, action)
    created = await d.call(
        action,
        api.create_container,
        spec.image,
        command=spec.command,
        entrypoint=spec.entrypoint,
        name=spec.name,
        environment=spec.env,
        labels=labels,
        working_dir=spec.working_dir,
        user=spec.user,
        host_config=host_config,
        detach=True,
        use_config_proxy=False,
    )
    cid: str = created["Id"]
    try:
        await d.call(action, api.start, cid)
    except Exception:
        await d.call("remove the container that failed to start", api.remove_container, cid, force=True)
        raise
    return cid


async def run_container(d: Docker, spec: ContainerSpec, wait_s: float | None, remove: bool) -> RunResult:
    """Run `spec` detached, labelled as managed; wait for it and remove it when asked."""
    final_labels = managed_labels("container_run", spec.labels)
    cid = await _create_and_start(d, spec, final_labels)
    exit_code, logs, logs_truncated = await _wait(d, cid, wait_s) if wait_s else (None, None, False)
    api = await d.api()
    info = await d.call("inspect the container", api.inspect_container, cid)
    removed = remove and exit_code is not None
    if removed:
        await d.call("remove the container", api.remove_container, cid, v=True, force=True)
    return RunResult(
        id=short_id(cid),
        name=(info.get("Name") or "").lstrip("/"),
        state=(info.get("State") or {}).get("Status", ""),
        exit_code=exit_code,
        logs=logs,
        logs_truncated=logs_truncated,
        removed=removed,
        labels=redact(final_labels),
    )


@tool("Docker: run a container", WRITE)
async def docker_container_run(
    ctx: Context[Any, Any],
    image: ImageRef,
    command: Command = None,
    entrypoint: Entrypoint = None,
    name: ContainerName = None,
    env: Env = None,
    mounts: Mounts = None,
    network_mode: NetworkMode = None,
    labels: Labels = None,
    memory: Memory = None,
    cpus: Cpus = None,
    pids_limit: PidsLimit = None,
    user: User = None,
    working_dir: WorkingDir = None,
    read_only_rootfs: ReadOnlyRootfs = False,
    restart_policy: RestartPolicy = "no",
    privileged: Privileged = False,
    pid_mode: PidMode = None,
    ipc_mode: IpcMode = None,
    cap_add: CapAdd = None,
    cap_drop: CapDrop = None,
    wait_s: WaitS = None,
    remove: Remove = False,
) -> RunResult:
    """Create and start a container (detached); the image must be present (docker_image_pull).

    Privileged, host PID/IPC/network modes and cap_add are refused unless the operator allows them; bind sources
    must be inside the allowed roots. Labelled as managed: docker_managed_cleanup removes it.
    """
    spec = ContainerSpec(
        image=image,
        command=command,
        entrypoint=entrypoint,
        name=name,
        env=env,
        mounts=mounts,
        network_mode=network_mode,
        labels=labels,
        memory=memory,
        cpus=cpus,
        pids_limit=pids_limit,
        user=user,
        working_dir=working_dir,
        read_only_rootfs=read_only_rootfs,
        restart_policy=restart_policy,
        privileged=privileged,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        cap_add=cap_add,
        cap_drop=cap_drop,
    )
    return await run_container(state_of(ctx), spec, wait_s, remove)


async def _wait(d: Docker, cid: str, wait_s: float) -> tuple[int | None, str, bool]:
    """Wait up to `wait_s` for the container to exit: exit code (None: still running), last logs, truncated."""
    import requests.exceptions

    api = await d.api()
    exit_code: int | None = None
    try:
        res = await d.backend.run_sync(api.wait, cid, timeout=wait_s)
        exit_code = int(res.get("StatusCode", -1))
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):  # still running
        exit_code = None
    except Exception as exc:
        raise d.translate(exc, "wait for the container") from exc
    raw: bytes = await d.call("read the logs", api.logs, cid, tail=d.settings.max_log_lines)
    logs, truncated = newest_lines(raw.decode(errors="replace"), d.settings.max_log_bytes)
    return exit_code, redact_output(logs), truncated


class ContainerState(BaseModel):
    container: str
    action: str
    state: str = Field(description="State after the action (removed: 'removed')")
    changed: bool = Field(description="False when it already was in the requested state")


async def _lifecycle(ctx: Context[Any, Any], container: str, action: str, **kwargs: Any) -> ContainerState:
    import docker.errors

    d = state_of(ctx)
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


@tool("Docker: start a container", WRITE_IDEMPOTENT)
async def docker_container_start(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Start a created or stopped container."""
    return await _lifecycle(ctx, container, "start")


@tool("Docker: stop a container", STOP)
async def docker_container_stop(
    ctx: Context[Any, Any], container: ContainerRef, timeout: StopTimeout = 10
) -> ContainerState:
    """Stop a running container (SIGTERM, then SIGKILL after `timeout` seconds)."""
    return await _lifecycle(ctx, container, "stop", timeout=timeout)


@tool("Docker: restart a container", DISRUPT)
async def docker_container_restart(
    ctx: Context[Any, Any], container: ContainerRef, timeout: StopTimeout = 10
) -> ContainerState:
    """Restart a container (stop with `timeout`, then start)."""
    return await _lifecycle(ctx, container, "restart", timeout=timeout)


@tool("Docker: pause a container", STOP)
async def docker_container_pause(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Freeze every process of a running container (cgroup freezer)."""
    return await _lifecycle(ctx, container, "pause")


@tool("Docker: unpause a container", WRITE_IDEMPOTENT)
async def docker_container_unpause(ctx: Context[Any, Any], container: ContainerRef) -> ContainerState:
    """Resume a paused container."""
    return await _lifecycle(ctx, container, "unpause")


@tool("Docker: remove a container", DELETE)
async def docker_container_remove(
    ctx: Context[Any, Any],
    container: ContainerRef,
    force: Annotated[bool, Field(description="Kill it first if it is running")] = False,
    volumes: Annotated[bool, Field(description="Also remove its anonymous volumes")] = False,
) -> ContainerState:
    """Remove a container (its writable layer is lost)."""
    return await _lifecycle(ctx, container, "remove", force=force, v=volumes)
