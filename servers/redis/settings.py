"""Redis module settings: `REDIS_URL` plus `BAM_REDIS_*` tuning, cluster and sentinel variables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servers._common.module import first_set
from servers._common.settings import BamSettings, PageLimit, PageSize, ResultBytes


def parse_nodes(value: str) -> list[tuple[str, int]]:
    """`host:port,host:port` (ports default to 6379) as (host, port) pairs."""
    out: list[tuple[str, int]] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            u = urlsplit(part)
            out.append((u.hostname or "127.0.0.1", u.port or 6379))
            continue
        host, _, port = part.rpartition(":") if ":" in part else (part, "", "6379")
        out.append((host.strip("[]") or "127.0.0.1", int(port or 6379)))
    return out


class RedisSettings(BamSettings):
    model_config = SettingsConfigDict(env_prefix="BAM_REDIS_")

    url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "BAM_REDIS_URL"),
        description=(
            "redis://[user:password@]host:port/db or rediss:// for TLS (ACL user, password and db from the URL). "
            "In cluster/sentinel mode it still supplies the credentials, TLS and db."
        ),
    )
    mode: Literal["auto", "standalone", "cluster", "sentinel"] = Field(
        default="auto",
        description="auto: cluster when cluster_nodes is set, sentinel when sentinels is set, else standalone.",
    )
    cluster_nodes: str = Field(
        default="",
        validation_alias=AliasChoices("REDIS_CLUSTER_NODES", "BAM_REDIS_CLUSTER_NODES"),
        description="Seed nodes of a Redis Cluster: host:port,host:port (mode=cluster with none: the URL's host).",
    )
    sentinels: str = Field(
        default="",
        validation_alias=AliasChoices("REDIS_SENTINELS", "BAM_REDIS_SENTINELS"),
        description="Sentinel addresses host:port,host:port; the master is looked up by `sentinel_service`.",
    )
    sentinel_service: str = Field(
        default="mymaster",
        validation_alias=AliasChoices("REDIS_SENTINEL_SERVICE", "BAM_REDIS_SENTINEL_SERVICE"),
        description="Service (master) name monitored by the sentinels.",
    )
    sentinel_password: SecretStr | None = Field(
        default=None, description="Password of the sentinels themselves, when they require one."
    )
    tls_ca_file: str | None = Field(default=None, description="CA bundle to verify rediss:// servers.")
    tls_insecure: bool = Field(default=False, description="Skip TLS certificate verification (testing only).")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Timeout to open a connection.")
    command_timeout_s: float = Field(default=10.0, gt=0, description="Socket timeout of every command.")
    retries: int = Field(
        default=1, ge=0, le=10, description="Retries of a command after a connection error or timeout (short backoff)."
    )
    max_connections: int = Field(default=32, ge=2, le=10_000, description="Connection pool size.")
    pool_timeout_s: float = Field(
        default=10.0, gt=0, description="How long a call waits for a free pooled connection under load."
    )
    max_items: PageSize = 100
    max_items_limit: PageLimit = 2_000
    max_bytes: ResultBytes = 256_000
    scan_count: int = Field(default=500, ge=10, description="COUNT hint of each SCAN/HSCAN/SSCAN/ZSCAN step.")
    report_max_keys: int = Field(default=20_000, ge=100, description="Keys the key report samples at most.")
    report_max_seconds: float = Field(default=5.0, gt=0, description="Time budget of one key report call.")
    subscribe_max_seconds: float = Field(default=30.0, gt=0, description="Longest wait of redis_subscribe.")
    client_name: str = Field(default="backend-architect-mcp", description="CLIENT SETNAME of our connections.")

    def dsn(self) -> str | None:
        return self.url.get_secret_value() if self.url else None

    def effective_mode(self) -> Literal["standalone", "cluster", "sentinel"]:
        if self.mode != "auto":
            return self.mode
        if self.cluster_nodes.strip():
            return "cluster"
        if self.sentinels.strip():
            return "sentinel"
        return "standalone"

    def target(self) -> str:
        """Where we connect, without credentials (for messages and /readyz)."""
        mode = self.effective_mode()
        if mode == "cluster" and self.cluster_nodes.strip():
            return "cluster " + ",".join(f"{h}:{p}" for h, p in parse_nodes(self.cluster_nodes))
        if mode == "sentinel":
            nodes = ",".join(f"{h}:{p}" for h, p in parse_nodes(self.sentinels))
            return f"sentinel {nodes} service {self.sentinel_service}"
        dsn = self.dsn()
        if not dsn:
            return "(REDIS_URL unset)"
        parts = urlsplit(dsn)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}{parts.path or '/0'}"
        return ("cluster " if mode == "cluster" else "") + where


def configured(env: Mapping[str, str]) -> str | None:
    """The variable that configures Redis (URL, cluster seeds or sentinels), if any."""
    return first_set(env, ("REDIS_URL", "BAM_REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"))
