"""PostgreSQL catalog: schemas, tables and views, and the full description of one table."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.tools import READ, tool
from servers.postgres.client import state_of, translate

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
    truncated: bool = Field(description="True when more schemas match than were returned")
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null when done")


@tool("PostgreSQL: list schemas", READ)
async def pg_schemas_list(
    ctx: Context[Any, Any],
    kind: Annotated[SchemaKind, Field(description="Which schemas (default: user)")] = "user",
    name_like: Annotated[str | None, Field(description="SQL LIKE pattern")] = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 200,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> SchemaList:
    """List schemas with owner, relation count and comment."""
    pg = state_of(ctx)
    sql = """
      SELECT * FROM (
        SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
               (SELECT count(*) FROM pg_class c
                 WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','f')) AS tables,
               (n.nspname IN ('pg_catalog','information_schema','pg_toast') OR n.nspname LIKE 'pg\\_%') AS system,
               obj_description(n.oid, 'pg_namespace') AS comment
          FROM pg_namespace n
         WHERE ($1::text IS NULL OR n.nspname LIKE $1)) s
       WHERE $2 = 'all' OR s.system = ($2 = 'system')
       ORDER BY s.name LIMIT $3 OFFSET $4"""
    try:
        async with pg.connection() as conn:
            rows = await conn.fetch(sql, name_like, kind, limit + 1, offset)
    except Exception as exc:
        raise translate(exc, "list schemas") from exc
    more = len(rows) > limit
    items = [SchemaInfo(**dict(r)) for r in rows[:limit]]
    return SchemaList(schemas=items, count=len(items), truncated=more, next_offset=offset + limit if more else None)


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


@tool("PostgreSQL: list tables and views", READ)
async def pg_tables_list(
    ctx: Context[Any, Any],
    schema: Annotated[str | None, Field(description="Only this schema (default: all user schemas)")] = None,
    name_like: Annotated[str | None, Field(description="SQL LIKE pattern")] = None,
    kinds: Annotated[list[RelKind] | None, Field(description="Relation kinds (default: all)")] = None,
    limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    offset: Annotated[int, Field(ge=0)] = 0,
) -> TableList:
    """List tables, views and materialized views with row estimates and sizes, largest first."""
    pg = state_of(ctx)
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


DESCRIBE_CAP = 500
"""Most entries per list (columns, constraints, indexes, foreign keys) in a table description."""


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
    truncated: bool = Field(
        description=f"True when a list was cut at {DESCRIBE_CAP} entries (query the catalog for the rest)"
    )


_CONTYPES = {
    "p": "primary_key",
    "u": "unique",
    "f": "foreign_key",
    "c": "check",
    "x": "exclusion",
    "t": "trigger",
}


_RELATION_SQL = """SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
                          obj_description(c.oid, 'pg_class') AS comment,
                          CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::bigint END AS row_estimate,
                          CASE WHEN c.relkind IN ('r','p','m') THEN pg_total_relation_size(c.oid) END AS total_bytes
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.relname = $1 AND ($2::text IS NULL AND pg_table_is_visible(c.oid) OR n.nspname = $2)
                      AND c.relkind IN ('r','p','v','m','f')
                    ORDER BY n.nspname = 'public' DESC LIMIT 1"""
_DESCRIBE_SQL = {
    "columns": """SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                          NOT a.attnotnull AS nullable,
                          CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default,
                          CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
                          CASE WHEN a.attgenerated <> '' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated,
                          col_description(a.attrelid, a.attnum) AS comment
                     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
    "constraints": """SELECT conname AS name, contype::text AS type, pg_get_constraintdef(oid, true) AS definition
                     FROM pg_constraint WHERE conrelid = $1 ORDER BY contype, conname""",
    "indexes": """SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
                          i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid,
                          pg_relation_size(i.indexrelid) AS size_bytes, s.idx_scan AS scans
                     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                     LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
                    WHERE i.indrelid = $1 ORDER BY ic.relname""",
    "foreign_keys": """SELECT conname AS name,
                          CASE WHEN conrelid = $1 THEN 'outgoing' ELSE 'incoming' END AS direction,
                          CASE WHEN conrelid = $1 THEN confrelid::regclass::text ELSE conrelid::regclass::text END
                            AS table,
                          pg_get_constraintdef(oid, true) AS definition
                     FROM pg_constraint WHERE contype = 'f' AND (conrelid = $1 OR confrelid = $1)
                    ORDER BY direction DESC, conname""",
}
"""The parts of a description, each read by the relation's oid."""


@tool("PostgreSQL: describe a table", READ)
async def pg_table_describe(
    ctx: Context[Any, Any],
    table: Annotated[str, Field(description="Table or view, optionally schema-qualified")],
    schema: Annotated[str | None, Field(description="Schema, when not given in `table`")] = None,
) -> TableDescription:
    """Describe a table or view: columns, types, defaults, constraints, indexes, foreign keys."""
    pg = state_of(ctx)
    if schema is None and "." in table:
        schema, table = table.split(".", 1)
    try:
        async with pg.connection() as conn:
            rel = await conn.fetchrow(_RELATION_SQL, table, schema)
            if rel is None:
                raise tool_error(
                    "describe the table",
                    f"no table or view named {table!r}" + (f" in schema {schema!r}" if schema else ""),
                    code="SQLSTATE 42P01",
                    hint="list candidates with pg_tables_list (name_like), and schema-qualify the name",
                )
            parts = {part: await conn.fetch(sql, rel["oid"]) for part, sql in _DESCRIBE_SQL.items()}
    except Exception as exc:
        raise translate(exc, "describe the table") from exc
    truncated = any(len(x) > DESCRIBE_CAP for x in parts.values())
    cols, cons, idx, fks = (parts[k][:DESCRIBE_CAP] for k in ("columns", "constraints", "indexes", "foreign_keys"))
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
        truncated=truncated,
    )
