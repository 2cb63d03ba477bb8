"""A seeded schema `bamtest` in the real PostgreSQL, and servers in read-only and write modes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.postgres import build_server

SCHEMA = "bamtest"

SEED = f"""
DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;
CREATE SCHEMA {SCHEMA};
COMMENT ON SCHEMA {SCHEMA} IS 'test schema';
CREATE TABLE {SCHEMA}.customers (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  tier text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
  profile jsonb NOT NULL DEFAULT '{{}}',
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE {SCHEMA}.customers IS 'people who buy things';
COMMENT ON COLUMN {SCHEMA}.customers.email IS 'login address';
CREATE TABLE {SCHEMA}.orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES {SCHEMA}.customers(id) ON DELETE CASCADE,
  total numeric(12,2) NOT NULL,
  status text NOT NULL,
  placed_at timestamptz NOT NULL,
  tags text[] NOT NULL DEFAULT '{{}}'
);
CREATE INDEX orders_customer_idx ON {SCHEMA}.orders (customer_id, placed_at DESC);
CREATE TABLE {SCHEMA}.categories (
  id int PRIMARY KEY, parent_id int REFERENCES {SCHEMA}.categories(id), name text NOT NULL
);
CREATE TABLE {SCHEMA}.canary (id int PRIMARY KEY, v text NOT NULL);
CREATE SEQUENCE {SCHEMA}.seq;
CREATE VIEW {SCHEMA}.order_totals AS
  SELECT customer_id, sum(total) AS total, count(*) AS n FROM {SCHEMA}.orders GROUP BY customer_id;
CREATE MATERIALIZED VIEW {SCHEMA}.mv AS SELECT 1 AS one;
CREATE TABLE {SCHEMA}.types (
  n numeric, u uuid, ts timestamptz, t timestamp, d date, tm time, i interval, j json, jb jsonb,
  arr int[], txt_arr text[], b bytea, r int4range, tsr tstzrange, ip inet, net cidr, bo boolean,
  f float8, bi bigint, m money, bits bit(4), pt point
);
INSERT INTO {SCHEMA}.types VALUES (
  12345678901234567890.123456789, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-03-01 12:00:00+00',
  '2024-03-01 12:00:00', '2024-03-01', '13:45:00', '1 year 2 mons 3 days 04:05:06', '{{"a": [1, 2]}}',
  '{{"k": {{"n": 1}}}}', '{{1,2,3}}', '{{"x","y"}}', '\\xdeadbeef', '[1,10)', '[2024-01-01,2024-02-01)',
  '192.0.2.5/24', '198.51.100.0/24', true, 1.5, 9007199254740993, 12.34, B'1010', '(1,2)'
);
INSERT INTO {SCHEMA}.customers (email, name, tier, profile)
  SELECT 'user' || g || '@example.com', 'User ' || g, (ARRAY['free','pro','enterprise'])[1 + g % 3],
         jsonb_build_object('age', 20 + g % 50, 'tags', jsonb_build_array('t' || g % 5))
    FROM generate_series(1, 50) g;
INSERT INTO {SCHEMA}.orders (customer_id, total, status, placed_at, tags)
  SELECT 1 + g % 50, (g * 7 % 500) + 0.99, (ARRAY['new','paid','shipped'])[1 + g % 3],
         '2024-01-01'::timestamptz + g * interval '1 hour', ARRAY['a' || g % 4]
    FROM generate_series(1, 600) g;
INSERT INTO {SCHEMA}.categories VALUES (1, NULL, 'root'), (2, 1, 'books'), (3, 2, 'sci-fi'), (4, 1, 'music');
INSERT INTO {SCHEMA}.canary SELECT g, md5(g::text) FROM generate_series(1, 20) g;
CREATE FUNCTION {SCHEMA}.evil() RETURNS int LANGUAGE plpgsql VOLATILE AS
  $$ BEGIN PERFORM pg_catalog.pg_cancel_backend(0); RETURN 1; END $$;
CREATE FUNCTION {SCHEMA}.double_it(x int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT x * 2 $$;
ANALYZE {SCHEMA}.customers; ANALYZE {SCHEMA}.orders;
-- hypopg where the server has it (Debian: postgresql-15-hypopg); its test fails clearly where it does not
DO $$ BEGIN CREATE EXTENSION IF NOT EXISTS hypopg; EXCEPTION WHEN OTHERS THEN NULL; END $$;
"""


async def _seed(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def seeded(database_url: str) -> Iterator[str]:
    anyio.run(_seed, database_url)
    yield database_url


async def fingerprint(url: str) -> dict[str, Any]:
    """What an escape attempt could change: canary data, relations, sequences, settings, sessions."""
    conn = await asyncpg.connect(url)
    try:
        return {
            "canary": await conn.fetchval(
                f"SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM {SCHEMA}.canary"
            ),
            "relations": await conn.fetchval(
                f"SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_namespace n "
                f"ON n.oid = c.relnamespace WHERE n.nspname = '{SCHEMA}'"
            ),
            "seq": await conn.fetchval(f"SELECT last_value FROM {SCHEMA}.seq"),
            "work_mem": await conn.fetchval("SELECT setting FROM pg_settings WHERE name = 'work_mem'"),
            "auto_conf": await conn.fetchval("SELECT count(*) FROM pg_file_settings WHERE sourcefile LIKE '%auto%'"),
            "large_objects": await conn.fetchval("SELECT count(*) FROM pg_largeobject_metadata"),
        }
    finally:
        await conn.close()


@pytest.fixture
async def ro_client(seeded: str) -> AsyncIterator[Client]:
    async with Client(build_server()) as c:
        yield c


@pytest.fixture
async def rw_client(seeded: str) -> AsyncIterator[Client]:
    async with Client(build_server(ToolPolicy(allow_writes=frozenset({"postgres"})))) as c:
        yield c


@pytest.fixture
async def tempdb(database_url: str) -> AsyncIterator[str]:
    """A database of its own on the shared server, dropped afterwards: DDL tests cannot collide."""
    name = f"bam_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
