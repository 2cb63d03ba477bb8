"""Checks that run before anything is created: what a container, volume, build or registry call may do.

The central policy decides whether write tools are exposed at all. These checks apply even when they
are: privileged containers, the host PID/IPC namespaces, bind mounts of `/` or of the Docker socket
(or a directory holding it) and added capabilities are refused unless a `BAM_DOCKER_ALLOW_*` setting
allows each one.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import tool_error
from servers.docker.settings import MANAGED_LABEL, TOOL_LABEL, DockerSettings


def refuse(action: str, what: str, setting: str) -> ToolError:
    return tool_error(
        action,
        f"refused: {what}",
        code="policy",
        hint=f"the server's safety settings forbid it; an operator can allow it with {setting}=true",
    )


def managed_labels(tool: str, labels: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's labels plus the server's provenance labels (which the caller cannot override)."""
    out = dict(labels or {})
    out[MANAGED_LABEL] = "true"
    out[TOOL_LABEL] = tool
    return out


def _normalize(path: str) -> list[str]:
    """The path as written and, when it exists on this host, with symlinks resolved."""
    norm = posixpath.normpath("/" + path.strip().lstrip("/")) if path.strip().startswith("/") else path.strip()
    out = [norm]
    try:
        real = os.path.realpath(norm)
        if real not in out:
            out.append(real)
    except OSError:
        pass
    return out


def _covers(source: str, target: str) -> bool:
    """Whether mounting `source` exposes `target` (the same path or an ancestor of it)."""
    if source == "/":
        return True
    return target == source or target.startswith(source.rstrip("/") + "/")


def check_host_path(action: str, source: str, s: DockerSettings) -> None:
    """Refuse a bind source (or bind-volume device) that is `/` or exposes the Docker socket."""
    if not source.strip().startswith("/"):
        return  # a named volume, not a host path
    candidates = _normalize(source)
    if "/" in candidates and not s.allow_root_mount:
        raise refuse(action, f"mounting the host root filesystem ({source})", "BAM_DOCKER_ALLOW_ROOT_MOUNT")
    if s.allow_socket_mount:
        return
    sockets: list[str] = []
    for p in s.socket_paths():
        sockets.extend(_normalize(p))
    for c in candidates:
        if c == "/":
            continue
        for sock in sockets:
            if _covers(c, sock):
                raise refuse(
                    action, f"mounting the Docker socket ({source} exposes {sock})", "BAM_DOCKER_ALLOW_SOCKET_MOUNT"
                )


def check_container(
    action: str,
    s: DockerSettings,
    *,
    privileged: bool,
    pid_mode: str | None,
    ipc_mode: str | None,
    cap_add: Iterable[str] | None,
    host_paths: Iterable[str],
) -> None:
    if privileged and not s.allow_privileged:
        raise refuse(action, "privileged containers", "BAM_DOCKER_ALLOW_PRIVILEGED")
    if pid_mode and pid_mode.strip().lower() == "host" and not s.allow_host_pid:
        raise refuse(action, "the host PID namespace (pid_mode=host)", "BAM_DOCKER_ALLOW_HOST_PID")
    if ipc_mode and ipc_mode.strip().lower() == "host" and not s.allow_host_ipc:
        raise refuse(action, "the host IPC namespace (ipc_mode=host)", "BAM_DOCKER_ALLOW_HOST_IPC")
    caps = [c for c in (cap_add or []) if c.strip()]
    if caps and not s.allow_cap_add:
        raise refuse(action, f"adding capabilities ({', '.join(caps)})", "BAM_DOCKER_ALLOW_CAP_ADD")
    for p in host_paths:
        check_host_path(action, p, s)


def check_build_context(action: str, path: str, s: DockerSettings) -> str:
    """The resolved context directory, if it is allowed."""
    if not path.startswith("/"):
        raise tool_error(action, f"the context directory must be an absolute path, got {path!r}", code="invalid")
    real = os.path.realpath(path)
    if not os.path.isdir(real):
        raise tool_error(action, f"no directory {path!r} on the server host", code="not_found")
    if real == "/":
        raise tool_error(
            action,
            "refused: the whole host filesystem as a build context",
            code="policy",
            hint="pass the directory that holds the Dockerfile and its files",
        )
    roots = [os.path.realpath(r) for r in s.build_root_list()]
    if roots and not any(_covers(r, real) for r in roots):
        raise tool_error(
            action,
            f"refused: {path!r} is outside the allowed build roots {roots}",
            code="policy",
            hint="put the context under one of BAM_DOCKER_BUILD_ROOTS, or pass the Dockerfile inline",
        )
    return real


def registry_of(reference: str) -> str:
    """The registry host of an image reference (`docker.io` for Docker Hub names)."""
    first, sep, _ = reference.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def check_registry(action: str, reference: str, s: DockerSettings) -> None:
    allowed = s.registry_list()
    if not allowed:
        return
    reg = registry_of(reference)
    if reg not in allowed:
        raise tool_error(
            action,
            f"refused: registry {reg!r} is not in the allowed registries {allowed}",
            code="policy",
            hint="use an image from an allowed registry, or ask an operator to extend BAM_DOCKER_ALLOWED_REGISTRIES",
        )
