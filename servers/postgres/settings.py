"""PostgreSQL module settings: `DATABASE_URL` plus `BAM_PG_*` tuning variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from servers._common.module import first_set
from servers._common.settings import BamSettings, ResultBytes

PG_VARIABLES = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE")


class PostgresSettings(BamSettings):
    model_config = SettingsConfigDict(env_prefix="BAM_PG_")

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "BAM_PG_DATABASE_URL"),
        description="libpq URL, e.g. postgresql://user:pass@127.0.0.1:5432/db?sslmode=require (TLS via the URL).",
    )
    pool_min_size: int = Field(default=1, ge=0, le=100, description="Connections kept open.")
    pool_max_size: int = Field(default=10, ge=1, le=500, description="Upper bound of pooled connections.")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Timeout to open a connection.")
    acquire_timeout_s: float = Field(default=10.0, gt=0, description="Timeout to get a connection from the pool.")
    statement_timeout_ms: int = Field(default=15_000, ge=1, description="Server-side statement_timeout per call.")
    lock_timeout_ms: int = Field(default=2_000, ge=1, description="Server-side lock_timeout per call.")
    idle_in_transaction_timeout_ms: int = Field(
        default=30_000, ge=1, description="Server-side idle_in_transaction_session_timeout."
    )
    max_rows: int = Field(default=200, ge=1, description="Default rows per page of a query result.")
    max_rows_limit: int = Field(default=5_000, ge=1, description="Largest page a caller may ask for.")
    max_bytes: ResultBytes = 256_000
    reveal_secrets: bool = Field(
        default=False,
        description="Show values of secret-named columns (password, token, api_key, ...) instead of masking them.",
    )
    application_name: str = Field(default="backend-architect-mcp", description="application_name of sessions.")
    migrations_dir: str | None = Field(default=None, description="Directory of versioned SQL migrations.")
    migrations_roots: str = Field(
        default="", description="os.pathsep-separated directories a `directory` argument may point into."
    )
    migrations_schema: str = Field(
        default="public", pattern=r"^[a-z_][a-z0-9_]{0,62}$", description="Schema of the bam_migrations ledger."
    )
    migrations_retries: int = Field(default=3, ge=0, le=10, description="Retries of a migration after lock_timeout.")

    def dsn(self) -> str | None:
        if self.database_url:
            return self.database_url.get_secret_value()
        # libpq's own variables: an empty URL lets the driver read PGHOST, PGUSER, PGDATABASE, ...
        return "postgresql://" if any(os.environ.get(v) for v in PG_VARIABLES) else None

    def target(self) -> str:
        """host:port/db of the DSN, without credentials (for messages and /readyz)."""
        dsn = self.dsn()
        if not dsn:
            return "(DATABASE_URL unset)"
        parts = urlsplit(dsn)
        host = parts.hostname or "localhost"
        return f"{host}:{parts.port or 5432}{parts.path or ''}"


def configured(env: Mapping[str, str]) -> str | None:
    """The variable that configures PostgreSQL (a URL or libpq's own variables), if any."""
    return first_set(env, ("DATABASE_URL", "BAM_PG_DATABASE_URL", *PG_VARIABLES))
