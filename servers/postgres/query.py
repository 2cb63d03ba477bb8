"""PostgreSQL queries: read-only SQL with paging, EXPLAIN plans, and guarded writes."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import BaseModel, Field, GetJsonSchemaHandler, SkipValidation, WithJsonSchema
from pydantic.json_schema import JsonSchemaValue

from servers._common import cap_items, json_size, tool_error
from servers._common.tools import DESTRUCTIVE, READ, structured_result, tool
from servers.postgres.client import fetch_page, state_of, translate
from servers.postgres.safety import Checked, check_explain, check_index_definition, check_read_only, check_write
from servers.postgres.settings import PostgresSettings
from servers.postgres.values import RowShaper, coerce_param

Params = Annotated[
    list[Any] | None,
    Field(description="Values for $1, $2, ..."),
]
TimeoutMs = Annotated[
    int | None,
    Field(ge=1, le=600_000, description="statement_timeout in ms (default: server setting)"),
]


class Column(BaseModel):
    name: str
    type: str = Field(description="PostgreSQL type name")


# No per-row schema: a client validating structured output checks one array, not every row; and the server
# does not re-validate the rows it has just built (the SDK checks a returned result against its model).
Rows = Annotated[list[dict[str, Any]], SkipValidation, WithJsonSchema({"type": "array"})]


class QueryResult(BaseModel):
    columns: list[Column]
    rows: Rows = Field(description="Rows as objects keyed by column name")
    row_count: int = Field(description="Rows in this page")
    truncated: bool = Field(description="True when more rows exist (or the byte cap cut the page)")
    next_offset: int | None = Field(description="Pass as `offset` to fetch the next page; null when done")
    notes: list[str] = Field(default_factory=list, description="Caveats about the result (absent when none)")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        """The published outputSchema: the fields every page has, and the one it may have.

        A client checks each result against it (the mcp client with jsonschema, which descends into every
        property the result carries: ~10 subschemas for this model, more than the rest of the client's work
        on a small page). `required` names the fields at no cost; `notes` is described because it is only
        there when it is not empty. The server still checks each page against the model itself.
        """
        required = [name for name, field in cls.model_fields.items() if field.is_required()]
        return {"type": "object", "required": required, "properties": {"notes": {"type": "array"}}}


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


_CACHED_SQL_CHARS = 4096
"""Statements up to this length keep their parse-gate verdict (a few hundred of them, a few MB at most)."""


@functools.lru_cache(maxsize=512)
def _checked_read_cached(sql: str) -> Checked:
    return check_read_only(sql)


def _checked_read(sql: str) -> Checked:
    """`check_read_only` with the verdict of a repeated statement remembered: it depends on the text alone.
    Refusals raise, so they are never cached; the result is shared, callers only read it."""
    return _checked_read_cached(sql) if len(sql) <= _CACHED_SQL_CHARS else check_read_only(sql)


def _binder(params: list[Any] | None) -> Callable[[list[str]], list[Any]]:
    """Coerce the JSON bind values to the statement's parameter types (given as type names)."""

    def bind(types: list[str]) -> list[Any]:
        values = list(params or [])
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

    return bind


def _coerce_params(stmt: Any, params: list[Any] | None) -> list[Any]:
    return _binder(params)([t.name for t in stmt.get_parameters()])


async def _read_page(
    pg: Any, sql: str, functions: set[str], params: list[Any] | None, page: int, offset: int, timeout_ms: int | None
) -> tuple[list[Any], list[Any]]:
    """Up to page+1 records and the result attributes.

    The common case (first page, default timeout) is one round trip on a read-only session: the cached
    statement is bound and executed with a row limit. Paging (`offset`) and per-call timeouts use a READ ONLY
    transaction with a cursor.
    """
    if not offset and timeout_ms is None:
        async with pg.connection() as conn:
            await _forbid_volatile_user_functions(conn, functions)
            return await fetch_page(conn, sql, _binder(params), page + 1)
    async with pg.transaction(read_only=True, timeout_ms=timeout_ms) as tx:
        await _forbid_volatile_user_functions(tx.conn, functions)
        stmt = await tx.conn.prepare(sql)
        cursor = await stmt.cursor(*_coerce_params(stmt, params))
        if offset:
            await cursor.forward(offset)
        return await cursor.fetch(page + 1), list(stmt.get_attributes())


def fit_rows(rows: list[dict[str, Any]], max_bytes: int) -> tuple[list[dict[str, Any]], bool]:
    """The rows that fit `max_bytes` of JSON (at least one), measured once per page; True when cut."""
    kept, cut, _ = _fit_rows_json(rows, max_bytes)
    return kept, cut


def _fit_rows_json(rows: list[dict[str, Any]], max_bytes: int) -> tuple[list[dict[str, Any]], bool, bytes | None]:
    """`fit_rows`, plus the JSON of the rows when it was made whole (not cut) and holds JSON values only."""
    if len(rows) <= 1:
        return rows, False, None
    try:
        encoded = orjson.dumps(rows)
        whole: bytes | None = encoded
    except TypeError:  # a value only `default=str` writes: measured that way, not reused
        encoded, whole = orjson.dumps(rows, default=str), None
    if len(encoded) <= max_bytes:
        return rows, False, whole
    kept, cut = cap_items(rows, max_items=None, max_bytes=max_bytes)
    return kept, cut, None


@tool("PostgreSQL: run a read-only query", READ)
async def pg_query(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One SELECT, WITH, VALUES, TABLE or SHOW statement")],
    params: Params = None,
    limit: Annotated[int | None, Field(ge=1, description="Rows per page (default 200, capped by the server)")] = None,
    offset: Annotated[int, Field(ge=0)] = 0,
    timeout_ms: TimeoutMs = None,
) -> Annotated[CallToolResult, QueryResult]:
    """Run one read-only SQL statement with bind parameters; returns a page of typed rows.

    Add ORDER BY for stable paging.
    """
    pg = state_of(ctx)
    checked = _checked_read(sql)
    page = min(limit or pg.settings.max_rows, pg.settings.max_rows_limit)
    notes: list[str] = []
    if limit and limit > pg.settings.max_rows_limit:
        notes.append(f"limit capped at {pg.settings.max_rows_limit}")
    try:
        records, attributes = await _read_page(pg, sql, checked.functions, params, page, offset, timeout_ms)
    except Exception as exc:
        raise translate(exc, "run the query") from exc
    return page_result(records, attributes, page, offset, notes, pg.settings)


def page_result(
    records: list[Any], attributes: list[Any], page: int, offset: int, notes: list[str], settings: PostgresSettings
) -> CallToolResult:
    """pg_query's result for up to page+1 fetched records: shaped rows cut to the byte cap, JSON-ready as it
    is (serialised once for the text block, never re-dumped through a model)."""
    more = len(records) > page
    shaper = RowShaper(attributes, reveal=settings.reveal_secrets)
    rows, byte_cut, rows_json = _fit_rows_json(shaper.rows(records[:page]), settings.max_bytes)
    if byte_cut:
        notes.append(f"page cut at the {settings.max_bytes}-byte cap; select fewer or narrower columns")
    notes += shaper.note()
    truncated = more or byte_cut
    data: dict[str, Any] = {
        "columns": [{"name": a.name, "type": a.type.name} for a in attributes],
        "rows": rows,
        "row_count": len(rows),
        "truncated": truncated,
        "next_offset": offset + len(rows) if truncated else None,
    }
    if notes:
        data["notes"] = notes
    return structured_result(data, text=None if rows_json is None else _page_text(data, rows_json))


def _page_text(data: dict[str, Any], rows_json: bytes) -> str:
    """`orjson.dumps(data)` with the rows' JSON, already made to measure the page, put in place (the rows
    are the page's bulk: dumped once, not twice)."""
    head = orjson.dumps({"columns": data["columns"]})[:-1]
    tail = orjson.dumps({k: v for k, v in data.items() if k not in ("columns", "rows")})[1:]
    return (head + b',"rows":' + rows_json + b"," + tail).decode()


class ExplainResult(BaseModel):
    plan: Any = Field(description="EXPLAIN (FORMAT JSON) output")
    total_cost: float | None = Field(description="Planner's total cost of the top node")
    plan_rows: float | None = Field(description="Planner's row estimate of the top node")
    execution_time_ms: float | None = Field(description="Actual time (ANALYZE only)")
    planning_time_ms: float | None = None
    node_types: list[str] = Field(description="Distinct plan node types, e.g. Seq Scan, Index Scan")
    rolled_back: bool = Field(description="True when the statement ran (ANALYZE) and was rolled back")
    truncated: bool = Field(
        description="True when the plan was over the byte cap and was compacted (per-node detail dropped, "
        "deep subtrees cut); plan a smaller part of the query for full detail"
    )
    baseline_total_cost: float | None = Field(
        default=None, description="Total cost without the hypothetical indexes (when some were given)"
    )
    hypothetical_indexes_used: list[str] = Field(
        default_factory=list, description="Hypothetical indexes (hypopg names) that the plan uses"
    )


def _top_cost(plan: Any) -> float | None:
    if isinstance(plan, list) and plan and isinstance(plan[0], dict):
        cost = plan[0].get("Plan", {}).get("Total Cost")
        return float(cost) if cost is not None else None
    return None


async def _reset_hypothetical_indexes(conn: Any) -> None:
    """hypopg state lives in the session, not the transaction: clear it before the connection is reused."""
    import asyncpg

    try:
        await conn.execute("SELECT hypopg_reset()")
    except asyncpg.InFailedSQLTransactionError:  # the transaction failed: reset outside it, then reopen one
        await conn.execute("ROLLBACK; SELECT hypopg_reset(); BEGIN READ ONLY")
    except asyncpg.UndefinedFunctionError:  # hypopg is not installed: nothing to reset
        pass


async def _with_hypothetical_indexes(conn: Any, definitions: list[str]) -> list[str]:
    """Create hypopg indexes for this session (reset by the caller); their generated names."""
    has = await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'hypopg'")
    if not has:
        raise tool_error(
            "create hypothetical indexes",
            "the hypopg extension is not installed in this database",
            hint="install the hypopg package for your PostgreSQL (Debian: postgresql-<version>-hypopg) and run "
            "CREATE EXTENSION hypopg (a DBA task); or compare plans after creating a real index elsewhere",
        )
    names = []
    for d in definitions:
        row = await conn.fetchrow("SELECT indexname FROM hypopg_create_index($1)", d)
        names.append(row["indexname"])
    return names


# What stays of each node when a plan is compacted to fit the byte cap.
_PLAN_ESSENTIALS = (
    "Node Type",
    "Join Type",
    "Relation Name",
    "Alias",
    "Index Name",
    "Index Cond",
    "Filter",
    "Hash Cond",
    "Merge Cond",
    "Startup Cost",
    "Total Cost",
    "Plan Rows",
    "Actual Total Time",
    "Actual Rows",
    "Actual Loops",
    "Rows Removed by Filter",
    "Sort Key",
    "Group Key",
    "Parent Relationship",
)


def _compact(node: Any, depth: int) -> Any:
    """The plan node with only its essential keys, children cut below `depth`."""
    if not isinstance(node, dict):
        return node
    out = {k: node[k] for k in _PLAN_ESSENTIALS if k in node}
    children = node.get("Plans") or []
    if children and depth > 0:
        out["Plans"] = [_compact(c, depth - 1) for c in children]
    elif children:
        out["Plans Omitted"] = len(children)
    return out


def fit_plan(plan: Any, max_bytes: int) -> tuple[Any, bool]:
    """The plan itself when it fits `max_bytes`, else a compacted copy and True."""
    if json_size(plan) <= max_bytes or not (isinstance(plan, list) and plan and isinstance(plan[0], dict)):
        return plan, False
    top = dict(plan[0])
    for depth in (64, 16, 8, 4, 2, 1, 0):
        top["Plan"] = _compact(plan[0].get("Plan"), depth)
        if json_size([top]) <= max_bytes:
            break
    return [top], True


def _node_types(plan: Any, out: list[str]) -> list[str]:
    if isinstance(plan, dict):
        t = plan.get("Node Type")
        if isinstance(t, str) and t not in out:
            out.append(t)
        for child in plan.get("Plans", []) or []:
            _node_types(child, out)
    return out


async def _plan(
    pg: Any, explain: str, checked: Any, params: list[Any] | None, hypo: list[str], timeout_ms: int | None
) -> tuple[Any, float | None, list[str]]:
    """The plan, the baseline cost and the hypothetical indexes used.

    A plain EXPLAIN (no ANALYZE, no hypothetical indexes, default timeout) executes nothing: it runs on a
    read-only session in one round trip like pg_query. ANALYZE runs in a READ ONLY transaction that is rolled
    back; hypothetical indexes are session state, created and reset inside it.
    """
    if not checked.analyze and not hypo and timeout_ms is None:
        async with pg.connection() as conn:
            await _forbid_volatile_user_functions(conn, checked.functions)
            records, _ = await fetch_page(conn, explain, _binder(params), 1)
            return records[0][0], None, []
    async with pg.transaction(read_only=True, timeout_ms=timeout_ms) as tx:
        await _forbid_volatile_user_functions(tx.conn, checked.functions)
        stmt = await tx.conn.prepare(explain)
        args = _coerce_params(stmt, params)
        plan = await stmt.fetchval(*args)
        if not hypo:
            return plan, None, []
        baseline = _top_cost(plan)
        try:
            names = await _with_hypothetical_indexes(tx.conn, hypo)
            plan = await (await tx.conn.prepare(explain)).fetchval(*args)
        finally:
            await _reset_hypothetical_indexes(tx.conn)
        return plan, baseline, [n for n in names if n in orjson.dumps(plan).decode()]


@tool("PostgreSQL: explain a query plan", READ)
async def pg_explain(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="The statement to plan, without EXPLAIN")],
    params: Params = None,
    analyze: Annotated[bool, Field(description="Run it for real timings (rolled back)")] = False,
    buffers: Annotated[bool, Field(description="Include buffer usage (with analyze)")] = True,
    hypothetical_indexes: Annotated[
        list[str] | None,
        Field(
            max_length=10,
            description="CREATE INDEX statements to plan with, not built (needs hypopg)",
        ),
    ] = None,
    timeout_ms: TimeoutMs = None,
) -> ExplainResult:
    """Show a query's plan (EXPLAIN JSON), optionally with ANALYZE in a rolled-back transaction.

    Writes are planned, not analyzed (use pg_execute(dry_run=true)).
    """
    pg = state_of(ctx)
    checked = check_explain(sql, analyze=analyze)
    hypo = [check_index_definition(d) for d in hypothetical_indexes or []]
    if hypo and analyze:
        raise tool_error(
            "explain",
            "hypothetical indexes cannot be used with ANALYZE (they do not exist, so nothing can execute them)",
            hint="set analyze=false to compare estimated costs",
        )
    options = ["FORMAT JSON", "VERBOSE"]
    if analyze:
        options += ["ANALYZE", f"BUFFERS {'TRUE' if buffers else 'FALSE'}"]
    try:
        plan, baseline, used = await _plan(
            pg, f"EXPLAIN ({', '.join(options)}) {sql}", checked, params, hypo, timeout_ms
        )
    except Exception as exc:
        raise translate(exc, "explain the statement") from exc
    top = plan[0] if isinstance(plan, list) and plan else {}
    node = top.get("Plan", {}) if isinstance(top, dict) else {}
    shown, truncated = fit_plan(plan, pg.settings.max_bytes)
    return ExplainResult(
        plan=shown,
        total_cost=node.get("Total Cost"),
        plan_rows=node.get("Plan Rows"),
        execution_time_ms=top.get("Execution Time") if isinstance(top, dict) else None,
        planning_time_ms=top.get("Planning Time") if isinstance(top, dict) else None,
        node_types=_node_types(node, []),
        rolled_back=analyze,
        truncated=truncated,
        baseline_total_cost=baseline,
        hypothetical_indexes_used=used,
    )


class ExecuteResult(BaseModel):
    status: str = Field(description="PostgreSQL command tag, e.g. 'UPDATE 3'")
    rows_affected: int | None = Field(description="Rows inserted/updated/deleted/copied, when reported")
    returning: list[dict[str, Any]] = Field(default_factory=list, description="RETURNING rows (capped)")
    truncated: bool = Field(default=False, description="True when RETURNING rows were cut by the caps")
    committed: bool = Field(description="False when dry_run rolled the change back")


_TAG_COUNT = re.compile(r"^(?:INSERT \d+ |UPDATE |DELETE |MERGE |COPY |SELECT |MOVE |FETCH )(\d+)$")


@tool("PostgreSQL: execute a write statement", DESTRUCTIVE)
async def pg_execute(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One statement: INSERT/UPDATE/DELETE/MERGE, DDL, ...")],
    params: Params = None,
    dry_run: Annotated[bool, Field(description="Run it, report the effect, then roll back")] = False,
    timeout_ms: TimeoutMs = None,
) -> ExecuteResult:
    """Execute one write statement in its own transaction and report rows affected.

    Transaction control, server-side COPY, ALTER SYSTEM and LOAD are refused.
    """
    pg = state_of(ctx)
    check_write(sql)
    try:
        async with pg.transaction(read_only=False, timeout_ms=timeout_ms) as tx:
            stmt = await tx.conn.prepare(sql)
            args = _coerce_params(stmt, params)
            records = await stmt.fetch(*args)
            status = stmt.get_statusmsg()
            shaper = RowShaper(list(stmt.get_attributes()), reveal=pg.settings.reveal_secrets)
            capped = records[: pg.settings.max_rows]
            returning, truncated = fit_rows(shaper.rows(capped), pg.settings.max_bytes)
            truncated = truncated or len(records) > len(capped)
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
