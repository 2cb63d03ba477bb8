"""PostgreSQL diagnostics: sessions and locks, health checks, and the heaviest statements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error, truncate_text
from servers._common.tools import READ, tool
from servers.postgres import reliability
from servers.postgres.client import state_of, translate
from servers.postgres.reliability import Check
from servers.postgres.values import redact_sql

QUERY_TEXT_BYTES = 500


class Session(BaseModel):
    pid: int
    user: str | None
    application: str | None
    client: str | None
    state: str | None
    wait: str | None = Field(description="wait_event_type:wait_event, when waiting")
    xact_seconds: float | None = Field(description="Age of the open transaction")
    query_seconds: float | None = Field(description="Age of the current/last query")
    blocked_by: list[int] = Field(description="PIDs holding locks this session waits for")
    query: str | None = Field(description=f"Query text, cut to {QUERY_TEXT_BYTES} bytes")


class ActivityResult(BaseModel):
    sessions: list[Session]
    count: int
    truncated: bool
    max_connections: int
    total_connections: int


@tool("PostgreSQL: sessions, waits and blockers", READ)
async def pg_activity(
    ctx: Context[Any, Any],
    include_idle: Annotated[bool, Field(description="Include idle sessions")] = False,
    min_query_seconds: Annotated[float, Field(ge=0, description="Only queries running at least this long")] = 0,
    limit: Annotated[int, Field(ge=1, le=500)] = 50,
) -> ActivityResult:
    """Show current sessions with their queries, waits, transaction ages and lock blockers."""
    pg = state_of(ctx)
    sql = """
      SELECT pid, usename AS user, application_name AS application, client_addr::text AS client, state,
             CASE WHEN wait_event IS NOT NULL THEN wait_event_type || ':' || wait_event END AS wait,
             extract(epoch FROM now() - xact_start)::float8 AS xact_seconds,
             extract(epoch FROM now() - query_start)::float8 AS query_seconds,
             pg_blocking_pids(pid) AS blocked_by, query,
             count(*) OVER () AS total
        FROM pg_stat_activity
       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
         AND ($1 OR state IS DISTINCT FROM 'idle')
         AND coalesce(extract(epoch FROM now() - query_start), 0) >= $2
       ORDER BY query_start NULLS LAST
       LIMIT $3"""
    try:
        async with pg.connection() as conn:
            rows = await conn.fetch(sql, include_idle, min_query_seconds, limit + 1)
            max_conn = int(await conn.fetchval("SHOW max_connections"))
            total = int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity"))
    except Exception as exc:
        raise translate(exc, "read pg_stat_activity") from exc
    sessions = []
    for r in rows[:limit]:
        d = dict(r)
        d.pop("total", None)
        d["blocked_by"] = list(d["blocked_by"] or [])
        if d["query"]:
            d["query"] = redact_sql(truncate_text(d["query"], QUERY_TEXT_BYTES, keep="head")[0])
        sessions.append(Session(**d))
    return ActivityResult(
        sessions=sessions,
        count=len(sessions),
        truncated=len(rows) > limit,
        max_connections=max_conn,
        total_connections=total,
    )


class HealthReport(BaseModel):
    checks: list[Check]
    worst: Literal["ok", "warning", "critical", "info"]


HealthArea = Literal[
    "cache",
    "connections",
    "indexes",
    "vacuum",
    "wraparound",
    "sequences",
    "long_transactions",
    "replication",
    "slots",
    "archiving",
    "checkpoints",
]
_RELIABILITY = {
    "connections": reliability.connections,
    "replication": reliability.replication,
    "slots": reliability.slots,
    "archiving": reliability.archiving,
    "checkpoints": reliability.checkpoints,
}
_ORDER = {"info": 0, "ok": 1, "warning": 2, "critical": 3}


async def _check(conn: Any, area: str) -> Check:
    if area == "cache":
        r = await conn.fetchrow(
            """SELECT sum(heap_blks_hit)::float8 AS hit, sum(heap_blks_read)::float8 AS read
                 FROM pg_statio_user_tables"""
        )
        hit, read = r["hit"] or 0.0, r["read"] or 0.0
        if hit + read < 1000:
            return Check(name="cache", status="info", summary="too little table I/O yet to judge the hit ratio")
        ratio = hit / (hit + read)
        status: Literal["ok", "warning", "critical"] = (
            "ok" if ratio >= 0.99 else "warning" if ratio >= 0.95 else "critical"
        )
        return Check(name="cache", status=status, summary=f"table cache hit ratio {ratio:.4f} (target >= 0.99)")
    if area in _RELIABILITY:
        return await _RELIABILITY[area](conn)
    if area == "indexes":
        invalid = await conn.fetch(
            """SELECT indexrelid::regclass::text AS index FROM pg_index WHERE NOT indisvalid LIMIT 20"""
        )
        unused = await conn.fetch(
            """SELECT s.schemaname || '.' || s.indexrelname AS index, s.relname AS table,
                      pg_relation_size(s.indexrelid) AS bytes
                 FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
                WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
                ORDER BY bytes DESC LIMIT 20"""
        )
        details = [{"problem": "invalid", **dict(r)} for r in invalid] + [
            {"problem": "never used", **dict(r)} for r in unused
        ]
        status2: Literal["ok", "warning", "critical"] = "critical" if invalid else "warning" if unused else "ok"
        return Check(
            name="indexes",
            status=status2,
            summary=f"{len(invalid)} invalid, {len(unused)} never-scanned non-unique indexes",
            details=details[:20],
        )
    if area == "wraparound":
        r = await conn.fetchrow("SELECT datname, age(datfrozenxid) AS xid_age FROM pg_database ORDER BY 2 DESC LIMIT 1")
        frac = r["xid_age"] / 2_000_000_000
        st2: Literal["ok", "warning", "critical"] = "ok" if frac < 0.5 else "warning" if frac < 0.75 else "critical"
        return Check(
            name="wraparound",
            status=st2,
            summary=f"oldest database {r['datname']!r} at {frac:.1%} of transaction ID wraparound",
        )
    return await _offenders(conn, area, *_OFFENDERS[area])


_Offenders = tuple[Literal["warning", "critical"], str, str, Callable[[Any], dict[str, Any]]]
_OFFENDERS: dict[str, _Offenders] = {
    "vacuum": (
        "warning",
        "{} tables with more than 20% dead tuples",
        """SELECT schemaname || '.' || relname AS table, n_dead_tup AS dead, n_live_tup AS live,
                  last_autovacuum::text AS last_autovacuum
             FROM pg_stat_user_tables
            WHERE n_dead_tup > 1000 AND n_dead_tup > 0.2 * greatest(n_live_tup, 1)
            ORDER BY n_dead_tup DESC LIMIT 20""",
        dict,
    ),
    "sequences": (
        "critical",
        "{} sequences past 75% of their maximum",
        """SELECT schemaname || '.' || sequencename AS sequence, last_value, max_value,
                  round(100.0 * last_value / max_value, 2)::float8 AS pct
             FROM pg_sequences WHERE last_value IS NOT NULL AND last_value > 0.75 * max_value
             ORDER BY pct DESC LIMIT 20""",
        dict,
    ),
    "long_transactions": (
        "warning",
        "{} transactions open for more than 5 minutes",
        """SELECT pid, state, extract(epoch FROM now() - xact_start)::float8 AS seconds,
                  left(query, 200) AS query
             FROM pg_stat_activity
            WHERE xact_start IS NOT NULL AND now() - xact_start > interval '5 minutes'
              AND pid <> pg_backend_pid()
            ORDER BY xact_start LIMIT 20""",
        lambda r: {**dict(r), "query": redact_sql(r["query"] or "")},
    ),
}
"""The checks whose query returns the offending rows: status when there are any, summary, query, detail of a row."""


async def _offenders(
    conn: Any,
    name: str,
    status: Literal["warning", "critical"],
    summary: str,
    sql: str,
    detail: Callable[[Any], dict[str, Any]],
) -> Check:
    """A check whose query returns the offending rows: `status` when there are any, else ok; `summary` is
    formatted with their count."""
    rows = await conn.fetch(sql)
    return Check(
        name=name, status=status if rows else "ok", summary=summary.format(len(rows)), details=[detail(r) for r in rows]
    )


@tool("PostgreSQL: health checks", READ)
async def pg_health(
    ctx: Context[Any, Any],
    areas: Annotated[list[HealthArea] | None, Field(description="Checks to run (default: all)")] = None,
) -> HealthReport:
    """Run database health checks (cache, connections, indexes, vacuum, wraparound, replication, WAL, ...)."""
    pg = state_of(ctx)
    wanted = list(areas or HealthArea.__args__)  # type: ignore[attr-defined]
    try:
        async with pg.connection() as conn:
            checks = [await _check(conn, a) for a in wanted]
    except Exception as exc:
        raise translate(exc, "run health checks") from exc
    worst = max((c.status for c in checks), key=lambda s: _ORDER[s])
    return HealthReport(checks=checks, worst=worst)


class TopQuery(BaseModel):
    query: str = Field(description=f"Normalized statement, cut to {QUERY_TEXT_BYTES} bytes")
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    shared_blks_hit: int
    shared_blks_read: int


class TopQueries(BaseModel):
    queries: list[TopQuery]
    count: int
    sort_by: str


@tool("PostgreSQL: heaviest statements", READ)
async def pg_top_queries(
    ctx: Context[Any, Any],
    sort_by: Annotated[
        Literal["total_time", "mean_time", "calls", "io"], Field(description="Ranking of the statements")
    ] = "total_time",
    limit: Annotated[int, Field(ge=1, le=100)] = 10,
) -> TopQueries:
    """List the heaviest statements from pg_stat_statements (needs the extension)."""
    pg = state_of(ctx)
    order = {
        "total_time": "total_exec_time",
        "mean_time": "mean_exec_time",
        "calls": "calls",
        "io": "shared_blks_read",
    }[sort_by]
    try:
        async with pg.connection() as conn:
            has = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
            if not has:
                raise tool_error(
                    "read pg_stat_statements",
                    "the pg_stat_statements extension is not installed in this database",
                    hint="add pg_stat_statements to shared_preload_libraries, restart, then CREATE EXTENSION "
                    "pg_stat_statements (a DBA task)",
                )
            rows = await conn.fetch(
                f"""SELECT query, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, rows,
                           shared_blks_hit, shared_blks_read
                      FROM pg_stat_statements ORDER BY {order} DESC LIMIT $1""",
                limit,
            )
    except Exception as exc:
        raise translate(exc, "read pg_stat_statements") from exc
    queries = [
        TopQuery(**{**dict(r), "query": redact_sql(truncate_text(r["query"], QUERY_TEXT_BYTES, keep="head")[0])})
        for r in rows
    ]
    return TopQueries(queries=queries, count=len(queries), sort_by=sort_by)
