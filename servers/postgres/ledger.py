"""The migrations ledger (`<BAM_PG_MIGRATIONS_SCHEMA>.bam_migrations`), what is pending, drift, and plan ids.

Each applied migration leaves a row: version, name, file, checksum (sha256 of the file), status,
statements run, applied_at, duration, who applied it, and a snapshot of the relations it named as they were
right after it ran. Folding the snapshots in version order gives the schema the migrations produce, which
`pg_migrations_status` compares with the live one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers.postgres.migration_files import Directory, Migration, parse_migration, relation_names
from servers.postgres.settings import PostgresSettings

TABLE = "bam_migrations"

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS {ledger} (
  version text PRIMARY KEY,
  version_key bigint[] NOT NULL,
  name text NOT NULL,
  file text NOT NULL,
  checksum text NOT NULL,
  status text NOT NULL CHECK (status IN ('applied', 'running', 'failed', 'rolling back', 'rollback failed')),
  statements_done int NOT NULL DEFAULT 0,
  statements_total int NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  duration_ms double precision,
  applied_by text NOT NULL DEFAULT session_user || ' (' || current_setting('application_name') || ')',
  error text,
  snapshot jsonb
)"""

SHAPE_SQL = """
  SELECT c.oid, n.nspname AS schema, n.nspname || '.' || c.relname AS relation, c.relfilenode::bigint AS filenode,
         c.reltuples::bigint AS rows,
         ARRAY(SELECT 'column ' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                      || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
         ARRAY(SELECT 'index ' || ic.relname || ': ' || pg_get_indexdef(i.indexrelid)
                      || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid
                ORDER BY ic.relname) AS indexes,
         ARRAY(SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid, true)
                 FROM pg_constraint WHERE conrelid = c.oid ORDER BY conname) AS constraints
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = ANY($1::oid[])"""

_RESOLVE_SQL = """
  SELECT t.oid, n.nspname || '.' || t.relname AS relation
    FROM unnest($1::text[], $2::text[]) AS u(s, r)
    JOIN pg_class c ON c.oid = to_regclass(CASE WHEN s IS NULL THEN quote_ident(r) ELSE format('%I.%I', s, r) END)
    LEFT JOIN pg_index i ON i.indexrelid = c.oid
    JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid)
    JOIN pg_namespace n ON n.oid = t.relnamespace
   WHERE t.relkind IN ('r', 'p', 'v', 'm', 'f')"""

# Everything in the given schemas that a migration can change, except the ledger itself; row counts and
# storage files are left out so that concurrent DML and VACUUM do not change the hash.
_SCHEMA_HASH_SQL = """
WITH ns AS (SELECT oid FROM pg_namespace WHERE nspname = ANY($1::text[])),
items AS (
  SELECT 'rel ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || coalesce((
           SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                             || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                             || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), ''), ', ' ORDER BY a.attnum)
             FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS item
    FROM pg_class c
   WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     AND c.oid IS DISTINCT FROM $2::oid
  UNION ALL
  SELECT 'idx ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' invalid' END
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
   WHERE c.relnamespace IN (SELECT oid FROM ns) AND i.indrelid IS DISTINCT FROM $2::oid
  UNION ALL
  SELECT 'con ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns) AND conrelid IS DISTINCT FROM $2::oid
  UNION ALL
  SELECT 'view ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'fn ' || p.oid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, ''))
    FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns)
  UNION ALL
  SELECT 'type ' || t.oid::regtype::text || ' ' || coalesce((
           SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')
    FROM pg_type t LEFT JOIN pg_class r ON r.oid = t.typrelid
   WHERE t.typnamespace IN (SELECT oid FROM ns) AND t.typtype IN ('e', 'd', 'c') AND coalesce(r.relkind, 'c') = 'c'
)
SELECT md5(coalesce(string_agg(item, E'\\n' ORDER BY item), '')) FROM items"""


def ledger_name(s: PostgresSettings) -> str:
    return f'"{s.migrations_schema}".{TABLE}'


def ledger_regclass(s: PostgresSettings) -> str:
    return f"{s.migrations_schema}.{TABLE}"


async def ensure_ledger(conn: Any, s: PostgresSettings) -> None:
    if await conn.fetchval("SELECT to_regnamespace($1) IS NULL", s.migrations_schema):
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{s.migrations_schema}"')
    await conn.execute(LEDGER_DDL.format(ledger=ledger_name(s)))


async def read_ledger(conn: Any, s: PostgresSettings) -> list[dict[str, Any]]:
    """Ledger rows in version order ([] before the first apply)."""
    if await conn.fetchval("SELECT to_regclass($1) IS NULL", ledger_regclass(s)):
        return []
    rows = await conn.fetch(
        f"SELECT version, version_key, name, file, checksum, status, statements_done, statements_total, "
        f"applied_at::text AS applied_at, duration_ms, applied_by, error, snapshot "
        f"FROM {ledger_name(s)} ORDER BY version_key"
    )
    return [dict(r) for r in rows]


class Drift(BaseModel):
    version: str
    kind: Literal["checksum", "missing_file", "failed", "rollback_failed", "out_of_order"]
    detail: str


def drift(d: Directory, rows: list[dict[str, Any]]) -> list[Drift]:
    """Files changed or gone after they were applied, half-applied migrations, and pending ones out of order."""
    files = d.by_version()
    out: list[Drift] = []
    for r in rows:
        m = files.get(r["version"])
        if m is None:
            out.append(Drift(version=r["version"], kind="missing_file", detail=f"{r['file']} is gone"))
        elif m.checksum != r["checksum"]:
            out.append(Drift(version=r["version"], kind="checksum", detail=f"{m.file} changed after it was applied"))
        if r["status"] != "applied":
            kind: Literal["failed", "rollback_failed"] = (
                "failed" if r["status"] in ("failed", "running") else "rollback_failed"
            )
            done = f"{r['statements_done']} of {r['statements_total']} statements ran"
            out.append(
                Drift(version=r["version"], kind=kind, detail=f"{r['status']}: {done}; {r['error'] or ''}"[:300])
            )
    top = max((tuple(r["version_key"]) for r in rows), default=())
    for m in d.migrations:
        if m.version not in {r["version"] for r in rows} and m.key < top:
            out.append(
                Drift(version=m.version, kind="out_of_order", detail="pending but older than the latest applied")
            )
    return out


def pending(d: Directory, rows: list[dict[str, Any]]) -> list[tuple[Migration, int]]:
    """Migrations still to run, each with the statement to start at (a failed one resumes where it stopped)."""
    by = {r["version"]: r for r in rows}
    out: list[tuple[Migration, int]] = []
    for m in d.migrations:
        r = by.get(m.version)
        if r is None:
            out.append((m, 0))
        elif r["status"] in ("rolling back", "rollback failed"):
            raise tool_error(
                "plan the migrations",
                f"the rollback of {m.version} stopped halfway",
                hint="run pg_migration_rollback again (down files should be re-runnable) or fix it by hand",
            )
        elif r["status"] != "applied":
            if r["checksum"] != m.checksum:
                raise tool_error(
                    "plan the migrations",
                    f"{m.version} failed after {r['statements_done']} statements and {m.file} has changed since",
                    hint="restore the file to resume it, or undo it with pg_migration_rollback",
                )
            out.append((m, int(r["statements_done"])))
    return out


async def scope_schemas(conn: Any, todo: list[tuple[Migration, int]]) -> list[str]:
    """The schemas the pending migrations name, plus the current schema."""
    schemas = {str(await conn.fetchval("SELECT current_schema()"))}
    for m, _ in todo:
        for st in parse_migration(m.sql, m.file):
            schemas |= {s for s, _ in relation_names(st.tree) if s}
            if "CreateSchemaStmt" in st.tree:
                schemas.add(str(st.tree["CreateSchemaStmt"].get("schemaname", "")))
    return sorted(schemas)


async def schema_hash(conn: Any, s: PostgresSettings, schemas: list[str]) -> str:
    oid = await conn.fetchval("SELECT to_regclass($1)::oid", ledger_regclass(s))
    return str(await conn.fetchval(_SCHEMA_HASH_SQL, schemas, oid))


def plan_id(d: Directory, rows: list[dict[str, Any]], shash: str) -> str:
    """`<files+ledger hash>-<schema hash>`: changes to either make a plan stale."""
    files = [(m.version, m.checksum) for m in d.migrations]
    led = [(r["version"], r["checksum"], r["status"], r["statements_done"]) for r in rows]
    return hashlib.sha256(orjson.dumps([d.path, files, led])).hexdigest()[:16] + "-" + shash[:16]


async def resolve(conn: Any, names: list[tuple[str | None, str]]) -> dict[int, str]:
    """oid -> schema.name of the named tables and views that exist (an index stands for its table)."""
    rows = await conn.fetch(_RESOLVE_SQL, [n[0] for n in names], [n[1] for n in names])
    return {r["oid"]: r["relation"] for r in rows}


def shape_of(row: Any) -> dict[str, Any]:
    return {
        "relation": row["relation"],
        "schema": row["schema"],
        "columns": list(row["columns"]),
        "indexes": list(row["indexes"]),
        "constraints": list(row["constraints"]),
    }


async def snapshot(conn: Any, before: dict[int, str], names: list[tuple[str | None, str]]) -> dict[str, Any]:
    """The named relations as they are now; relations that existed before and are gone (or renamed) map to None."""
    after = await resolve(conn, names)
    shapes = {r["oid"]: r for r in await conn.fetch(SHAPE_SQL, list(set(before) | set(after)))}
    snap: dict[str, Any] = {}
    for oid, rel in before.items():
        if oid not in shapes or shapes[oid]["relation"] != rel:
            snap[rel] = None
    for r in shapes.values():
        snap[r["relation"]] = shape_of(r)
    return snap


class LedgerEntry(BaseModel):
    version: str
    name: str
    status: str
    applied_at: str
    duration_ms: float | None
    applied_by: str
    statements: str = Field(description="statements run / in the file")


def entry(r: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        version=r["version"],
        name=r["name"],
        status=r["status"],
        applied_at=r["applied_at"],
        duration_ms=r["duration_ms"],
        applied_by=r["applied_by"],
        statements=f"{r['statements_done']}/{r['statements_total']}",
    )


@dataclass
class PlanState:
    directory: Directory
    rows: list[dict[str, Any]]
    todo: list[tuple[Migration, int]]
    drift: list[Drift]
    plan_id: str


async def plan_state(conn: Any, s: PostgresSettings, d: Directory) -> PlanState:
    """Ledger, pending migrations, drift and the plan id of the directory against this database, now."""
    rows = await read_ledger(conn, s)
    todo = pending(d, rows)
    shash = await schema_hash(conn, s, await scope_schemas(conn, todo))
    return PlanState(d, rows, todo, drift(d, rows), plan_id(d, rows, shash))
