"""The PostgreSQL tool list, in the order clients see it."""

from __future__ import annotations

from servers._common import DESTRUCTIVE, DISRUPT, READ, WRITE_IDEMPOTENT, ToolCatalog, ToolSpec
from servers.postgres.catalog import pg_schemas_list, pg_table_describe, pg_tables_list
from servers.postgres.diagnostics import pg_activity, pg_health, pg_top_queries
from servers.postgres.migrate import pg_migration_apply, pg_migration_rollback, pg_migrations_status
from servers.postgres.migrations import pg_migration_plan
from servers.postgres.query import pg_execute, pg_explain, pg_query

TOOLS = [
    ToolSpec(pg_schemas_list, "schemas_list", "PostgreSQL: list schemas", READ),
    ToolSpec(pg_tables_list, "tables_list", "PostgreSQL: list tables and views", READ),
    ToolSpec(pg_table_describe, "table_describe", "PostgreSQL: describe a table", READ),
    ToolSpec(pg_query, "query", "PostgreSQL: run a read-only query", READ),
    ToolSpec(pg_explain, "explain", "PostgreSQL: explain a query plan", READ),
    ToolSpec(pg_activity, "activity", "PostgreSQL: sessions, waits and blockers", READ),
    ToolSpec(pg_health, "health", "PostgreSQL: health checks", READ),
    ToolSpec(pg_top_queries, "top_queries", "PostgreSQL: heaviest statements", READ),
    ToolSpec(pg_migrations_status, "migrations_status", "PostgreSQL: migrations applied, pending, drift", READ),
    ToolSpec(pg_migration_plan, "migration_plan", "PostgreSQL: rehearse a migration (rolled back)", WRITE_IDEMPOTENT),
    ToolSpec(pg_migration_apply, "migration_apply", "PostgreSQL: apply a planned migration", DESTRUCTIVE),
    ToolSpec(pg_migration_rollback, "migration_rollback", "PostgreSQL: undo the latest migrations", DISRUPT),
    ToolSpec(pg_execute, "execute", "PostgreSQL: execute a write statement", DESTRUCTIVE),
]

TOOLSETS: dict[str, tuple[str, ...]] = {
    "catalog": ("schemas_list", "tables_list", "table_describe"),
    "query": ("query", "explain", "execute"),
    "diagnostics": ("activity", "health", "top_queries"),
    "migrations": ("migrations_status", "migration_plan", "migration_apply", "migration_rollback"),
}
"""Named groups of the tools above, selectable with `--toolsets postgres.<name>`."""
DEFAULT_TOOLSETS = ("catalog", "query", "diagnostics", "migrations")

CATALOG = ToolCatalog(TOOLS, TOOLSETS, DEFAULT_TOOLSETS)
