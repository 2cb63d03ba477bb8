"""Checks that run before anything is created: what a container, volume, build or registry call may do.

The central policy decides whether write tools are exposed at all. These checks apply even when they are.

Host paths (bind sources, bind-like volume devices, build contexts, Dockerfiles) all go through
`resolve_host_path`: a path is accepted only when it is absolute, resolves strictly (every component
exists, symlinks followed; any error is a refusal) inside an allowed root, and neither lies in nor
contains a system tree or a runtime socket. The engine then gets the resolved path, not the caller's.
Namespaces: host network/PID/IPC and `container:<id>` modes are refused unless a setting allows each.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import tool_error
from servers.docker.settings import MANAGED_LABEL, TOOL_LABEL, DockerSettings

if TYPE_CHECKING:
    from servers.docker.client import Docker

PathKind = Literal["bind", "context", "dockerfile"]

SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/sys",
    "/usr",
    "/var/lib/buildkit",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/docker",
    "/var/lib/kubelet",
    "/var/lib/libvirt",
    "/var/lib/lxc",
    "/var/lib/lxd",
    "/var/lib/rancher",
    "/var/lock",
    "/var/log",
    "/var/run",
    "/var/snap",
    "/var/spool/cron",
)
"""Kernel, system and runtime trees: never a host path, nor an ancestor of one, whatever the roots."""

RUNTIME_SOCKETS = (
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/podman/podman.sock",
    "/run/cri-dockerd.sock",
    "/run/buildkit/buildkitd.sock",
    "/run/k3s/containerd/containerd.sock",
)
"""Well-known container runtime sockets (the engine's own socket path is added at run time)."""

USER_SECRETS = (".docker", ".ssh", ".aws", ".kube", ".gnupg", ".config/gcloud")
"""Credential directories in the server user's home."""

SCAN_LIMIT = 20_000
"""Entries a bind source directory may hold: each is checked for sockets, devices and mount points."""

MAX_PATH = 4_096


def refuse(action: str, what: str, setting: str) -> ToolError:
    return tool_error(
        action,
        f"refused: {what}",
        code="policy",
        hint=f"the server's safety settings forbid it; an operator can allow it with {setting}=true",
    )


def refuse_path(action: str, why: str, hint: str) -> ToolError:
    return tool_error(action, f"refused: {why}", code="policy", hint=hint)


def managed_labels(tool: str, labels: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's labels plus the server's provenance labels (which the caller cannot override)."""
    out = dict(labels or {})
    out[MANAGED_LABEL] = "true"
    out[TOOL_LABEL] = tool
    return out


# ------------------------------------------------------------------------------------------ host paths


def _inside(path: str, tree: str) -> bool:
    return path == tree or path.startswith(tree.rstrip("/") + "/")


def _both_forms(paths: Iterable[str]) -> set[str]:
    """Each path as written and with symlinks resolved (non-strict: also for paths absent on this host)."""
    out: set[str] = set()
    for p in paths:
        if p and p.startswith("/"):
            out.add(os.path.normpath(p))
            out.add(os.path.realpath(p))
    return out


@dataclass(frozen=True)
class HostPathPolicy:
    """Where host paths may come from: allowed roots and protected paths (all resolved)."""

    roots: tuple[str, ...]
    protected: frozenset[str]
    setting: str
    remote: bool = False
    written: tuple[str, ...] = ()
    """The roots as configured (normalized, not resolved), for the check before touching the filesystem."""

    @classmethod
    def of(cls, s: DockerSettings, kind: PathKind, engine_paths: Iterable[str] = ()) -> HostPathPolicy:
        setting = "BAM_DOCKER_BIND_ROOTS" if kind == "bind" else "BAM_DOCKER_BUILD_ROOTS"
        raw = s.bind_root_list() if kind == "bind" else s.build_root_list()
        home = os.path.expanduser("~")
        protected = _both_forms(
            [
                *SYSTEM_TREES,
                *RUNTIME_SOCKETS,
                *(os.path.join(home, x) for x in USER_SECRETS),
                s.socket_path() or "",
                os.environ.get("DOCKER_CERT_PATH", ""),
                *engine_paths,
            ]
        )
        roots: list[str] = []
        written: list[str] = []
        for r in raw:
            try:
                real = os.path.realpath(r, strict=True) if r.startswith("/") else ""
            except (OSError, ValueError, RuntimeError):
                continue  # a root that does not resolve accepts nothing
            if real and real != "/" and not any(_inside(real, p) for p in protected):
                roots.append(real)  # a root holding a protected path stays usable for its other subtrees
                written.append(os.path.normpath(r))
        return cls(tuple(roots), frozenset(protected), setting, not s.engine_is_local(), tuple(written))


async def host_policy(d: Docker, kind: PathKind) -> HostPathPolicy:
    """The policy for `kind` paths, with the engine's own data root protected as well."""
    return HostPathPolicy.of(d.settings, kind, await d.engine_paths())


def _shape_error(path: str) -> str | None:
    """Why `path` is not even a candidate host path (before touching the filesystem)."""
    if not path.startswith("/"):
        return "a relative path (it would resolve against the engine's working directory)"
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH:
        return f"a path longer than {MAX_PATH} bytes"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        return "a path with control characters (NUL, newline, ...)"
    return None


def _special_entry(top: str) -> str | None:
    """A socket, device or mount point at or under `top` (bounded walk, symlinks not followed)."""
    st = os.stat(top)
    if not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
        return f"{top} (not a regular file or directory)"
    dev = st.st_dev
    stack = [top] if stat.S_ISDIR(st.st_mode) else []
    seen = 0
    while stack:
        with os.scandir(stack.pop()) as entries:
            for e in entries:
                seen += 1
                if seen > SCAN_LIMIT:
                    return f"{top} (more than {SCAN_LIMIT} entries to check; bind a smaller directory)"
                est = e.stat(follow_symlinks=False)
                mode = est.st_mode
                if stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                    return f"{e.path} (a socket or device)"
                if stat.S_ISDIR(mode):
                    if est.st_dev != dev:
                        return f"{e.path} (another filesystem mounted there)"
                    stack.append(e.path)
    return None


def resolve_host_path(action: str, path: str, kind: PathKind, policy: HostPathPolicy) -> str:
    """The resolved host path, if `path` may reach the engine as a `kind` path; a policy refusal otherwise.

    The only check of host paths: bind sources, bind-like volume devices, build contexts and Dockerfiles.
    Error messages name the path, never the content of a file.
    """
    hint = f"use a path inside the allowed roots {list(policy.roots)} ({policy.setting})"
    if not policy.roots:
        hint = f"{policy.setting} holds no usable root (`/` and system trees are ignored): no host path is accepted"
        if kind != "bind":
            hint += ", or pass the Dockerfile inline"
    if policy.remote:
        raise refuse_path(
            action,
            f"host path {path!r}: the engine is not on this host, so its paths cannot be checked here",
            "use named volumes, tmpfs mounts or inline Dockerfiles with a remote engine",
        )
    why = _shape_error(path)
    if why:
        raise refuse_path(action, f"{path!r} is {why}", "pass an absolute path; " + hint)
    if not any(_inside(os.path.normpath(path), r) for r in {*policy.roots, *policy.written}):
        # outside as written: refused before touching the filesystem (no probing of what exists there)
        raise refuse_path(action, f"{path!r} is outside the allowed roots", hint)
    try:
        real = os.path.realpath(path, strict=True)
    except (OSError, ValueError, RuntimeError) as exc:
        reason = type(exc).__name__ if not isinstance(exc, OSError) else os.strerror(exc.errno or 0)
        raise refuse_path(action, f"{path!r} does not resolve on the server host ({reason})", hint) from None
    if real == "/" or any(_inside(real, p) or _inside(p, real) for p in policy.protected):
        raise refuse_path(
            action,
            f"{path!r} resolves to {real!r}, a system or runtime path (or one that contains it)",
            "system trees, runtime sockets and credential directories are never accepted; " + hint,
        )
    if not any(_inside(real, r) for r in policy.roots):
        raise refuse_path(action, f"{path!r} resolves to {real!r}, outside the allowed roots", hint)
    _check_kind(action, path, real, kind)
    return real


def _check_kind(action: str, path: str, real: str, kind: PathKind) -> None:
    try:
        if kind == "context" and not os.path.isdir(real):
            raise refuse_path(action, f"{path!r} is not a directory", "pass the directory holding the build files")
        if kind == "dockerfile" and not os.path.isfile(real):
            raise refuse_path(action, f"{path!r} is not a regular file", "pass the Dockerfile's path in the context")
        special = _special_entry(real) if kind == "bind" else None
    except OSError as exc:
        raise refuse_path(
            action, f"{path!r} cannot be checked ({os.strerror(exc.errno or 0)})", "bind a readable directory"
        ) from None
    if special:
        raise refuse_path(action, f"{path!r} holds {special}", "bind a directory without sockets, devices or mounts")


_PARSE_ERROR = re.compile(r"(?i)(dockerfile parse error (?:on )?line \d+)[^|]*?(?=(?:\. (?:Detail|Hint): )|$)")
_KEYWORDS = frozenset(
    {"add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer"}
    | {"onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir", "as", "syntax", "escape"}
)


def scrub_file_text(message: str, text: str) -> str:
    """`message` without any text of a file the server read (a Dockerfile): engine errors quote its lines.

    A parse error keeps only its line number; then every line of `text`, and every word of it that is not
    a Dockerfile keyword, is masked wherever the message repeats it (case-insensitively).
    """
    out = _PARSE_ERROR.sub(r"\1 (the line's text is not repeated)", message)
    pieces: set[str] = set()
    for line in text.splitlines():
        line = line.strip()
        if len(line) >= 3:
            pieces.add(line)
        pieces.update(w for w in line.split() if len(w) >= 3 and w.lower() not in _KEYWORDS)
    for piece in sorted(pieces, key=len, reverse=True):
        out = re.sub(re.escape(piece), "<file text>", out, flags=re.IGNORECASE)
    return out


_ADD = re.compile(r"(?im)^[ \t]*(?:onbuild[ \t]+)?add[ \t]+(.*)$")
_REMOTE = re.compile(r"(?i)[a-z][a-z0-9+.-]*://|git@")


def check_dockerfile_sources(action: str, text: str, s: DockerSettings) -> None:
    """Refuse `ADD <url>` (also under ONBUILD): the engine itself would fetch it, from the host's network."""
    if s.allow_build_urls:
        return
    joined = re.sub(r"[\\`][ \t]*\r?\n", " ", text)  # continuation lines (`\` or the `escape=` backtick)
    for m in _ADD.finditer(joined):
        if _REMOTE.search(m.group(1)):
            raise refuse(
                action,
                "ADD from a URL or git remote (the engine fetches it from its host)",
                "BAM_DOCKER_ALLOW_BUILD_URLS",
            )


# ----------------------------------------------------------------------------------------- namespaces


def check_mode(action: str, field: str, mode: str | None, s: DockerSettings, host_setting: str) -> None:
    """Refuse `host` and `container:<id>` modes (network, PID, IPC) unless their settings allow them."""
    if mode is None:
        return
    m = mode.strip().lower()
    if m == "host" and not getattr(s, host_setting.removeprefix("BAM_DOCKER_").lower()):
        raise refuse(action, f"the host namespace ({field}=host)", host_setting)
    if m.startswith("container:") and not s.allow_container_namespaces:
        raise refuse(
            action, f"joining another container's namespace ({field}={mode})", "BAM_DOCKER_ALLOW_CONTAINER_NAMESPACES"
        )


async def check_network(d: Docker, action: str, mode: str | None) -> None:
    """`check_mode` for a network mode, plus: a named network must not be the host network under another name."""
    s = d.settings
    check_mode(action, "network_mode", mode, s, "BAM_DOCKER_ALLOW_HOST_NETWORK")
    m = (mode or "").strip()
    if not m or m.lower() in ("none", "bridge", "default", "host") or m.lower().startswith("container:"):
        return
    api = await d.api()
    net = await d.call("inspect the network", api.inspect_network, m)
    if (net.get("Driver") == "host" or net.get("Name") == "host") and not s.allow_host_network:
        raise refuse(action, f"the host network (network {mode!r} is it)", "BAM_DOCKER_ALLOW_HOST_NETWORK")


IPC_MODES = ("", "none", "private", "shareable", "host")


def check_container(
    action: str,
    s: DockerSettings,
    *,
    privileged: bool,
    network_mode: str | None,
    pid_mode: str | None,
    ipc_mode: str | None,
    cap_add: Iterable[str] | None,
) -> None:
    """Privilege, namespaces and capabilities of a new container (host paths are checked separately)."""
    if privileged and not s.allow_privileged:
        raise refuse(action, "privileged containers", "BAM_DOCKER_ALLOW_PRIVILEGED")
    check_mode(action, "network_mode", network_mode, s, "BAM_DOCKER_ALLOW_HOST_NETWORK")
    check_mode(action, "pid_mode", pid_mode, s, "BAM_DOCKER_ALLOW_HOST_PID")
    check_mode(action, "ipc_mode", ipc_mode, s, "BAM_DOCKER_ALLOW_HOST_IPC")
    pid = (pid_mode or "").strip().lower()
    if pid and pid != "host" and not pid.startswith("container:"):
        raise tool_error(action, f"unknown pid_mode {pid_mode!r}", code="invalid", hint="omit it, or use host")
    ipc = (ipc_mode or "").strip().lower()
    if ipc not in IPC_MODES and not ipc.startswith("container:"):
        raise tool_error(action, f"unknown ipc_mode {ipc_mode!r}", code="invalid", hint=f"use one of {IPC_MODES[1:]}")
    caps = [c for c in (cap_add or []) if c.strip()]
    if caps and not s.allow_cap_add:
        raise refuse(action, f"adding capabilities ({', '.join(caps)})", "BAM_DOCKER_ALLOW_CAP_ADD")


# -------------------------------------------------------------------------------------------- volumes

_BIND_FLAGS = {"bind", "rbind"}
_TMPFS_OPTS = {"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "noexec", "exec", "nosuid", "nodev", "ro"}
_LOCAL_KEYS = {"type", "device", "o", "size"}


def volume_bind_device(action: str, driver: str, opts: dict[str, str], s: DockerSettings) -> str | None:
    """The host path a volume's driver options would bind (to check with `resolve_host_path`), if any.

    Allow-list: the `local` driver (or one in BAM_DOCKER_VOLUME_DRIVERS) with no options, tmpfs, a bind
    (`o` holding bind/rbind, whatever `type` says) or a `type` listed in BAM_DOCKER_VOLUME_MOUNT_TYPES.
    """
    if driver not in s.volume_driver_list():
        raise refuse_path(
            action, f"volume driver {driver!r}", f"use one of {s.volume_driver_list()} (BAM_DOCKER_VOLUME_DRIVERS)"
        )
    keys = {k.strip().lower() for k in opts}
    if driver != "local" or keys <= {"size"}:
        return None
    if keys - _LOCAL_KEYS:
        raise tool_error(action, f"unknown local volume options {sorted(keys - _LOCAL_KEYS)}", code="invalid")
    low = {k.strip().lower(): v for k, v in opts.items()}
    flags = [f.strip().lower() for f in low.get("o", "").split(",") if f.strip()]
    kind = low.get("type", "").strip().lower()
    if _BIND_FLAGS & set(flags):
        return low.get("device", "")
    if kind == "tmpfs" and all(f.split("=", 1)[0] in _TMPFS_OPTS for f in flags):
        return None
    if kind and kind != "tmpfs" and kind in s.volume_type_list():
        return None
    raise refuse_path(
        action,
        f"local volume of type {kind or '(none)'!r} with options {flags}: it could mount a host device or tree",
        "use no options, type=tmpfs, or o=bind with a device inside BAM_DOCKER_BIND_ROOTS; an operator can "
        "allow other types with BAM_DOCKER_VOLUME_MOUNT_TYPES",
    )


# ------------------------------------------------------------------------------------------- networks

_HOST_INTERFACE_OPTS = ("com.docker.network.bridge.name", "parent", "com.docker.network.host_ipv4")


def check_network_create(action: str, driver: str, options: dict[str, str] | None, s: DockerSettings) -> None:
    """A new network may not reach the host's own interfaces: driver allow-list, no adopted host bridge."""
    if driver not in s.network_driver_list():
        raise refuse_path(
            action, f"network driver {driver!r}", f"use one of {s.network_driver_list()} (BAM_DOCKER_NETWORK_DRIVERS)"
        )
    used = sorted(k for k in options or {} if k.strip().lower() in _HOST_INTERFACE_OPTS)
    if used:
        raise refuse_path(
            action,
            f"options {used} would attach the network to an existing host interface",
            "leave them out: the engine names and creates its own bridge",
        )


# ------------------------------------------------------------------------------------------ registries


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
