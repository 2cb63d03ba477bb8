"""Migrations from a directory against the real PostgreSQL, each test in a database of its own: plan, apply,
status and drift, rollback, stale plans, lock waits, concurrent writers, CONCURRENTLY, two appliers."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.postgres import build_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio
WRITES = ToolPolicy(allow_writes=frozenset({"postgres"}))


def write(d: Path, name: str, sql: str) -> None:
    (d / name).write_text(sql)


@pytest.fixture
def mdir(tmp_path: Path) -> Path:
    d = tmp_path / "migrations"
    d.mkdir()
    return d


@pytest.fixture
def env(tempdb: str, mdir: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", tempdb)
    monkeypatch.setenv("BAM_PG_MIGRATIONS_DIR", str(mdir))
    monkeypatch.setenv("BAM_PG_MIGRATIONS_ROOTS", str(mdir.parent))
    return tempdb


@pytest.fixture
async def mig(env: str) -> AsyncIterator[Client]:
    async with Client(build_server(WRITES)) as c:
        yield c


async def fetchval(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def plan(c: Client, **args: Any) -> dict[str, Any]:
    p: dict[str, Any] = ok(await c.call_tool("pg_migration_plan", args))
    return p


async def plan_and_apply(c: Client, **args: Any) -> dict[str, Any]:
    p = await plan(c)
    r: dict[str, Any] = ok(await c.call_tool("pg_migration_apply", {"plan_id": p["plan_id"], **args}))
    return r


def flyway(d: Path) -> None:
    write(
        d,
        "V1__accounts.sql",
        "CREATE SCHEMA app;\nCREATE TABLE app.accounts (id bigint PRIMARY KEY, email text NOT NULL);",
    )
    write(d, "U1__accounts.sql", "DROP TABLE app.accounts; DROP SCHEMA app;")
    write(d, "V2__email_index.sql", "CREATE INDEX CONCURRENTLY accounts_email_idx ON app.accounts (email);")
    write(d, "U2__email_index.sql", "DROP INDEX CONCURRENTLY app.accounts_email_idx;")
    write(d, "V3__note.sql", "ALTER TABLE app.accounts ADD COLUMN note text;")
    write(d, "U3__note.sql", "ALTER TABLE app.accounts DROP COLUMN note;")
    write(d, "README.md", "not a migration")


async def test_directory_applied_statused_drifted_and_rolled_back(mig: Client, mdir: Path, env: str) -> None:
    flyway(mdir)
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert [p["version"] for p in st["pending"]] == ["1", "2", "3"] and st["applied"] == []
    assert st["ignored"] == ["README.md"] and st["current_version"] is None

    p = await plan(mig)
    assert [m["version"] for m in p["migrations"]] == ["1", "2", "3"]
    assert [m["outside_transaction"] for m in p["migrations"]] == [0, 1, 0]
    assert "without CONCURRENTLY" in p["steps"][2]["status"]  # rehearsed in the transaction, applied outside it
    assert ("app.accounts", "table added") in {(c["relation"], c["change"]) for c in p["changes"]}
    assert await fetchval(env, "SELECT to_regclass('app.accounts')") is None  # the plan was rolled back

    seen: list[str] = []

    async def progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    res = ok(await mig.call_tool("pg_migration_apply", {"plan_id": p["plan_id"]}, progress_callback=progress))
    assert [r["version"] for r in res["ran"]] == ["1", "2", "3"] and res["current_version"] == "3"
    assert [r["outside_transaction"] for r in res["ran"]] == [False, True, False]
    assert any(m.startswith("2 statement 1/1: CREATE INDEX CONCURRENTLY") for m in seen), seen
    assert len([m for m in seen if " statement " in m]) == 4
    assert await fetchval(env, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'app.accounts_email_idx'::regclass")

    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert st["pending"] == [] and st["drift"] == [] and st["schema_drift"] == [] and st["applied_count"] == 3
    assert [a["version"] for a in st["applied"]] == ["3", "2", "1"]
    assert st["applied"][0]["applied_by"] == "postgres (backend-architect-mcp) via mcp"  # db user, app, MCP client
    assert st["applied"][0]["statements"] == "1/1" and st["applied"][0]["duration_ms"] >= 0

    # drift: a file edited after it was applied, a column and a table added by hand
    write(mdir, "V3__note.sql", "ALTER TABLE app.accounts ADD COLUMN note text NOT NULL;")
    await execute(env, "ALTER TABLE app.accounts ADD COLUMN extra int; CREATE TABLE app.by_hand (x int)")
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert [(x["version"], x["kind"]) for x in st["drift"]] == [("3", "checksum")]
    changes = {(c["relation"], c["change"], c["item"]) for c in st["schema_drift"]}
    assert changes == {("app.accounts", "added", "column extra"), ("app.by_hand", "table added", "table")}

    # rollback refuses a migration whose file changed, then undoes the last two once it is restored
    assert "changed after it was applied" in error_text(await mig.call_tool("pg_migration_rollback", {"steps": 2}))
    write(mdir, "V3__note.sql", "ALTER TABLE app.accounts ADD COLUMN note text;")
    await execute(env, "ALTER TABLE app.accounts DROP COLUMN extra; DROP TABLE app.by_hand")
    rb = ok(await mig.call_tool("pg_migration_rollback", {"steps": 2}))
    assert [r["version"] for r in rb["ran"]] == ["3", "2"] and rb["current_version"] == "1"
    assert rb["ran"][1]["outside_transaction"] is True  # DROP INDEX CONCURRENTLY
    assert await fetchval(env, "SELECT to_regclass('app.accounts_email_idx')") is None
    cols = await fetchval(env, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'accounts'")
    assert cols == 2
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert [p["version"] for p in st["pending"]] == ["2", "3"] and st["schema_drift"] == [] and st["drift"] == []

    # a missing down file refuses the rollback; a ledger entry whose file is gone is drift
    (mdir / "U1__accounts.sql").unlink()
    text = error_text(await mig.call_tool("pg_migration_rollback", {}))
    assert "has no down/undo file" in text and await fetchval(env, "SELECT to_regclass('app.accounts')") is not None
    (mdir / "V1__accounts.sql").unlink()
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert ("1", "missing_file") in {(x["version"], x["kind"]) for x in st["drift"]}


async def test_golang_migrate_files_with_begin_commit_and_a_ledger_schema(
    env: str, mdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_PG_MIGRATIONS_SCHEMA", "ops")
    write(mdir, "0001_users.up.sql", "BEGIN;\nCREATE TABLE users (id int PRIMARY KEY);\nCOMMIT;\n")
    write(mdir, "0001_users.down.sql", "BEGIN; DROP TABLE users; COMMIT;")
    write(mdir, "0002_name.up.sql", "ALTER TABLE users ADD COLUMN name text;")
    write(mdir, "0002_name.down.sql", "ALTER TABLE users DROP COLUMN name;")
    write(mdir, "0003_mood.up.sql", "CREATE TYPE mood AS ENUM ('ok');\nALTER TYPE mood ADD VALUE 'meh';")
    write(mdir, "0003_mood.down.sql", "DROP TYPE mood;")
    async with Client(build_server(WRITES)) as c:
        res = await plan_and_apply(c)
        assert [r["version"] for r in res["ran"]] == ["1", "2", "3"] and res["ledger"] == '"ops".bam_migrations'
        assert res["ran"][2]["outside_transaction"] is True  # ALTER TYPE ... ADD VALUE runs outside a transaction
        assert await fetchval(env, "SELECT enum_range(NULL::mood)::text") == "{ok,meh}"
        assert await fetchval(env, "SELECT count(*) FROM ops.bam_migrations WHERE status = 'applied'") == 3
        rb = ok(await c.call_tool("pg_migration_rollback", {"steps": 3}))
        assert [r["file"] for r in rb["ran"]] == ["0003_mood.down.sql", "0002_name.down.sql", "0001_users.down.sql"]
        assert await fetchval(env, "SELECT to_regclass('public.users')") is None
        assert await fetchval(env, "SELECT count(*) FROM ops.bam_migrations") == 0
        text = error_text(await c.call_tool("pg_migration_rollback", {}))
        assert "only 0 migration(s)" in text


async def test_a_plan_is_refused_after_a_file_or_the_schema_changes(mig: Client, mdir: Path, env: str) -> None:
    write(mdir, "V1__t.sql", "CREATE TABLE t (id int);")
    p = await plan(mig)
    write(mdir, "V1__t.sql", "CREATE TABLE t (id bigint);")
    text = error_text(await mig.call_tool("pg_migration_apply", {"plan_id": p["plan_id"]}))
    assert "the migration files or the ledger changed since the plan" in text
    write(mdir, "V2__u.sql", "CREATE TABLE u (id int);")
    p = await plan(mig)
    assert [m["version"] for m in p["migrations"]] == ["1", "2"]
    await execute(env, "CREATE TABLE by_hand (x int)")
    text = error_text(await mig.call_tool("pg_migration_apply", {"plan_id": p["plan_id"]}))
    assert "the schema changed since the plan" in text and await fetchval(env, "SELECT to_regclass('t')") is None
    bad = error_text(await mig.call_tool("pg_migration_apply", {"plan_id": "not-a-plan"}))
    assert "not one pg_migration_plan returns" in bad
    ok(await mig.call_tool("pg_migration_apply", {"plan_id": (await plan(mig))["plan_id"]}))
    assert (
        await fetchval(
            env,
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'id'",
        )
        == "bigint"
    )


async def test_a_lock_wait_gives_up_within_lock_timeout_and_retries(mig: Client, mdir: Path, env: str) -> None:
    await execute(env, "CREATE TABLE busy (id int)")
    write(mdir, "V1__busy.sql", "ALTER TABLE busy ADD COLUMN flag boolean;")
    plan_id = (await plan(mig))["plan_id"]  # before the lock is held: the rehearsal would wait on it too
    holder = await asyncpg.connect(env)
    try:
        await holder.execute("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        t0 = time.perf_counter()
        args = {"plan_id": plan_id, "lock_timeout_ms": 200, "retries": 2}
        text = error_text(await mig.call_tool("pg_migration_apply", args))
        took = time.perf_counter() - t0
        assert "SQLSTATE 55P03" in text and "after 3 attempt(s)" in text and "rolled back whole" in text
        assert 0.6 <= took < 5, took  # three waits of 200 ms plus bounded backoff
        assert await fetchval(env, "SELECT to_regclass('public.bam_migrations') IS NOT NULL")
        assert await fetchval(env, "SELECT count(*) FROM bam_migrations") == 0  # the ledger stays truthful

        async def release() -> None:
            await anyio.sleep(0.5)
            await holder.execute("ROLLBACK")

        async with anyio.create_task_group() as tg:
            tg.start_soon(release)
            res = ok(await mig.call_tool("pg_migration_apply", {**args, "retries": 6}))
        assert res["ran"][0]["attempts"] >= 2 and res["current_version"] == "1"
    finally:
        await holder.close()


async def test_concurrent_writers_lose_no_row_while_the_migration_runs(mig: Client, mdir: Path, env: str) -> None:
    await execute(env, "CREATE TABLE events (id bigserial PRIMARY KEY, v int NOT NULL)")
    write(
        mdir,
        "V1__events.sql",
        "ALTER TABLE events ADD COLUMN kind text DEFAULT 'x';\n"
        "CREATE INDEX CONCURRENTLY events_v_idx ON events (v);\n"
        "ALTER TABLE events ADD CONSTRAINT v_positive CHECK (v > 0) NOT VALID;\n"
        "ALTER TABLE events VALIDATE CONSTRAINT v_positive;\n",
    )
    plan_id = (await plan(mig))["plan_id"]
    inserted = 0
    stop = anyio.Event()

    async def writer() -> None:
        nonlocal inserted
        conn = await asyncpg.connect(env)
        try:
            while not stop.is_set():
                await conn.execute("INSERT INTO events (v) SELECT 1 + g FROM generate_series(1, 20) g")
                inserted += 20
        finally:
            await conn.close()

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(writer)
        await anyio.sleep(0.3)
        res = ok(await mig.call_tool("pg_migration_apply", {"plan_id": plan_id, "retries": 5}))
        await anyio.sleep(0.3)
        stop.set()
    assert res["ran"][0]["statements"] == 4 and inserted > 0
    assert await fetchval(env, "SELECT count(*) FROM events") == inserted
    assert await fetchval(env, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'events_v_idx'::regclass")


async def test_a_concurrently_statement_that_fails_halfway_is_cleaned_and_resumed(
    mig: Client, mdir: Path, env: str
) -> None:
    await execute(env, "CREATE TABLE dup (v int); INSERT INTO dup VALUES (1), (2)")
    write(
        mdir, "V1__dup.sql", "ALTER TABLE dup ADD COLUMN w int;\nCREATE UNIQUE INDEX CONCURRENTLY dup_v_key ON dup (v);"
    )
    plan_id = (await plan(mig))["plan_id"]
    await execute(env, "INSERT INTO dup VALUES (1)")  # written after the plan (data, not schema): the build fails
    text = error_text(await mig.call_tool("pg_migration_apply", {"plan_id": plan_id}))
    assert "SQLSTATE 23505" in text and "statement 2 of 2" in text and "dropped the invalid index" in text
    assert await fetchval(env, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == 0
    assert await fetchval(env, "SELECT status || ' ' || statements_done FROM bam_migrations") == "failed 1"
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert [(x["version"], x["kind"]) for x in st["drift"]] == [("1", "failed")]
    assert [p["version"] for p in st["pending"]] == ["1"]

    await execute(env, "DELETE FROM dup WHERE ctid = (SELECT max(ctid) FROM dup WHERE v = 1)")
    p = await plan(mig)
    assert p["migrations"][0]["resume_at"] == 1 and len(p["steps"]) == 1  # ADD COLUMN w is not run again
    res = ok(await mig.call_tool("pg_migration_apply", {"plan_id": p["plan_id"]}))
    assert res["ran"][0]["statements"] == 1
    assert await fetchval(env, "SELECT status || ' ' || statements_done FROM bam_migrations") == "applied 2"
    assert await fetchval(
        env, "SELECT indisvalid AND indisunique FROM pg_index WHERE indexrelid = 'dup_v_key'::regclass"
    )


async def test_two_appliers_at_once_one_is_refused(env: str, mdir: Path) -> None:
    write(mdir, "V1__slow.sql", "CREATE TABLE slow (id int);\nSELECT pg_sleep(1.5);")
    results: list[Any] = []
    async with Client(build_server(WRITES)) as a, Client(build_server(WRITES)) as b:
        plan_id = (await plan(a))["plan_id"]

        async def apply(c: Client) -> None:
            results.append(await c.call_tool("pg_migration_apply", {"plan_id": plan_id}))

        async with anyio.create_task_group() as tg:
            tg.start_soon(apply, a)
            await anyio.sleep(0.3)
            tg.start_soon(apply, b)
    assert [r.is_error for r in results] == [True, False]  # the second finished first: it was refused
    assert "another session (pid" in error_text(results[0]) and "is applying or rolling back" in error_text(results[0])
    assert await fetchval(env, "SELECT count(*) FROM bam_migrations") == 1


async def test_plan_lints_lock_heavy_ddl(mig: Client, mdir: Path, env: str) -> None:
    await execute(
        env,
        "CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE big (id int PRIMARY KEY, pid int, a int, b text, c int);"
        "ALTER TABLE big ADD CONSTRAINT c_nn CHECK (c IS NOT NULL)",
    )
    write(
        mdir,
        "V1__heavy.sql",
        "CREATE INDEX big_a_idx ON big (a);\n"
        "ALTER TABLE big ADD COLUMN token uuid DEFAULT gen_random_uuid();\n"
        "ALTER TABLE big ADD COLUMN at timestamptz DEFAULT now();\n"
        "ALTER TABLE big ALTER COLUMN a TYPE bigint;\n"
        "ALTER TABLE big ALTER COLUMN b SET NOT NULL;\n"
        "ALTER TABLE big ALTER COLUMN c SET NOT NULL;\n"
        "ALTER TABLE big ADD CONSTRAINT big_pid_fk FOREIGN KEY (pid) REFERENCES parent (id);\n"
        "ALTER TABLE big ADD CONSTRAINT big_pid_fk2 FOREIGN KEY (pid) REFERENCES parent (id) NOT VALID;\n"
        "CREATE TABLE fresh (x int); CREATE INDEX fresh_x ON fresh (x);\n"
        "SELECT pg_sleep(1.1);\n",
    )
    w = "\n".join((await plan(mig))["warnings"])
    assert "1 statement 1: CREATE INDEX without CONCURRENTLY blocks writes to public.big" in w
    assert "1 statement 2: ADD COLUMN on public.big with a volatile default (gen_random_uuid)" in w
    assert "statement 3: ADD COLUMN" not in w  # now() is stable: no rewrite
    assert "1 statement 4: ALTER COLUMN a TYPE on public.big" in w
    assert "SET NOT NULL on public.big.b" in w and "public.big.c" not in w  # c has a validated CHECK
    assert "1 statement 7: FOREIGN KEY on public.big without NOT VALID" in w and "statement 8: FOREIGN" not in w
    assert "fresh" not in w  # a table the migration creates is empty and blocks nobody
    assert "holds ACCESS EXCLUSIVE on public.big for ~" in w and "1 statement 2 rewrites public.big" in w
    sql_mode = ok(await mig.call_tool("pg_migration_plan", {"sql": "CREATE INDEX big_b_idx ON big (b)"}))
    assert any("statement 1: CREATE INDEX without CONCURRENTLY" in x for x in sql_mode["warnings"])
    assert sql_mode["plan_id"] is None
    both = error_text(await mig.call_tool("pg_migration_plan", {"sql": "SELECT 1", "directory": "."}))
    assert "not both" in both


async def test_passwords_in_migration_statements_are_masked_in_the_plan(mig: Client, mdir: Path) -> None:
    role = f"bam_r_{uuid.uuid4().hex[:8]}"
    write(mdir, "V1__role.sql", f"CREATE ROLE {role} LOGIN PASSWORD 'hunter2-secret';")
    p = await plan(mig)  # rolled back: the role is never created
    assert "hunter2-secret" not in str(p) and "***REDACTED***" in p["steps"][0]["statement"]


async def test_a_rollback_that_fails_halfway_is_recorded_and_can_be_rerun(mig: Client, mdir: Path, env: str) -> None:
    write(mdir, "V1__t.sql", "CREATE TABLE t (a int);")
    write(mdir, "V2__idx.sql", "CREATE INDEX CONCURRENTLY t_a ON t (a);")
    write(mdir, "U2__idx.sql", "DROP INDEX CONCURRENTLY t_a;\nDROP TABLE missing_table;")
    await plan_and_apply(mig)
    text = error_text(await mig.call_tool("pg_migration_rollback", {}))
    assert "SQLSTATE 42P01" in text and "statement 2 of 2" in text and "'rollback failed'" in text
    assert await fetchval(env, "SELECT to_regclass('t_a')") is None  # the first down statement did run
    assert await fetchval(env, "SELECT status FROM bam_migrations WHERE version = '2'") == "rollback failed"
    st = ok(await mig.call_tool("pg_migrations_status", {}))
    assert ("2", "rollback_failed") in {(x["version"], x["kind"]) for x in st["drift"]}
    assert "the rollback of 2 stopped halfway" in error_text(await mig.call_tool("pg_migration_plan", {}))
    write(mdir, "U2__idx.sql", "DROP INDEX CONCURRENTLY IF EXISTS t_a;\nDROP TABLE IF EXISTS missing_table;")
    rb = ok(await mig.call_tool("pg_migration_rollback", {}))
    assert rb["ran"][0]["version"] == "2" and rb["current_version"] == "1"
    assert [p["version"] for p in ok(await mig.call_tool("pg_migrations_status", {}))["pending"]] == ["2"]
