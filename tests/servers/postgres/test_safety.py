"""The read-only guarantee against a real PostgreSQL: escape attempts refused, real reads accepted."""

from __future__ import annotations

import os

import pytest
from mcp import Client

from servers.postgres.safety import check_read_only
from tests.conftest import error_text, ok
from tests.servers.postgres.conftest import SCHEMA, fingerprint

pytestmark = pytest.mark.anyio

S = SCHEMA
PWN = "/tmp/bam-pwned"

ESCAPES = [
    f"DROP TABLE {S}.canary",
    f"DELETE FROM {S}.canary",
    f"UPDATE {S}.canary SET v = 'x'",
    f"INSERT INTO {S}.canary VALUES (999, 'x')",
    f"TRUNCATE {S}.canary",
    f"SELECT 1; DROP TABLE {S}.canary",
    f"COMMIT; DROP TABLE {S}.canary",
    f"SELECT 1 /* ; */ ; DELETE FROM {S}.canary",
    f"ROLLBACK; SET TRANSACTION READ WRITE; DELETE FROM {S}.canary",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT pg_catalog.pg_terminate_backend(0)",
    "SELECT pg_cancel_backend(0)",
    "select PG_RELOAD_CONF()",
    "SELECT set_config('default_transaction_read_only', 'off', false)",
    "SELECT set_config('work_mem', '1GB', false)",
    "SELECT * FROM pg_read_file('/etc/passwd')",
    f"SELECT c.id, f FROM {S}.canary c, LATERAL pg_read_file('/etc/hostname') f",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT * FROM pg_ls_dir('/')",
    "SELECT pg_stat_file('/etc/passwd')",
    f"COPY {S}.canary TO PROGRAM 'touch {PWN}'",
    f"COPY (SELECT 1) TO '{PWN}'",
    f"COPY {S}.canary FROM '/etc/passwd'",
    f"DO $$ BEGIN EXECUTE 'DROP TABLE {S}.canary'; END $$",
    "SELECT dblink_exec('dbname=postgres', 'DROP TABLE x')",
    "SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(a int)",
    "SELECT lo_import('/etc/passwd')",
    f"SELECT lo_export(1, '{PWN}')",
    "SELECT pg_advisory_lock(42)",
    "SELECT pg_try_advisory_xact_lock(42)",
    "SELECT pg_notify('chan', 'payload')",
    "NOTIFY chan",
    "LISTEN chan",
    "SET default_transaction_read_only = off",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "RESET ALL",
    "ALTER SYSTEM SET work_mem = '1GB'",
    f"SELECT * INTO {S}.stolen FROM {S}.canary",
    f"CREATE TABLE {S}.new_table (a int)",
    f"WITH d AS (DELETE FROM {S}.canary RETURNING *) SELECT * FROM d",
    f"WITH u AS (UPDATE {S}.canary SET v = 'x' RETURNING *) SELECT count(*) FROM u",
    f"SELECT * FROM {S}.canary FOR UPDATE",
    f"LOCK TABLE {S}.canary IN ACCESS EXCLUSIVE MODE",
    f"VACUUM {S}.canary",
    f"ANALYZE {S}.canary",
    f"REFRESH MATERIALIZED VIEW {S}.mv",
    f"SELECT query_to_xml('DELETE FROM {S}.canary RETURNING 1', true, true, '')",
    f"SELECT nextval('{S}.seq')",
    f"SELECT setval('{S}.seq', 100)",
    f"EXPLAIN ANALYZE DELETE FROM {S}.canary",
    f"PREPARE p AS DELETE FROM {S}.canary",
    "EXECUTE p",
    f"CALL {S}.nothing()",
    f"SELECT {S}.evil()",
    f"SELECT * FROM {S}.evil()",
    "SELECT pg_stat_reset()",
    "SELECT pg_switch_wal()",
    "SELECT pg_create_restore_point('x')",
    "SELECT pg_log_backend_memory_contexts(pg_backend_pid())",
    "SELECT txid_current()",
    f"GRANT ALL ON {S}.canary TO PUBLIC",
    "CREATE EXTENSION IF NOT EXISTS dblink",
    "DISCARD ALL",
    f"MERGE INTO {S}.canary c USING (SELECT 1 AS id) s ON c.id = s.id WHEN MATCHED THEN DELETE",
    "SELECT pg_create_physical_replication_slot('bam_slot')",
    "SELECT 1 AS a; SELECT 2 AS b",
]

READS = [
    "SELECT 1",
    "VALUES (1, 'a'), (2, 'b')",
    f"TABLE {S}.categories",
    "SHOW work_mem",
    f"SELECT count(*) FROM {S}.orders",
    f"SELECT c.name, count(o.*) AS n FROM {S}.customers c LEFT JOIN {S}.orders o ON o.customer_id = c.id "
    "GROUP BY c.name HAVING count(o.*) > 5 ORDER BY n DESC LIMIT 5",
    f"WITH RECURSIVE tree AS (SELECT id, parent_id, name, 1 AS depth FROM {S}.categories WHERE parent_id IS NULL "
    f"UNION ALL SELECT c.id, c.parent_id, c.name, t.depth + 1 FROM {S}.categories c JOIN tree t ON c.parent_id = t.id) "
    "SELECT * FROM tree ORDER BY depth, id",
    f"SELECT id, total, rank() OVER (PARTITION BY customer_id ORDER BY total DESC) FROM {S}.orders LIMIT 20",
    f"SELECT id, sum(total) OVER (ORDER BY placed_at ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM {S}.orders",
    f"SELECT customer_id, lag(total) OVER w, lead(total) OVER w FROM {S}.orders WINDOW w AS (PARTITION BY "
    "customer_id ORDER BY placed_at)",
    f"SELECT c.id, last.* FROM {S}.customers c CROSS JOIN LATERAL (SELECT o.total, o.placed_at FROM {S}.orders o "
    "WHERE o.customer_id = c.id ORDER BY o.placed_at DESC LIMIT 1) last",
    f"SELECT profile->>'age' AS age, profile->'tags'->>0 AS tag FROM {S}.customers WHERE profile @> '{{\"age\": 21}}'",
    f"SELECT jsonb_path_query_array(profile, '$.tags[*]') FROM {S}.customers LIMIT 3",
    f"SELECT jsonb_agg(jsonb_build_object('id', id, 'email', email)) FROM {S}.customers WHERE id < 4",
    f"SELECT id FROM {S}.customers WHERE tier = 'pro' UNION SELECT customer_id FROM {S}.orders WHERE total > 400",
    f"SELECT id FROM {S}.customers INTERSECT SELECT customer_id FROM {S}.orders",
    f"SELECT id FROM {S}.customers EXCEPT ALL SELECT customer_id FROM {S}.orders",
    f"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY total) FROM {S}.orders",
    f"SELECT status, count(*) FILTER (WHERE total > 100) FROM {S}.orders GROUP BY ROLLUP (status)",
    f"SELECT status, tier, count(*) FROM {S}.orders o JOIN {S}.customers c ON c.id = o.customer_id "
    "GROUP BY GROUPING SETS ((status), (tier), ())",
    f"SELECT date_trunc('day', placed_at) AS day, sum(total) FROM {S}.orders GROUP BY 1 ORDER BY 1",
    "SELECT * FROM generate_series(1, 10) g(x) WHERE x % 2 = 0",
    f"SELECT unnest(tags), count(*) FROM {S}.orders GROUP BY 1",
    f"SELECT * FROM {S}.orders WHERE tags && ARRAY['a1'] LIMIT 5",
    f"SELECT EXISTS (SELECT 1 FROM {S}.orders WHERE total > 1000)",
    f"SELECT id, CASE WHEN total > 250 THEN 'big' ELSE 'small' END FROM {S}.orders LIMIT 10",
    f"SELECT DISTINCT ON (customer_id) customer_id, placed_at FROM {S}.orders ORDER BY customer_id, placed_at DESC",
    f"SELECT * FROM {S}.order_totals ORDER BY total DESC LIMIT 3",
    f"SELECT {S}.double_it(21)",
    "SELECT now(), current_user, version(), pg_backend_pid(), random() < 2",
    "SELECT pg_size_pretty(pg_database_size(current_database()))",
    "SELECT relname, n_live_tup FROM pg_stat_user_tables ORDER BY n_live_tup DESC LIMIT 5",
    "SELECT * FROM pg_stat_activity WHERE datname = current_database()",
    "SELECT * FROM pg_locks LIMIT 5",
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'bamtest'",
    "SELECT string_agg(x::text, ',') FROM generate_series(1, 5) x",
    "SELECT regexp_replace('foo-bar', '-', '_'), upper('x'), md5('x'), left('abc', 2)",
    "SELECT '2024-01-01'::date + interval '1 month', age(timestamp '2024-01-01', timestamp '2023-01-01')",
    "SELECT array_agg(x ORDER BY x DESC) FROM generate_series(1, 3) x",
    "SELECT to_jsonb(row(1, 'a')), json_build_array(1, 2), '[1,2]'::json -> 0",
    f"SELECT o.id FROM {S}.orders o WHERE o.customer_id IN (SELECT id FROM {S}.customers WHERE tier = 'enterprise') "
    "ORDER BY o.id LIMIT 3",
    f"SELECT * FROM {S}.customers TABLESAMPLE SYSTEM (50) REPEATABLE (1) LIMIT 2",
    "SELECT gen_random_uuid() IS NOT NULL",
    f"SELECT c.relname FROM pg_class c WHERE c.relnamespace = '{S}'::regnamespace",
    f"SELECT * FROM {S}.types",
    "SELECT pg_sleep(0)",
]


def test_corpus_sizes() -> None:
    assert len(ESCAPES) >= 40
    assert len(READS) >= 40


@pytest.mark.parametrize("sql", ESCAPES)
async def test_escape_attempt_is_refused_and_database_unchanged(ro_client: Client, seeded: str, sql: str) -> None:
    before = await fingerprint(seeded)
    result = await ro_client.call_tool("pg_query", {"sql": sql})
    text = error_text(result)
    assert "failed to" in text  # an actionable, explained refusal, not a crash
    assert await fingerprint(seeded) == before
    assert not os.path.exists(PWN)


@pytest.mark.parametrize("sql", READS)
async def test_legitimate_read_is_accepted(ro_client: Client, sql: str) -> None:
    data = ok(await ro_client.call_tool("pg_query", {"sql": sql, "limit": 50}))
    assert isinstance(data["rows"], list)
    assert data["columns"]


def test_parser_refuses_function_in_from_clause() -> None:
    # Postgres MCP Pro's known bypass (issue #178): a function in FROM escaped its allow-list.
    with pytest.raises(Exception, match="pg_read_file"):
        check_read_only("SELECT * FROM pg_read_file('/etc/passwd')")
