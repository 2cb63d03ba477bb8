"""The parsed read-only check that runs before the database's own READ ONLY transaction.

A READ ONLY transaction already stops writes to tables. It does not stop a number of side effects that
PostgreSQL allows in one: terminating or cancelling other sessions, changing configuration, reading or
writing server files, running a program, taking advisory locks, talking to other databases (dblink),
running dynamic SQL through `query_to_xml`, and so on. This module parses the statement with
libpg_query (pglast) and refuses those, plus anything that is not a single plain read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from servers._common import tool_error


def parse_sql_json(sql: str) -> str:
    """libpg_query's parse tree of `sql` as JSON. pglast is imported on first use: importing its package
    costs a tenth of a second of start-up for every server, most of which never parse SQL."""
    from pglast import parser

    tree: str = parser.parse_sql_json(sql)
    return tree


def parse_error() -> type[Exception]:
    """pglast's syntax error class (for `except parse_error() as exc:` after `parse_sql_json`)."""
    from pglast import parser

    error: type[Exception] = parser.ParseError
    return error


READ_STATEMENTS = {"SelectStmt", "VariableShowStmt"}
EXPLAINABLE = {"SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
DATA_MODIFYING = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}
TRANSACTION_CONTROL = {"TransactionStmt"}
IDENTITY_SETTINGS = {"role", "session_authorization"}
"""Settings that change whom the session acts as: a call must not leave the role the server set for it."""

# Functions with side effects that a READ ONLY transaction still permits (or that reach outside
# the database). Matched on the unqualified, lower-cased name, so `pg_catalog.x` is caught too.
DENIED_FUNCTIONS = {
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_signal_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_rotate_logfile_old",
    "set_config",
    "pg_read_file",
    "pg_read_file_old",
    "pg_read_binary_file",
    "pg_stat_file",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_sync",
    "pg_logdir_ls",
    "pg_notify",
    "pg_switch_wal",
    "pg_switch_xlog",
    "pg_promote",
    "pg_create_restore_point",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_backup_start",
    "pg_backup_stop",
    "pg_log_backend_memory_contexts",
    "pg_import_system_collations",
    "pg_truncate_visibility_map",
    "pg_drop_replication_slot",
    "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot",
    "pg_stat_statements_reset",
    "query_to_xml",
    "query_to_xmlschema",
    "query_to_xml_and_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "nextval",
    "setval",
    "txid_current",
    "pg_current_xact_id",
    "pg_sleep_until",
    "pg_prewarm",
    "pg_xact_commit_timestamp",
}
DENIED_PREFIXES = (
    "pg_ls_",
    "lo_",
    "dblink",
    "pg_advisory",
    "pg_try_advisory",
    "pg_stat_reset",
    "pg_create_",
    "pg_replication_",
    "pg_logical_",
    "pg_wal_replay_",
    "pg_xlog_replay_",
    "pg_walfile",
    "hypopg_",  # session state on a pooled connection: only pg_explain's hypothetical_indexes may use it
)
# Functions whose names are denied under the prefixes above but are harmless reads.
ALLOWED_EXCEPTIONS = {
    "pg_replication_origin_session_is_setup",
    "hypopg_list_indexes",
    "hypopg_relation_size",
    "hypopg_get_indexdef",
}
EXPENSIVE_OK = {"pg_sleep"}  # bounded by statement_timeout


@dataclass
class Checked:
    """What the check learned about a statement."""

    kind: str
    functions: set[str] = field(default_factory=set)
    inner_kind: str | None = None
    analyze: bool = False


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (node type, node body) pair in the JSON parse tree."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            for k, v in cur.items():
                if k[:1].isupper() and isinstance(v, dict):
                    yield k, v
                stack.append(v)
        elif isinstance(cur, list):
            stack.extend(cur)


def _func_name(body: dict[str, Any]) -> tuple[str, str]:
    parts = [p.get("String", {}).get("sval", "") for p in body.get("funcname", [])]
    name = parts[-1].lower() if parts else ""
    return name, ".".join(parts).lower()


def denied_function(name: str) -> bool:
    if name in ALLOWED_EXCEPTIONS:
        return False
    return name in DENIED_FUNCTIONS or name.startswith(DENIED_PREFIXES)


def parse_one(sql: str) -> dict[str, Any]:
    """The single statement in `sql` as a JSON tree; refuse syntax errors and multiple statements."""
    try:
        tree = orjson.loads(parse_sql_json(sql))
    except parse_error() as exc:
        pos = getattr(exc, "location", None)
        near = ""
        if isinstance(pos, int) and 0 <= pos < len(sql):
            near = f" near {sql[pos : pos + 20]!r} (character {pos + 1})"
        raise tool_error(
            "parse the SQL",
            f"syntax error{near}: {exc.args[0] if exc.args else exc}",
            code="42601",
            hint="fix the SQL syntax; one statement per call, bind values as $1, $2 ... with `params`",
        ) from exc
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        raise tool_error(
            "run the SQL",
            f"expected exactly one statement, got {len(stmts)}",
            hint="send one statement per call (no `;`-separated batches)",
        )
    stmt: dict[str, Any] = stmts[0]["stmt"]
    return stmt


def _kind(stmt: dict[str, Any]) -> str:
    return next(iter(stmt))


def _refuse(reason: str, hint: str) -> Exception:
    return tool_error("run the statement read-only", f"refused: {reason}", hint=hint)


def check_functions(
    stmt: dict[str, Any], *, read: bool = True, action: str = "run the statement read-only"
) -> set[str]:
    """Collect called functions and refuse denied ones; with `read` (a statement that must only read), refuse
    data-modifying sub-statements, SELECT INTO and row locks too."""
    names: set[str] = set()
    for kind, body in _walk(stmt):
        if kind == "FuncCall":
            name, qualified = _func_name(body)
            if denied_function(name):
                raise _denied(qualified, read, action)
            names.add(name)
        elif read:
            _refuse_writing(kind)
    return names


def _denied(qualified: str, read: bool, action: str) -> Exception:
    if read:
        return _refuse(
            f"function {qualified}() has side effects outside a read-only transaction",
            "read tools cannot call it; ask a human to run it if it is really needed",
        )
    return tool_error(
        action,
        f"refused: function {qualified}() acts on the server or other sessions, not on data",
        hint="the tools never call it; ask a DBA to run it if it is really needed",
    )


def _refuse_writing(kind: str) -> None:
    """Refuse a part of a read that writes: a data-modifying sub-statement, SELECT INTO, a row lock."""
    if kind in DATA_MODIFYING:
        raise _refuse(
            f"{kind.removesuffix('Stmt').upper()} inside the statement modifies data",
            "use pg_execute (needs writes allowed for postgres) for data changes",
        )
    if kind == "IntoClause":
        raise _refuse("SELECT INTO creates a table", "drop the INTO clause to read the rows")
    if kind == "LockingClause":
        raise _refuse("FOR UPDATE/SHARE takes row locks", "drop the locking clause for a plain read")


def check_read_only(sql: str) -> Checked:
    """Refuse anything but one plain read (SELECT/VALUES/TABLE/WITH ... SELECT, SHOW)."""
    stmt = parse_one(sql)
    kind = _kind(stmt)
    if kind not in READ_STATEMENTS:
        raise _refuse(
            f"{_statement_label(kind)} is not a read",
            "pg_query runs SELECT/WITH/VALUES/TABLE/SHOW only; use pg_explain for plans and pg_execute "
            "(writes allowed) for changes",
        )
    return Checked(kind=kind, functions=check_functions(stmt))


def check_explain(sql: str, *, analyze: bool) -> Checked:
    """The statement to EXPLAIN: any plannable statement; with ANALYZE (which executes it) reads only."""
    stmt = parse_one(sql)
    kind = _kind(stmt)
    if kind == "ExplainStmt":
        raise tool_error("explain", "pass the statement without EXPLAIN", hint="set `analyze` instead")
    if kind not in EXPLAINABLE:
        raise tool_error(
            "explain",
            f"{_statement_label(kind)} has no query plan",
            hint="EXPLAIN works for SELECT, INSERT, UPDATE, DELETE and MERGE",
        )
    if kind in DATA_MODIFYING and analyze:
        raise _refuse(
            "EXPLAIN ANALYZE executes the statement, and this one modifies data",
            "run without analyze for the estimated plan, or measure it with pg_execute(dry_run=true) "
            "where writes are allowed",
        )
    functions = check_functions(stmt, read=kind not in DATA_MODIFYING)
    return Checked(kind="ExplainStmt", functions=functions, inner_kind=kind, analyze=analyze)


def check_write(sql: str) -> Checked:
    """One statement for pg_execute: refuse transaction control and server file/program access."""
    stmt = parse_one(sql)
    kind = _kind(stmt)
    body = stmt[kind]
    if kind in TRANSACTION_CONTROL:
        raise tool_error(
            "execute",
            "transaction control is managed by the server",
            hint="each pg_execute call runs in its own transaction; send the statement alone",
        )
    if kind == "CopyStmt" and (body.get("filename") or body.get("is_program")):
        raise tool_error("execute", "COPY to or from a server file or program is refused", hint="use INSERT/SELECT")
    if kind == "VariableSetStmt" and body.get("name") in IDENTITY_SETTINGS:
        raise tool_error(
            "execute",
            "changing the session's role or authorization is refused",
            hint="the server decides whom a call acts as (BAM_PG_ROLE_CLAIM); qualify access with GRANTs instead",
        )
    if kind in ("AlterSystemStmt", "LoadStmt"):
        raise tool_error("execute", f"{_statement_label(kind)} changes the server itself and is refused")
    return Checked(kind=kind, functions=check_functions(stmt, read=False, action="execute"))


_LABEL = re.compile(r"(?<!^)(?=[A-Z])")


def _statement_label(kind: str) -> str:
    return _LABEL.sub(" ", kind.removesuffix("Stmt")).upper() + " statement"


def check_index_definition(sql: str) -> str:
    """A single plain CREATE INDEX statement (for hypothetical indexes); refuse anything else."""
    stmt = parse_one(sql)
    kind = _kind(stmt)
    if kind != "IndexStmt":
        raise tool_error(
            "create a hypothetical index",
            f"expected CREATE INDEX, got {_statement_label(kind)}",
            hint="pass statements like: CREATE INDEX ON schema.table (column)",
        )
    check_functions(stmt, read=False)
    return sql


# Statements that cannot run inside a transaction block, so cannot be rehearsed and rolled back.
_NON_TRANSACTIONAL = {
    "VacuumStmt",
    "CreatedbStmt",
    "DropdbStmt",
    "AlterSystemStmt",
    "CreateTableSpaceStmt",
    "DropTableSpaceStmt",
    "ReindexStmt",
}


def split_script(sql: str, *, max_statements: int = 50) -> list[tuple[str, str]]:
    """A migration script as (statement kind, statement text) pairs, each checked like pg_execute's."""
    try:
        tree = orjson.loads(parse_sql_json(sql))
    except parse_error():
        parse_one(sql)  # raises the located syntax error
        raise
    stmts = tree.get("stmts", [])
    if not stmts:
        raise tool_error("plan the migration", "the script holds no statement")
    if len(stmts) > max_statements:
        raise tool_error(
            "plan the migration",
            f"{len(stmts)} statements; at most {max_statements} per plan",
            hint="split the migration into smaller steps",
        )
    raw = sql.encode()
    out: list[tuple[str, str]] = []
    for st in stmts:
        start = st.get("stmt_location", 0)
        length = st.get("stmt_len", 0) or len(raw) - start
        text = raw[start : start + length].decode().strip()
        kind = _kind(st["stmt"])
        body = st["stmt"][kind]
        if kind in _NON_TRANSACTIONAL or (kind == "IndexStmt" and body.get("concurrent")):
            label = "CREATE INDEX CONCURRENTLY" if kind == "IndexStmt" else _statement_label(kind)
            raise tool_error(
                "plan the migration",
                f"{label} cannot run inside a transaction, so it cannot be rehearsed and rolled back",
                hint="plan the same statement without CONCURRENTLY to see its effect, then run it on its own",
            )
        check_write(text)
        out.append((kind, text))
    return out


def referenced_relations(sql: str) -> list[tuple[str | None, str]]:
    """(schema, name) of every table a script names, in order of appearance, without duplicates."""
    out: list[tuple[str | None, str]] = []
    stack: list[Any] = [orjson.loads(parse_sql_json(sql))]
    while stack:  # RangeVar fields are not wrapped in a node-type key, so look for their shape
        cur = stack.pop()
        if isinstance(cur, dict):
            if isinstance(cur.get("relname"), str) and "relpersistence" in cur:
                ref = (cur.get("schemaname"), cur["relname"])
                if ref not in out:
                    out.append(ref)
            stack.extend(reversed(list(cur.values())))
        elif isinstance(cur, list):
            stack.extend(reversed(cur))
    return out
