"""The PostgreSQL tools by toolset, in the order clients see them (titles and annotations: `@tool`)."""

from __future__ import annotations

from servers._common import ToolCatalog, Toolsets
from servers.postgres.catalog import pg_schemas_list, pg_table_describe, pg_tables_list
from servers.postgres.diagnostics import pg_activity, pg_health, pg_top_queries
from servers.postgres.migrate import pg_migration_apply, pg_migration_rollback, pg_migrations_status
from servers.postgres.migrations import pg_migration_plan
from servers.postgres.query import pg_execute, pg_explain, pg_query

_CATALOG = (pg_schemas_list, pg_tables_list, pg_table_describe)
_DIAGNOSTICS = (pg_activity, pg_health, pg_top_queries)
_MIGRATIONS = (pg_migrations_status, pg_migration_plan, pg_migration_apply, pg_migration_rollback)

TOOLSETS: Toolsets = {
    "catalog": _CATALOG,
    "query": (pg_query, pg_explain, pg_execute),
    "diagnostics": _DIAGNOSTICS,
    "migrations": _MIGRATIONS,
}
"""Named groups of tools, selectable with `--toolsets postgres.<name>`."""

CATALOG = ToolCatalog.of(
    TOOLSETS,
    default=("catalog", "query", "diagnostics", "migrations"),
    order=(*_CATALOG, pg_query, pg_explain, *_DIAGNOSTICS, *_MIGRATIONS, pg_execute),  # the raw write last
)
