"""Rehearse a migration: run it in a transaction that is always rolled back, and report what it would do.

For each statement: its duration, the table locks it takes (and what those locks block), and whether it
rewrites a table; for the whole script: the schema changes (tables, columns, indexes, constraints). The
"before" state is read inside the same transaction, before the first statement, for every table the
script names.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.postgres.client import state, translate
from servers.postgres.safety import referenced_relations, split_script

STATEMENT_TEXT = 300

BLOCKS = {
    "AccessExclusiveLock": "all reads and writes",
    "ExclusiveLock": "writes and row locks (plain reads proceed)",
    "ShareRowExclusiveLock": "writes",
    "ShareLock": "writes",
    "ShareUpdateExclusiveLock": "other schema changes and VACUUM (reads and writes proceed)",
    "RowExclusiveLock": "only SHARE-or-stronger locks (reads and writes proceed)",
    "RowShareLock": "only EXCLUSIVE locks",
    "AccessShareLock": "only ACCESS EXCLUSIVE locks",
}
_STRENGTH = list(reversed(list(BLOCKS)))

_LOCKS_SQL = """
  SELECT c.oid, n.nspname || '.' || c.relname AS relation, l.mode
    FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE l.pid = pg_backend_pid() AND l.granted AND l.locktype = 'relation'
     AND c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""

_NODES_SQL = """
  SELECT c.oid, n.nspname || '.' || c.relname AS relation, c.relfilenode::bigint AS relfilenode
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""

_SHAPE_SQL = """
  SELECT c.oid, n.nspname || '.' || c.relname AS relation, c.relfilenode::bigint AS filenode,
         c.reltuples::bigint AS rows,
         ARRAY(SELECT 'column ' || a.attname || ': ' || format_type(a.atttypid, a.atttypmod)
                      || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                      || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                 FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
         ARRAY(SELECT 'index ' || ic.relname || ': ' || pg_get_indexdef(i.indexrelid)
                 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid
                ORDER BY ic.relname) AS indexes,
         ARRAY(SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid, true)
                 FROM pg_constraint WHERE conrelid = c.oid ORDER BY conname) AS constraints
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = ANY($1::oid[])"""


class LockTaken(BaseModel):
    relation: str
    mode: str = Field(description="Strongest table lock this statement holds on the relation")
    blocks: str = Field(description="What other sessions cannot do while the lock is held")


class Step(BaseModel):
    statement: str = Field(description=f"The statement, cut to {STATEMENT_TEXT} characters")
    status: str = Field(description="PostgreSQL command tag")
    duration_ms: float
    locks: list[LockTaken]
    rewrites: list[str] = Field(description="Tables whose storage this statement rewrote (full copy under lock)")


class SchemaChange(BaseModel):
    relation: str
    change: Literal["table added", "table dropped", "added", "removed", "changed"]
    item: str = Field(description="e.g. 'column email', 'index orders_pkey', 'constraint x_check'")
    before: str | None
    after: str | None


class MigrationPlan(BaseModel):
    steps: list[Step]
    changes: list[SchemaChange]
    warnings: list[str] = Field(description="Locks and rewrites that would hurt a busy database")
    total_ms: float
    rolled_back: bool = Field(description="Always true: nothing was committed")
    truncated: bool = Field(description="True when the change list was cut at 200 entries")


def _items(row: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in [*row["columns"], *row["indexes"], *row["constraints"]]:
        name, _, definition = entry.partition(": ")
        out[name] = definition
    return out


def _diff(before: dict[int, Any], after: dict[int, Any]) -> list[SchemaChange]:
    changes: list[SchemaChange] = []
    for oid in sorted(set(before) | set(after)):
        b, a = before.get(oid), after.get(oid)
        rel = str((a if a is not None else b)["relation"])  # type: ignore[index]
        if b is None:
            changes.append(SchemaChange(relation=rel, change="table added", item="table", before=None, after=rel))
            continue
        if a is None:
            changes.append(SchemaChange(relation=rel, change="table dropped", item="table", before=rel, after=None))
            continue
        bi, ai = _items(b), _items(a)
        for name in list(bi) + [n for n in ai if n not in bi]:
            if name not in ai:
                changes.append(SchemaChange(relation=rel, change="removed", item=name, before=bi[name], after=None))
            elif name not in bi:
                changes.append(SchemaChange(relation=rel, change="added", item=name, before=None, after=ai[name]))
            elif bi[name] != ai[name]:
                changes.append(SchemaChange(relation=rel, change="changed", item=name, before=bi[name], after=ai[name]))
    return changes


async def pg_migration_plan(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="The migration script: one or more DDL/DML statements separated by ;")],
    timeout_ms: Annotated[
        int | None, Field(ge=1, le=600_000, description="statement_timeout per statement in ms (default: server)")
    ] = None,
) -> MigrationPlan:
    """Rehearse a migration in a transaction that is always rolled back: per-statement locks, rewrites and
    durations, plus the resulting schema changes.

    Locks are really taken while it runs (bounded by lock_timeout), so plan against a replica-sized copy
    when the tables are hot. Sequence values consumed by the script are not rolled back.
    """
    pg = state(ctx)
    statements = split_script(sql)
    names = referenced_relations(sql)
    steps: list[Step] = []
    touched: set[int] = set()
    start = time.perf_counter()
    try:
        async with pg.transaction(read_only=False, timeout_ms=timeout_ms) as tx:
            # the schema as it was, for the tables the script names (tables it creates show up as added)
            oids = await tx.conn.fetch(
                "SELECT to_regclass(CASE WHEN s IS NULL THEN quote_ident(r) ELSE format('%I.%I', s, r) END)::oid AS oid"
                " FROM unnest($1::text[], $2::text[]) AS t(s, r)",
                [n[0] for n in names],
                [n[1] for n in names],
            )
            named = {r["oid"] for r in oids if r["oid"] is not None}
            before = {r["oid"]: r for r in await tx.conn.fetch(_SHAPE_SQL, list(named))}
            known: dict[int, int] = {  # storage file of every user table: a change means a rewrite
                r["oid"]: r["relfilenode"] for r in await tx.conn.fetch(_NODES_SQL)
            }
            held: dict[int, str] = {}  # table locks last until the end of the transaction
            for _, text in statements:
                t0 = time.perf_counter()
                status = await tx.conn.execute(text)
                took = (time.perf_counter() - t0) * 1000
                strongest: dict[int, tuple[str, str]] = {}
                for r in await tx.conn.fetch(_LOCKS_SQL):
                    cur = strongest.get(r["oid"])
                    if cur is None or _STRENGTH.index(r["mode"]) > _STRENGTH.index(cur[1]):
                        strongest[r["oid"]] = (r["relation"], r["mode"])
                touched |= set(strongest)
                acquired = [  # locks this statement took or strengthened
                    (rel, mode)
                    for oid, (rel, mode) in strongest.items()
                    if oid not in held or _STRENGTH.index(mode) > _STRENGTH.index(held[oid])
                ]
                held.update({oid: mode for oid, (_, mode) in strongest.items()})
                rewrites = []
                for r in await tx.conn.fetch(_NODES_SQL + " AND c.oid = ANY($1::oid[])", list(strongest)):
                    if r["oid"] in known and known[r["oid"]] != r["relfilenode"]:
                        rewrites.append(r["relation"])
                    known[r["oid"]] = r["relfilenode"]
                steps.append(
                    Step(
                        statement=text[:STATEMENT_TEXT],
                        status=status,
                        duration_ms=round(took, 2),
                        locks=[
                            LockTaken(relation=rel, mode=mode, blocks=BLOCKS.get(mode, "unknown"))
                            for rel, mode in sorted(acquired)
                        ],
                        rewrites=sorted(rewrites),
                    )
                )
            after = {r["oid"]: r for r in await tx.conn.fetch(_SHAPE_SQL, list(touched | named))}
    except Exception as exc:
        where = f"statement {len(steps) + 1} of" if len(steps) < len(statements) else "the schema diff of"
        raise translate(exc, f"rehearse {where} the migration") from exc
    changes = _diff(before, after)
    warnings = []
    for i, st in enumerate(steps, 1):
        for lock in st.locks:
            created = not any(r["relation"] == lock.relation for r in before.values())
            if not created and lock.mode in (
                "AccessExclusiveLock",
                "ExclusiveLock",
                "ShareLock",
                "ShareRowExclusiveLock",
            ):
                rows = before.get(next((o for o, r in after.items() if r["relation"] == lock.relation), -1))
                est = f" (~{rows['rows']} rows)" if rows is not None and rows["rows"] >= 0 else ""
                warnings.append(
                    f"statement {i} holds {lock.mode} on {lock.relation}{est}: blocks {lock.blocks} until commit"
                )
        for rel in st.rewrites:
            warnings.append(f"statement {i} rewrites {rel}: the whole table is copied while the lock is held")
    return MigrationPlan(
        steps=steps,
        changes=changes[:200],
        warnings=warnings,
        total_ms=round((time.perf_counter() - start) * 1000, 2),
        rolled_back=True,
        truncated=len(changes) > 200,
    )
