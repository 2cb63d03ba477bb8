"""Container writes: run (with the safety checks), start/stop/restart/pause/unpause and remove."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import newest_lines, redact, redact_output, tool_error
from servers.docker.client import Docker
from servers.docker.common import ContainerRef, ImageRef, Labels, dk
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


VOLUME_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


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


async def docker_container_run(
    ctx: Context[Any, Any],
    image: ImageRef,
    command: Annotated[list[str] | None, Field(description="Command and arguments (exec form)")] = None,
    entrypoint: list[str] | None = None,
    name: Annotated[str | None, Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", max_length=128)] = None,
    env: dict[str, str] | None = None,
    mounts: Annotated[list[MountSpec] | None, Field(description="Bind, volume or tmpfs mounts")] = None,
    network_mode: Annotated[
        str | None,
        Field(description="none, bridge or a network name; host, container:<id> need settings"),
    ] = None,
    labels: Labels = None,
    memory: Annotated[str | None, Field(description="Memory limit, e.g. 256m, 1g")] = None,
    cpus: Annotated[float | None, Field(gt=0, le=1024, description="Cores, e.g. 0.5")] = None,
    pids_limit: Annotated[int | None, Field(ge=1)] = None,
    user: Annotated[str | None, Field(description="name or uid[:gid]")] = None,
    working_dir: str | None = None,
    read_only_rootfs: bool = False,
    restart_policy: Literal["no", "on-failure", "always", "unless-stopped"] = "no",
    privileged: bool = False,
    pid_mode: Annotated[str | None, Field(description="'host': the host's PID namespace")] = None,
    ipc_mode: Annotated[str | None, Field(description="'host': the host's IPC namespace")] = None,
    cap_add: list[str] | None = None,
    cap_drop: Annotated[list[str] | None, Field(description="e.g. ['ALL']")] = None,
    wait_s: Annotated[
        float | None, Field(gt=0, le=600, description="Wait up to this long for it to exit; returns code and logs")
    ] = None,
    remove: Annotated[bool, Field(description="Remove it once it exited within `wait_s`")] = False,
) -> RunResult:
    """Create and start a container (detached); the image must be present (docker_image_pull).

    Privileged, host PID/IPC/network modes and cap_add are refused unless the operator allows them; bind sources
    must be inside the allowed roots. Labelled as managed: docker_managed_cleanup removes it.
    """
    d = dk(ctx)
    action = "run the container"
    check_container(
        action,
        d.settings,
        privileged=privileged,
        network_mode=network_mode,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        cap_add=cap_add,
    )
    await check_network(d, action, network_mode)
    api = await d.api()
    final_labels = managed_labels("container_run", labels)
    host_config = api.create_host_config(
        mounts=await _mounts(d, action, mounts or []) or None,
        network_mode=network_mode,
        privileged=privileged,
        pid_mode=pid_mode,
        ipc_mode=ipc_mode,
        cap_add=cap_add or None,
        cap_drop=cap_drop or None,
        mem_limit=_size(action, memory),
        nano_cpus=int(cpus * 1e9) if cpus else None,
        pids_limit=pids_limit,
        read_only=read_only_rootfs or None,
        restart_policy={"Name": restart_policy} if restart_policy != "no" else None,
        cgroupns="private",  # never the host's cgroup namespace, whatever the engine's default
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
    exit_code, logs, logs_truncated = await _wait(d, cid, wait_s) if wait_s else (None, None, False)
    removed = False
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
