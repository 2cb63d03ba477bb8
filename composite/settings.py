"""The composite's settings: every command-line flag has a `BAM_*` environment variable."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from servers._common.settings import PolicySettings


class AppSettings(PolicySettings):
    """`backend-architect-mcp serve` options. Flags override the environment."""

    servers: str = Field(
        default="auto",
        description="Modules to mount, comma-separated, `all`, or `auto` (default): those whose backend is configured.",
    )
    toolsets: str = Field(
        default="default",
        description="Toolsets to expose: `default`, `all`, `<module>` or `<module>.<toolset>`, comma-separated.",
    )
    discovery: bool = Field(
        default=False,
        description="List a few meta-tools (search, describe, call) instead of every tool.",
    )
    transport: Literal["stdio", "http", "sse"] = Field(default="stdio", description="stdio, http or sse.")
    host: str = Field(default="127.0.0.1", description="Address to bind for http/sse.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port for http/sse.")
    stateless: bool = Field(default=False, description="Stateless streamable HTTP (for horizontal scaling).")
    workers: int = Field(
        default=1, ge=1, le=64, description="Server processes on the port (http only; more than one forces stateless)."
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description="On SIGTERM/SIGINT, seconds in-flight calls may take before they are cancelled.",
    )
    json_response: bool = Field(default=False, description="Plain JSON bodies instead of SSE streams on /mcp.")
    required: str = Field(
        default="mounted",
        description="Modules whose backend must be up for /readyz to answer 200: `mounted` (default), a "
        "comma-separated list of mounted modules, or `none`.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR (stderr, JSON lines).")
    allowed_hosts: str = Field(
        default="",
        description="Extra Host header values accepted over HTTP (DNS-rebinding protection), comma-separated.",
    )
    auth_tokens: SecretStr | None = Field(
        default=None,
        description="Bearer tokens accepted over HTTP/SSE (comma-separated). Unset: no authentication (loopback).",
    )
    public_url: str = Field(
        default="",
        description="External base URL of this server (for the OAuth protected-resource metadata); "
        "default http://HOST:PORT.",
    )
