"""Rehearse a migration: run it in a transaction that is always rolled back, and report what it would do.

For each statement: its duration, the table locks it takes (and what those locks block), and whether it
rewrites a table; for the whole script: the schema changes (tables, columns, indexes, constraints). The
"before" state is read inside the same transaction, before the first statement, for every table the
script names. Without `sql`, the pending migrations of the migrations directory are rehearsed in order in
one transaction, and the plan gets a `plan_id` that `pg_migration_apply` takes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error
from servers._common.tools import WRITE_IDEMPOTENT, tool
from servers.postgres.client import state_of, translate
from servers.postgres.ledger import SHAPE_SQL, plan_state, resolve
from servers.postgres.migration_files import (
    Lint,
    Migration,
    Statement,
    lint,
    load_directory,
    parse_migration,
    relation_names,
)
from servers.postgres.safety import parse_one, split_script
from servers.postgres.values import redact_sql

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
  SELECT c.oid, n.nspname || '.' || c.relname AS relation, c.relfilenode::bigint AS relfilenode,
         c.reltuples::bigint AS rows
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"""

LONG_HOLD_MS = 1000.0

_LINT = {
    "index": "CREATE INDEX without CONCURRENTLY blocks writes to {rel} while it builds; use CREATE INDEX "
    "CONCURRENTLY (applied outside a transaction)",
    "default": "ADD COLUMN on {rel} with a volatile default ({detail}) rewrites the table under ACCESS EXCLUSIVE; "
    "add the column without it, then backfill in batches",
    "type": "ALTER COLUMN {detail} TYPE on {rel} takes ACCESS EXCLUSIVE and rewrites the table unless the types "
    "are binary-compatible",
    "not_null": "SET NOT NULL on {rel}.{detail} scans the table under ACCESS EXCLUSIVE; first add CHECK ({detail} "
    "IS NOT NULL) NOT VALID and VALIDATE CONSTRAINT it",
    "fk": "FOREIGN KEY on {rel} without NOT VALID checks every row under SHARE ROW EXCLUSIVE; add it NOT VALID, "
    "then VALIDATE CONSTRAINT",
    "check": "CHECK on {rel} without NOT VALID scans the table under ACCESS EXCLUSIVE; add it NOT VALID, then "
    "VALIDATE CONSTRAINT",
}


class LockTaken(BaseModel):
    relation: str
    mode: str = Field(description="Strongest table lock this statement holds on the relation")
    blocks: str = Field(description="What other sessions cannot do while the lock is held")


class Step(BaseModel):
    migration: str | None = Field(default=None, description="Migration version (directory mode)")
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


class PlannedMigration(BaseModel):
    version: str
    file: str
    statements: int
    resume_at: int = Field(description="Statements of it already run (a failed migration resumes after them)")
    outside_transaction: int = Field(description="Statements applied outside a transaction (CONCURRENTLY, VACUUM)")
    has_down: bool


class MigrationPlan(BaseModel):
    steps: list[Step]
    changes: list[SchemaChange]
    warnings: list[str] = Field(description="Lock-heavy DDL, long locks and rewrites (at most 200)")
    total_ms: float
    rolled_back: bool = Field(description="Always true: nothing was committed")
    truncated: bool = Field(description="True when the step or change list was cut at 200 entries")
    plan_id: str | None = Field(default=None, description="Directory mode: pass to pg_migration_apply")
    migrations: list[PlannedMigration] = Field(default_factory=list, description="Directory mode: pending, in order")


def _items(row: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in [*row["columns"], *row["indexes"], *row["constraints"]]:
        name, _, definition = entry.partition(": ")
        out[name] = definition
    return out


def diff_shapes(before: dict[Any, Any], after: dict[Any, Any]) -> list[SchemaChange]:
    """Table, column, index and constraint changes between two sets of relation shapes (same keys = same table)."""
    changes: list[SchemaChange] = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
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


@dataclass
class _Run:
    """State of one rehearsal transaction."""

    conn: Any
    initial: dict[int, tuple[str, int]]  # oid -> (relation, estimated rows) of the tables there at the start
    known: dict[int, int]  # oid -> storage file: a change means a rewrite
    held: dict[int, str] = field(default_factory=dict)  # table locks last until the end of the transaction
    touched: set[int] = field(default_factory=set)
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def _lint_warnings(run: _Run, where: str, found: list[Lint]) -> list[str]:
    out = []
    for item in found:
        oid = next(iter(await resolve(run.conn, [item.relation])), None)
        if oid is None or oid not in run.initial:  # a table the migration creates is empty: nothing to block
            continue
        if item.check == "not_null" and await run.conn.fetchval(
            "SELECT EXISTS (SELECT FROM pg_constraint WHERE conrelid = $1 AND contype = 'c' AND convalidated"
            " AND pg_get_constraintdef(oid) = format('CHECK ((%I IS NOT NULL))', $2::text))",
            oid,
            item.detail,
        ):
            continue
        if item.check == "default" and not await run.conn.fetchval(
            "SELECT EXISTS (SELECT FROM pg_proc WHERE proname = ANY($1::text[]) AND provolatile = 'v')",
            item.detail.split(","),
        ):
            continue
        out.append(f"{where}: " + _LINT[item.check].format(rel=run.initial[oid][0], detail=item.detail))
    return out


async def _step(run: _Run, label: str | None, where: str, st: Statement) -> None:
    run.warnings += await _lint_warnings(run, where, lint(st.tree))
    text = redact_sql(st.text)[:STATEMENT_TEXT]
    if st.rehearse is None:
        status = "SKIPPED: cannot run in a transaction; applied outside one"
        run.steps.append(Step(migration=label, statement=text, status=status, duration_ms=0, locks=[], rewrites=[]))
        return
    t0 = time.perf_counter()
    status = await run.conn.execute(st.rehearse)
    took = (time.perf_counter() - t0) * 1000
    if not st.transactional:
        how = "rehearsed without CONCURRENTLY; " if st.rehearse != st.text else ""
        status += f" ({how}applied outside a transaction)"
    strongest: dict[int, tuple[str, str]] = {}
    for r in await run.conn.fetch(_LOCKS_SQL):
        cur = strongest.get(r["oid"])
        if cur is None or _STRENGTH.index(r["mode"]) > _STRENGTH.index(cur[1]):
            strongest[r["oid"]] = (r["relation"], r["mode"])
    run.touched |= set(strongest)
    acquired = [  # locks this statement took or strengthened
        (rel, mode)
        for oid, (rel, mode) in strongest.items()
        if oid not in run.held or _STRENGTH.index(mode) > _STRENGTH.index(run.held[oid])
    ]
    run.held.update({oid: mode for oid, (_, mode) in strongest.items()})
    rewrites = []
    for r in await run.conn.fetch(_NODES_SQL + " AND c.oid = ANY($1::oid[])", list(strongest)):
        if r["oid"] in run.known and run.known[r["oid"]] != r["relfilenode"]:
            rewrites.append(r["relation"])
        run.known[r["oid"]] = r["relfilenode"]
    locks = [LockTaken(relation=rel, mode=mode, blocks=BLOCKS.get(mode, "unknown")) for rel, mode in sorted(acquired)]
    run.steps.append(
        Step(
            migration=label,
            statement=text,
            status=status,
            duration_ms=round(took, 2),
            locks=locks,
            rewrites=sorted(rewrites),
        )
    )


_HEAVY = ("AccessExclusiveLock", "ExclusiveLock", "ShareLock", "ShareRowExclusiveLock")


def _lock_warnings(run: _Run, steps: list[Step], prefix: str) -> list[str]:
    """Strong locks on tables that existed (blocking others until commit), long ACCESS EXCLUSIVE holds, rewrites."""
    existing = dict(run.initial.values())
    out, seen = [], set()
    for i, st in enumerate(steps):
        where = f"{prefix}statement {i + 1}"
        for lock in st.locks:
            if lock.relation not in existing or lock.mode not in _HEAVY:
                continue
            est = f" (~{existing[lock.relation]} rows)" if existing[lock.relation] >= 0 else ""
            out.append(f"{where} holds {lock.mode} on {lock.relation}{est}: blocks {lock.blocks} until commit")
            held = sum(s.duration_ms for s in steps[i:])
            if lock.mode == "AccessExclusiveLock" and lock.relation not in seen and held >= LONG_HOLD_MS:
                seen.add(lock.relation)
                out.append(
                    f"{where} holds ACCESS EXCLUSIVE on {lock.relation} for ~{held:.0f} ms until commit: "
                    "reads and writes queue that long; split the migration or make the slow part non-blocking"
                )
        for rel in st.rewrites:
            out.append(f"{where} rewrites {rel}: the whole table is copied while the lock is held")
    return out


async def _begin(conn: Any, names: list[tuple[str | None, str]]) -> tuple[_Run, dict[int, Any]]:
    nodes = await conn.fetch(_NODES_SQL)
    run = _Run(conn, {r["oid"]: (r["relation"], r["rows"]) for r in nodes}, {r["oid"]: r["relfilenode"] for r in nodes})
    named = await resolve(conn, names)
    before = {r["oid"]: r for r in await conn.fetch(SHAPE_SQL, list(named))}
    return run, before


Scripts = list[tuple[str | None, str, list[Statement]]]


async def _rehearse(conn: Any, scripts: Scripts, where: list[str]) -> tuple[_Run, list[SchemaChange]]:
    """Run every script in order in the caller's transaction; `where` tracks the statement being run."""
    names = list(dict.fromkeys(n for _, _, stmts in scripts for st in stmts for n in relation_names(st.tree)))
    run, before = await _begin(conn, names)
    for label, title, stmts in scripts:
        first = len(run.steps)
        for i, st in enumerate(stmts, 1):
            where[0] = f"statement {i} of {title}"
            await _step(run, label, f"{label} statement {i}" if label else f"statement {i}", st)
        run.warnings += _lock_warnings(run, run.steps[first:], f"{label} " if label else "")
    where[0] = "the schema diff of the migration"
    named = set(await resolve(conn, names))
    after = {r["oid"]: r for r in await conn.fetch(SHAPE_SQL, list(run.touched | named | set(before)))}
    return run, diff_shapes(before, after)


def _script(sql: str) -> Scripts:
    return [(None, "the migration", [Statement(k, t, True, t, parse_one(t)) for k, t in split_script(sql)])]


@tool("PostgreSQL: rehearse a migration (rolled back)", WRITE_IDEMPOTENT)
async def pg_migration_plan(
    ctx: Context[Any, Any],
    sql: Annotated[
        str | None,
        Field(description="Migration script (statements separated by ;)"),
    ] = None,
    directory: Annotated[str | None, Field(description="Migrations directory (default: the configured one)")] = None,
    timeout_ms: Annotated[
        int | None, Field(ge=1, le=600_000, description="statement_timeout per statement in ms (default: server)")
    ] = None,
) -> MigrationPlan:
    """Rehearse migrations in a transaction that is always rolled back: per-statement locks, rewrites, durations,
    DDL lint and schema changes.

    Without `sql`, rehearses the directory's pending migrations and returns the `plan_id` for pg_migration_apply.
    Locks are really taken (bounded by lock_timeout).
    """
    pg = state_of(ctx)
    if sql is not None and directory is not None:
        raise tool_error("plan the migration", "give `sql` or `directory`, not both")
    scripts = _script(sql) if sql is not None else []
    d = None if sql is not None else await anyio.to_thread.run_sync(load_directory, pg.settings, directory)
    where = ["the migration"]
    start = time.perf_counter()
    try:
        async with pg.transaction(read_only=False, timeout_ms=timeout_ms) as tx:
            ps = await plan_state(tx.conn, pg.settings, d) if d else None
            for m, resume in ps.todo if ps else []:
                scripts.append(
                    (m.version, f"migration {m.version} ({m.file})", parse_migration(m.sql, m.file)[resume:])
                )
            run, changes = await _rehearse(tx.conn, scripts, where)
    except Exception as exc:
        raise translate(exc, f"rehearse {where[0]}") from exc
    warnings = [f"{x.version}: {x.kind}: {x.detail}" for x in ps.drift] if ps else []
    return MigrationPlan(
        steps=run.steps[:200],
        changes=changes[:200],
        warnings=(warnings + run.warnings)[:200],
        total_ms=round((time.perf_counter() - start) * 1000, 2),
        rolled_back=True,
        truncated=len(changes) > 200 or len(run.steps) > 200,
        plan_id=ps.plan_id if ps else None,
        migrations=[_planned(m, resume) for m, resume in ps.todo] if ps else [],
    )


def _planned(m: Migration, resume: int) -> PlannedMigration:
    stmts = parse_migration(m.sql, m.file)
    return PlannedMigration(
        version=m.version,
        file=m.file,
        statements=len(stmts),
        resume_at=resume,
        outside_transaction=sum(not s.transactional for s in stmts),
        has_down=m.down_file is not None,
    )
