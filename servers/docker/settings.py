"""Docker module settings: `DOCKER_HOST` (and the SDK's TLS variables) plus `BAM_DOCKER_*` tuning."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servers._common.module import first_existing, first_set
from servers._common.settings import BamSettings, PageLimit, PageSize, ResultBytes, WorkerThreads

DEFAULT_HOST = "unix:///var/run/docker.sock"
MANAGED_LABEL = "io.backend-architect-mcp.managed"
"""Label put on everything this server creates (value `true`)."""
TOOL_LABEL = "io.backend-architect-mcp.tool"
"""Label naming the tool that created the object."""


class DockerSettings(BamSettings):
    model_config = SettingsConfigDict(env_prefix="BAM_DOCKER_")

    docker_host: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DOCKER_HOST", "BAM_DOCKER_HOST"),
        description="Engine address: unix:///var/run/docker.sock, tcp://host:2376 (TLS via DOCKER_TLS_VERIFY and "
        "DOCKER_CERT_PATH) or ssh://user@host. Default: the local unix socket.",
    )
    timeout_s: float = Field(default=60.0, gt=0, description="Socket timeout of one engine API call.")
    build_timeout_s: float = Field(default=600.0, gt=0, description="Upper bound of one image build.")
    exec_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="Upper bound of one docker_container_exec call: reading stops and the output so far is "
        "returned (default: `timeout_s`).",
    )
    max_threads: WorkerThreads = 8
    max_items: Annotated[PageSize, Field(le=5_000)] = 100
    max_items_limit: PageLimit = 1_000
    max_bytes: ResultBytes = 200_000
    max_log_lines: int = Field(default=200, ge=1, description="Default number of log lines (tail).")
    max_log_lines_limit: int = Field(default=5_000, ge=1, description="Largest tail a caller may ask for.")
    max_log_bytes: int = Field(default=64_000, ge=1_024, description="Byte cap of log and exec output.")
    allow_privileged: bool = Field(default=False, description="Allow `privileged=true` containers.")
    allow_host_pid: bool = Field(default=False, description="Allow containers in the host PID namespace.")
    allow_host_ipc: bool = Field(default=False, description="Allow containers in the host IPC namespace.")
    allow_host_network: bool = Field(
        default=False, description="Allow `network_mode=host` for containers and builds (host network stack)."
    )
    allow_container_namespaces: bool = Field(
        default=False,
        description="Allow `container:<id>` network/PID/IPC modes (joining another container's namespaces).",
    )
    allow_cap_add: bool = Field(default=False, description="Allow adding Linux capabilities (`cap_add`).")
    bind_roots: str = Field(
        default="",
        description="Comma-separated host directories that bind mounts and bind-volume devices must resolve "
        "inside (empty: no bind mounts at all; `/` is never accepted as a root).",
    )
    build_roots: str = Field(
        default="",
        description="Comma-separated host directories that build contexts and Dockerfiles must resolve inside "
        "(empty: inline Dockerfiles only; `/` is never accepted as a root).",
    )
    allow_build_urls: bool = Field(
        default=False, description="Allow `ADD <url>` / git remotes in Dockerfiles (the engine fetches them itself)."
    )
    network_drivers: str = Field(
        default="bridge",
        description="Comma-separated drivers docker_network_create may use (macvlan/ipvlan reach the host's LAN).",
    )
    volume_drivers: str = Field(
        default="local", description="Comma-separated volume drivers docker_volume_create and mounts may use."
    )
    volume_mount_types: str = Field(
        default="",
        description="Comma-separated extra `type`s of local-driver volumes (e.g. nfs); tmpfs and checked binds "
        "are always accepted, other filesystem types (block devices, overlay, ...) are refused.",
    )
    allowed_registries: str = Field(
        default="",
        description="Comma-separated registry hosts that pull/push may use, e.g. `127.0.0.1:5001,ghcr.io` "
        "(`docker.io` for Docker Hub). Empty: any.",
    )

    def exec_deadline(self) -> tuple[float, str]:
        """Seconds one exec may take, and the variable that sets it."""
        if self.exec_timeout_s is not None:
            return self.exec_timeout_s, "BAM_DOCKER_EXEC_TIMEOUT_S"
        return self.timeout_s, "BAM_DOCKER_TIMEOUT_S"

    def host(self) -> str:
        return self.docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST

    def target(self) -> str:
        """The engine address without credentials (for messages and /readyz)."""
        host = self.host()
        parts = urlsplit(host)
        if parts.scheme == "unix":
            return host
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        if parts.username and parts.scheme == "ssh":
            netloc = f"{parts.username}@{netloc}"
        return f"{parts.scheme}://{netloc}"

    def socket_path(self) -> str | None:
        """The engine's unix socket on this host, if it is reached through one."""
        parts = urlsplit(self.host())
        return (parts.path or None) if parts.scheme in ("unix", "http+unix") else None

    def engine_is_local(self) -> bool:
        """Whether the engine sees this host's filesystem (unix socket, or TCP on a loopback address)."""
        parts = urlsplit(self.host())
        if parts.scheme in ("unix", "http+unix"):
            return True
        host = (parts.hostname or "").lower()
        return parts.scheme in ("tcp", "http", "https") and (host == "localhost" or host.startswith("127."))

    def bind_root_list(self) -> list[str]:
        return _split(self.bind_roots)

    def build_root_list(self) -> list[str]:
        return _split(self.build_roots)

    def network_driver_list(self) -> list[str]:
        return _split(self.network_drivers)

    def volume_driver_list(self) -> list[str]:
        return _split(self.volume_drivers)

    def volume_type_list(self) -> list[str]:
        return [t.lower() for t in _split(self.volume_mount_types)]

    def registry_list(self) -> list[str]:
        return [p.lower() for p in _split(self.allowed_registries)]


def _split(value: str) -> list[str]:
    return [p.strip() for p in value.split(",") if p.strip()]


DOCKER_SOCKETS = "/var/run/docker.sock"
"""The socket probed when DOCKER_HOST is unset; `BAM_DOCKER_SOCKETS` replaces the list probed."""


def configured(env: Mapping[str, str]) -> str | None:
    """DOCKER_HOST, or an engine socket that exists, if any."""
    var = first_set(env, ("DOCKER_HOST", "BAM_DOCKER_HOST"))
    return var or first_existing(env.get("BAM_DOCKER_SOCKETS", DOCKER_SOCKETS).split(","))
