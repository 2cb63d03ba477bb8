"""PostgreSQL module (prefix `pg_`): schemas, tables, read-only queries, EXPLAIN and guarded writes."""

from servers._common.module import ModuleInfo
from servers.postgres.settings import PostgresSettings, configured

MODULE = ModuleInfo.of(
    __name__,
    PostgresSettings,
    configured,
    prefix="pg_",
    title="PostgreSQL",
    summary=(
        "inspect schemas, tables, columns, indexes and foreign keys; run read-only SQL with bind parameters "
        "and paging; read EXPLAIN plans (optionally ANALYZE); see sessions, lock blockers, health checks "
        "(replication lag, slots, WAL archiving, checkpoints) and the heaviest statements; try hypothetical indexes; "
        "see versioned migrations and their drift; rehearse, apply and roll back migrations (locks, rewrites, "
        "schema diff, lint) when writes are allowed"
    ),
    client_env=("DATABASE_URL",),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "PostgresSettings", "build_server"]
