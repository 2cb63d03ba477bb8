"""PostgreSQL tools: catalog browsing, read-only queries, EXPLAIN and (when allowed) writes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import (
    DESTRUCTIVE,
    READ,
    ToolSpec,
    json_size,
    lifespan_state,
    tool_error,
)
from servers.postgres.client import Postgres, translate
from servers.postgres.safety import check_explain, check_read_only, check_write
from servers.postgres.values import coerce_param, pg_to_json

KEY = "postgres"

Params = Annotated[
    list[Any] | None,
    Field(description="Bind values for $1, $2, ... in order (JSON: strings, numbers, booleans, null, objects)"),
]
TimeoutMs = Annotated[
    int | None,
    Field(ge=1, le=600_000, description="statement_timeout for this call in ms (default: server setting)"),
]


def _pg(ctx: Context[Any, Any]) -> Postgres:
    pg: Postgres = lifespan_state(ctx, KEY)
    return pg


class Column(BaseModel):
    name: str
    type: str = Field(description="PostgreSQL type name")


class QueryResult(BaseModel):
    columns: list[Column]
    rows: list[dict[str, Any]] = Field(description="Rows as objects keyed by column name")
    row_count: int = Field(description="Rows in this page")
    truncated: bool = Field(description="True when more rows exist (or the byte cap cut the page)")
    next_offset: int | None = Field(description="Pass as `offset` to fetch the next page; null when done")
    notes: list[str] = Field(default_factory=list, description="Caveats about the result")


async def _forbid_volatile_user_functions(conn: Any, names: set[str]) -> None:
    """User-defined VOLATILE functions may do anything (dynamic SQL, dblink): refuse them in reads."""
    if not names:
        return
    rows = await conn.fetch(
        """SELECT DISTINCT n.nspname || '.' || p.proname AS fn
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.proname = ANY($1::text[]) AND p.provolatile = 'v'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')""",
        sorted(names),
    )
    if rows:
        raise tool_error(
            "run the statement read-only",
            f"refused: user-defined volatile function(s) {', '.join(r['fn'] for r in rows)} may have side effects",
            hint="mark the function STABLE/IMMUTABLE if it only reads, or run it via pg_execute with writes allowed",
        )


def _coerce_params(stmt: Any, params: list[Any] | None) -> list[Any]:
    values = list(params or [])
    types = [t.name for t in stmt.get_parameters()]
    if len(values) != len(types):
        raise tool_error(
            "bind parameters",
            f"the statement has {len(types)} placeholder(s) but {len(values)} value(s) were given",
            hint="pass one value in `params` per $n placeholder",
        )
    try:
        return [coerce_param(v, t) for v, t in zip(values, types, strict=True)]
    except (ValueError, TypeError, ArithmeticError) as exc:
        raise tool_error("bind parameters", str(exc), hint=f"parameter types are {types}") from exc


async def pg_query(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One read statement: SELECT / WITH ... SELECT / VALUES / TABLE / SHOW")],
    params: Params = None,
    limit: Annotated[int | None, Field(ge=1, description="Rows per page (default 200, capped by the server)")] = None,
    offset: Annotated[int, Field(ge=0, description="Rows to skip: the `next_offset` of the previous page")] = 0,
    timeout_ms: TimeoutMs = None,
) -> QueryResult:
    """Run one read-only SQL statement with bind parameters and return a page of typed rows.

    Runs in a READ ONLY transaction with statement_timeout and lock_timeout, after a parsed check that
    refuses side-effecting functions. Add ORDER BY for stable paging across calls.
    """
    pg = _pg(ctx)
    checked = check_read_only(sql)
    page = min(limit or pg.settings.max_rows, pg.settings.max_rows_limit)
    notes: list[str] = []
    if limit and limit > pg.settings.max_rows_limit:
        notes.append(f"limit capped at {pg.settings.max_rows_limit}")
    try:
        async with pg.transaction(read_only=True, timeout_ms=timeout_ms) as tx:
            await _forbid_volatile_user_functions(tx.conn, checked.functions)
            stmt = await tx.conn.prepare(sql)
            args = _coerce_params(stmt, params)
            columns = [Column(name=a.name, type=a.type.name) for a in stmt.get_attributes()]
            cursor = await stmt.cursor(*args)
            if offset:
                await cursor.forward(offset)
            records = await cursor.fetch(page + 1)
    except Exception as exc:
        raise translate(exc, "run the query") from exc
    more = len(records) > page
    rows: list[dict[str, Any]] = []
    used = 0
    byte_cut = False
    for rec in records[:page]:
        row = {k: pg_to_json(v) for k, v in rec.items()}
        size = json_size(row)
        if rows and used + size > pg.settings.max_bytes:
            byte_cut = True
            break
        used += size
        rows.append(row)
    if byte_cut:
        notes.append(f"page cut at the {pg.settings.max_bytes}-byte cap; select fewer or narrower columns")
    truncated = more or byte_cut
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        next_offset=offset + len(rows) if truncated else None,
        notes=notes,
    )


class ExplainResult(BaseModel):
    plan: Any = Field(description="EXPLAIN (FORMAT JSON) output")
    total_cost: float | None = Field(description="Planner's total cost of the top node")
    plan_rows: float | None = Field(description="Planner's row estimate of the top node")
    execution_time_ms: float | None = Field(description="Actual time (ANALYZE only)")
    planning_time_ms: float | None = None
    node_types: list[str] = Field(description="Distinct plan node types, e.g. Seq Scan, Index Scan")
    rolled_back: bool = Field(description="True when the statement ran (ANALYZE) and was rolled back")


def _node_types(plan: Any, out: list[str]) -> list[str]:
    if isinstance(plan, dict):
        t = plan.get("Node Type")
        if isinstance(t, str) and t not in out:
            out.append(t)
        for child in plan.get("Plans", []) or []:
            _node_types(child, out)
    return out


async def pg_explain(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="The statement to plan, without EXPLAIN")],
    params: Params = None,
    analyze: Annotated[
        bool, Field(description="Run it for real timings (always inside a transaction that is rolled back)")
    ] = False,
    buffers: Annotated[bool, Field(description="Include buffer usage (with analyze)")] = True,
    timeout_ms: TimeoutMs = None,
) -> ExplainResult:
    """Show the query plan (EXPLAIN FORMAT JSON), optionally with ANALYZE in a rolled-back read-only transaction.

    INSERT/UPDATE/DELETE/MERGE can be planned but not analyzed here (that would execute them); measure
    writes with pg_execute(dry_run=true) where writes are allowed.
    """
    pg = _pg(ctx)
    checked = check_explain(sql, analyze=analyze)
    options = ["FORMAT JSON", "VERBOSE"]
    if analyze:
        options += ["ANALYZE", f"BUFFERS {'TRUE' if buffers else 'FALSE'}"]
    try:
        async with pg.transaction(read_only=True, timeout_ms=timeout_ms) as tx:
            await _forbid_volatile_user_functions(tx.conn, checked.functions)
            stmt = await tx.conn.prepare(f"EXPLAIN ({', '.join(options)}) {sql}")
            args = _coerce_params(stmt, params)
            plan = await stmt.fetchval(*args)
    except Exception as exc:
        raise translate(exc, "explain the statement") from exc
    top = plan[0] if isinstance(plan, list) and plan else {}
    node = top.get("Plan", {}) if isinstance(top, dict) else {}
    return ExplainResult(
        plan=plan,
        total_cost=node.get("Total Cost"),
        plan_rows=node.get("Plan Rows"),
        execution_time_ms=top.get("Execution Time") if isinstance(top, dict) else None,
        planning_time_ms=top.get("Planning Time") if isinstance(top, dict) else None,
        node_types=_node_types(node, []),
        rolled_back=analyze,
    )


class ExecuteResult(BaseModel):
    status: str = Field(description="PostgreSQL command tag, e.g. 'UPDATE 3'")
    rows_affected: int | None = Field(description="Rows inserted/updated/deleted/copied, when reported")
    returning: list[dict[str, Any]] = Field(default_factory=list, description="RETURNING rows (capped)")
    truncated: bool = Field(default=False, description="True when RETURNING rows were cut by the caps")
    committed: bool = Field(description="False when dry_run rolled the change back")


_TAG_COUNT = re.compile(r"^(?:INSERT \d+ |UPDATE |DELETE |MERGE |COPY |SELECT |MOVE |FETCH )(\d+)$")


async def pg_execute(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One statement: INSERT/UPDATE/DELETE/MERGE, DDL, ...")],
    params: Params = None,
    dry_run: Annotated[bool, Field(description="Run it, report the effect, then roll back")] = False,
    timeout_ms: TimeoutMs = None,
) -> ExecuteResult:
    """Execute one write statement in its own transaction and report rows affected (writes must be allowed).

    Transaction control, COPY to/from server files or programs, ALTER SYSTEM and LOAD are refused.
    """
    pg = _pg(ctx)
    check_write(sql)
    try:
        async with pg.transaction(read_only=False, timeout_ms=timeout_ms) as tx:
            stmt = await tx.conn.prepare(sql)
            args = _coerce_params(stmt, params)
            records = await stmt.fetch(*args)
            status = stmt.get_statusmsg()
            returning: list[dict[str, Any]] = []
            truncated = False
            used = 0
            for rec in records:
                row = {k: pg_to_json(v) for k, v in rec.items()}
                used += json_size(row)
                if len(returning) >= pg.settings.max_rows or (returning and used > pg.settings.max_bytes):
                    truncated = True
                    break
                returning.append(row)
            if not dry_run:
                await tx.commit()
            committed = tx.committed
    except Exception as exc:
        raise translate(exc, "execute the statement") from exc
    m = _TAG_COUNT.match(status or "")
    return ExecuteResult(
        status=status or "",
        rows_affected=int(m.group(1)) if m else None,
        returning=returning,
        truncated=truncated,
        committed=committed,
    )


SchemaKind = Literal["user", "system", "all"]


class SchemaInfo(BaseModel):
    name: str
    owner: str
    tables: int = Field(description="Tables, views and materialized views in the schema")
    system: bool
    comment: str | None = None


class SchemaList(BaseModel):
    schemas: list[SchemaInfo]
    count: int


async def pg_schemas_list(
    ctx: Context[Any, Any],
    kind: Annotated[SchemaKind, Field(description="user (default), system or all schemas")] = "user",
) -> SchemaList:
    """List schemas with owner, number of relations and comment."""
    pg = _pg(ctx)
    sql = """
      SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
             (SELECT count(*) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f'))
               AS tables,
             (n.nspname IN ('pg_catalog','information_schema','pg_toast') OR n.nspname LIKE 'pg\\_%') AS system,
             obj_description(n.oid, 'pg_namespace') AS comment
        FROM pg_namespace n ORDER BY n.nspname"""
    try:
        async with pg.connection() as conn:
            rows = await conn.fetch(sql)
    except Exception as exc:
        raise translate(exc, "list schemas") from exc
    items = [SchemaInfo(**dict(r)) for r in rows]
    if kind != "all":
        items = [s for s in items if s.system == (kind == "system")]
    return SchemaList(schemas=items, count=len(items))


RelKind = Literal["table", "view", "materialized_view", "partitioned_table", "foreign_table"]
_RELKINDS: dict[str, str] = {
    "table": "r",
    "view": "v",
    "materialized_view": "m",
    "partitioned_table": "p",
    "foreign_table": "f",
}
_RELKIND_NAMES = {v: k for k, v in _RELKINDS.items()}


class TableInfo(BaseModel):
    schema_name: str
    name: str
    kind: str
    row_estimate: int | None = Field(description="pg_class.reltuples (-1/None: never analyzed)")
    total_bytes: int | None = Field(description="Table + indexes + TOAST")
    total_size: str | None = Field(description="Human-readable total size")
    comment: str | None = None


class TableList(BaseModel):
    tables: list[TableInfo]
    count: int
    truncated: bool
    next_offset: int | None


async def pg_tables_list(
    ctx: Context[Any, Any],
    schema: Annotated[str | None, Field(description="Only this schema (default: all user schemas)")] = None,
    name_like: Annotated[str | None, Field(description="SQL LIKE pattern on the name, e.g. 'order%'")] = None,
    kinds: Annotated[list[RelKind] | None, Field(description="Relation kinds (default: all)")] = None,
    limit: Annotated[int, Field(ge=1, le=1000, description="Rows per page")] = 100,
    offset: Annotated[int, Field(ge=0, description="`next_offset` of the previous page")] = 0,
) -> TableList:
    """List tables, views and materialized views with row estimates and sizes, largest first."""
    pg = _pg(ctx)
    rk = [_RELKINDS[k] for k in kinds] if kinds else list(_RELKINDS.values())
    sql = """
      SELECT n.nspname AS schema_name, c.relname AS name, c.relkind::text AS kind,
             CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
             CASE WHEN c.relkind IN ('r','p','m') THEN pg_total_relation_size(c.oid) END AS total_bytes,
             CASE WHEN c.relkind IN ('r','p','m') THEN pg_size_pretty(pg_total_relation_size(c.oid)) END
               AS total_size,
             obj_description(c.oid, 'pg_class') AS comment
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind::text = ANY($1::text[])
         AND ($2::text IS NULL AND n.nspname NOT IN ('pg_catalog','information_schema')
              AND n.nspname NOT LIKE 'pg\\_%' OR n.nspname = $2)
         AND ($3::text IS NULL OR c.relname LIKE $3)
         AND NOT c.relispartition
       ORDER BY total_bytes DESC NULLS LAST, n.nspname, c.relname
       LIMIT $4 OFFSET $5"""
    try:
        async with pg.connection() as conn:
            rows = await conn.fetch(sql, rk, schema, name_like, limit + 1, offset)
    except Exception as exc:
        raise translate(exc, "list tables") from exc
    more = len(rows) > limit
    items = [
        TableInfo.model_validate({**dict(r), "kind": _RELKIND_NAMES.get(r["kind"], r["kind"])}) for r in rows[:limit]
    ]
    return TableList(tables=items, count=len(items), truncated=more, next_offset=offset + limit if more else None)


class ColumnInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    default: str | None
    identity: str | None = Field(description="ALWAYS / BY DEFAULT for identity columns")
    generated: str | None = Field(description="Expression of a generated column")
    comment: str | None


class ConstraintInfo(BaseModel):
    name: str
    type: str = Field(description="primary_key, unique, foreign_key, check, exclusion")
    definition: str


class IndexInfo(BaseModel):
    name: str
    definition: str
    unique: bool
    primary: bool
    valid: bool
    size_bytes: int
    scans: int | None = Field(description="Index scans since statistics reset")


class ForeignKeyInfo(BaseModel):
    name: str
    direction: Literal["outgoing", "incoming"]
    table: str = Field(description="The other table (schema.name)")
    definition: str


class TableDescription(BaseModel):
    schema_name: str
    name: str
    kind: str
    comment: str | None
    row_estimate: int | None
    total_bytes: int | None
    columns: list[ColumnInfo]
    constraints: list[ConstraintInfo]
    indexes: list[IndexInfo]
    foreign_keys: list[ForeignKeyInfo]


_CONTYPES = {
    "p": "primary_key",
    "u": "unique",
    "f": "foreign_key",
    "c": "check",
    "x": "exclusion",
    "t": "trigger",
}


async def pg_table_describe(
    ctx: Context[Any, Any],
    table: Annotated[str, Field(description="Table or view name, optionally schema-qualified (public.orders)")],
    schema: Annotated[str | None, Field(description="Schema, when not given in `table`")] = None,
) -> TableDescription:
    """Describe a table or view: columns, types, defaults, constraints, indexes, foreign keys, comments."""
    pg = _pg(ctx)
    if schema is None and "." in table:
        schema, table = table.split(".", 1)
    try:
        async with pg.connection() as conn:
            rel = await conn.fetchrow(
                """SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
                          obj_description(c.oid, 'pg_class') AS comment,
                          CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
                          CASE WHEN c.relkind IN ('r','p','m') THEN pg_total_relation_size(c.oid) END AS total_bytes
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relname = $1 AND ($2::text IS NULL AND pg_table_is_visible(c.oid) OR n.nspname = $2)
                      AND c.relkind IN ('r','p','v','m','f')
                    ORDER BY n.nspname = 'public' DESC LIMIT 1""",
                table,
                schema,
            )
            if rel is None:
                raise tool_error(
                    "describe the table",
                    f"no table or view named {table!r}" + (f" in schema {schema!r}" if schema else ""),
                    code="SQLSTATE 42P01",
                    hint="list candidates with pg_tables_list (name_like), and schema-qualify the name",
                )
            oid = rel["oid"]
            cols = await conn.fetch(
                """SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                          NOT a.attnotnull AS nullable,
                          CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
                          CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
                          CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
                          col_description(a.attrelid, a.attnum) AS comment
                     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
                oid,
            )
            cons = await conn.fetch(
                """SELECT conname AS name, contype::text AS type, pg_get_constraintdef(oid, true) AS definition
                     FROM pg_constraint WHERE conrelid = $1 ORDER BY contype, conname""",
                oid,
            )
            idx = await conn.fetch(
                """SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
                          i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
                          pg_relation_size(i.indexrelid) AS size_bytes, s.idx_scan AS scans
                     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                     LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
                    WHERE i.indrelid = $1 ORDER BY ic.relname""",
                oid,
            )
            fks = await conn.fetch(
                """SELECT conname AS name,
                          CASE WHEN conrelid = $1 THEN 'outgoing' ELSE 'incoming' END AS direction,
                          CASE WHEN conrelid = $1 THEN confrelid::regclass::text ELSE conrelid::regclass::text END
                            AS table,
                          pg_get_constraintdef(oid, true) AS definition
                     FROM pg_constraint WHERE contype = 'f' AND (conrelid = $1 OR confrelid = $1)
                    ORDER BY direction DESC, conname""",
                oid,
            )
    except Exception as exc:
        raise translate(exc, "describe the table") from exc
    return TableDescription(
        schema_name=rel["nspname"],
        name=rel["relname"],
        kind=_RELKIND_NAMES.get(rel["relkind"], rel["relkind"]),
        comment=rel["comment"],
        row_estimate=rel["row_estimate"],
        total_bytes=rel["total_bytes"],
        columns=[ColumnInfo(**dict(r)) for r in cols],
        constraints=[
            ConstraintInfo(name=r["name"], type=_CONTYPES.get(r["type"], r["type"]), definition=r["definition"])
            for r in cons
        ],
        indexes=[IndexInfo(**dict(r)) for r in idx],
        foreign_keys=[ForeignKeyInfo(**dict(r)) for r in fks],
    )


from servers.postgres.diagnostics import pg_activity, pg_health, pg_top_queries  # noqa: E402

TOOLS = [
    ToolSpec(pg_schemas_list, "schemas_list", "PostgreSQL: list schemas", READ),
    ToolSpec(pg_tables_list, "tables_list", "PostgreSQL: list tables and views", READ),
    ToolSpec(pg_table_describe, "table_describe", "PostgreSQL: describe a table", READ),
    ToolSpec(pg_query, "query", "PostgreSQL: run a read-only query", READ),
    ToolSpec(pg_explain, "explain", "PostgreSQL: explain a query plan", READ),
    ToolSpec(pg_activity, "activity", "PostgreSQL: sessions, waits and blockers", READ),
    ToolSpec(pg_health, "health", "PostgreSQL: health checks", READ),
    ToolSpec(pg_top_queries, "top_queries", "PostgreSQL: heaviest statements", READ),
    ToolSpec(pg_execute, "execute", "PostgreSQL: execute a write statement", DESTRUCTIVE),
]
