"""The composite's settings: each field is a command-line flag (`composite/flags.py`) and a `BAM_*` variable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from servers._common.settings import PolicySettings, flag


class AppSettings(PolicySettings):
    """`backend-architect-mcp serve` options. Flags override the environment."""

    servers: str = Field(
        default="auto",
        description="Modules to mount, comma-separated, `all`, or `auto` (default): those whose backend is configured.",
        json_schema_extra=flag(scope="all", metavar="MODULES"),
    )
    toolsets: str = Field(
        default="default",
        description="Toolsets to expose: `default`, `all`, `<module>` or `<module>.<toolset>`, comma-separated.",
        json_schema_extra=flag(scope="all", metavar="SETS"),
    )
    discovery: bool = Field(
        default=False,
        description="List a few meta-tools (search, describe, call) instead of every tool.",
        json_schema_extra=flag(scope="all"),
    )
    transport: Literal["stdio", "http", "sse"] = Field(
        default="stdio", description="stdio (default); http serves /mcp, /sse, /healthz, /readyz; sse serves only SSE."
    )
    host: str = Field(default="127.0.0.1", description="Address to bind for http/sse.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port for http/sse.")
    stateless: bool = Field(default=False, description="Stateless streamable HTTP (for horizontal scaling).")
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes on the port (http only; more than one forces stateless)."
    )
    json_response: bool = Field(default=False, description="Plain JSON bodies instead of SSE streams on /mcp.")
    required: str = Field(
        default="mounted",
        description="Modules whose backend must be up for /readyz to answer 200: `mounted` (default), a "
        "comma-separated list of mounted modules, or `none`.",
        json_schema_extra=flag(name="require", metavar="MODULES"),
    )
    log_level: str = Field(
        default="INFO",
        description="DEBUG, INFO, WARNING or ERROR (stderr, JSON lines).",
        json_schema_extra=flag(scope="all"),
    )
    allowed_hosts: str = Field(
        default="",
        description="Extra Host header values accepted over HTTP (DNS-rebinding protection), comma-separated.",
        json_schema_extra=flag(metavar="HOSTS"),
    )
    auth_tokens: SecretStr | None = Field(
        default=None,
        description="Static bearer tokens accepted over HTTP/SSE, comma-separated, each optionally with its "
        "scopes: `token=postgres:read redis:write` (none: every scope). Unset: no static tokens.",
        json_schema_extra=flag(metavar="TOKENS"),
    )
    auth_issuer: str = Field(default="", description="Issuer (`iss`) of accepted JWT access tokens.")
    auth_audience: str = Field(
        default="", description="Required `aud` of JWT access tokens (RFC 8707 resource); default PUBLIC_URL/mcp."
    )
    auth_jwks_url: str = Field(default="", description="JWKS URL of the issuer's signing keys (https).")
    pg_role_claim: str = Field(default="", description="Token claim naming the PostgreSQL role a call acts as.")
    pg_roles: str = Field(default="", description="Roles BAM_PG_ROLE_CLAIM may name (comma-separated allow-list).")
    k8s_impersonate_user_claim: str = Field(
        default="", description="Token claim that names the Kubernetes user a call impersonates."
    )
    k8s_impersonate_groups_claim: str = Field(
        default="", description="Token claim (a list) that names the Kubernetes groups a call impersonates."
    )
    public_url: str = Field(
        default="",
        description="External base URL of this server (for the OAuth protected-resource metadata); "
        "default http://HOST:PORT.",
        json_schema_extra=flag(metavar="URL"),
    )
    audit_log: str = Field(
        default="",
        description="Append one JSON line per tool call to this file (`-`: stderr); empty: no audit log.",
    )
    rate_limit: int = Field(default=0, ge=0, description="Tool calls per minute per subject; 0: no limit.")
    max_concurrent_calls: int = Field(
        default=0, ge=0, description="Tool calls running at once per subject; 0: no limit."
    )
    rate_limit_redis: SecretStr | None = Field(
        default=None,
        description="redis:// URL where the call limits are counted, so every replica enforces one limit.",
    )
    rate_limit_prefix: str = Field(
        default="bam:limits:", min_length=1, max_length=64, description="Key prefix of the limit counters in Redis."
    )
    tls_cert: str = Field(default="", description="PEM certificate (chain) to serve HTTPS directly; needs tls_key.")
    tls_key: str = Field(default="", description="PEM private key of tls_cert.")
    max_sessions: int = Field(
        default=1000, ge=1, description="Open stateful sessions at most (streamable HTTP; SSE connections apart)."
    )
    session_idle_s: float = Field(
        default=1800.0, gt=0, description="Seconds without a request after which a session is closed."
    )
