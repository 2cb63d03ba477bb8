"""The DBRE areas of pg_health against the real primary and its real streaming standby (PG_STANDBY_URL, started
by scripts/backends/pg-standby.sh): lag per standby, slots and retained WAL, archiving, checkpoints, and
connections by application."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import pytest
from mcp import Client

from servers.postgres import build_server
from tests.conftest import backend_unavailable, ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def standby_url() -> str:
    url = os.environ.get("PG_STANDBY_URL")
    if not url:
        backend_unavailable("the PostgreSQL streaming standby (PG_STANDBY_URL)", "PG_STANDBY_URL is unset")
    return url


@pytest.fixture
async def primary(database_url: str) -> AsyncIterator[Client]:
    async with Client(build_server()) as c:
        yield c


@pytest.fixture
async def standby(standby_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Client]:
    monkeypatch.setenv("DATABASE_URL", standby_url)
    async with Client(build_server()) as c:
        yield c


async def health(c: Client, *areas: str) -> dict[str, Any]:
    data = ok(await c.call_tool("pg_health", {"areas": list(areas)}))
    return {check["name"]: check for check in data["checks"]}


async def test_the_primary_reports_its_streaming_standby_and_slot(primary: Client) -> None:
    h = await health(primary, "replication", "slots")
    rep = h["replication"]
    assert rep["status"] in ("ok", "warning") and rep["summary"].startswith("primary: ")
    standby = next(d for d in rep["details"] if d["standby"] == "bam_standby")
    assert standby["state"] == "streaming" and standby["client"].startswith("127.0.0.1")
    assert standby["replay_lag_bytes"] >= 0
    slot = next(d for d in h["slots"]["details"] if d["slot"] == "bam_standby")
    assert slot["active"] is True and slot["type"] == "physical" and slot["retained_bytes"] >= 0


async def test_the_standby_reports_its_receiver_and_says_nothing_streams_from_it(
    standby: Client, tempdb: str, standby_url: str
) -> None:
    h = await health(standby, "replication", "slots", "archiving")
    rep = h["replication"]
    assert rep["status"] in ("ok", "warning"), rep
    assert "standby streaming from 127.0.0.1:" in rep["summary"] and "via slot bam_standby" in rep["summary"]
    assert "no standbys stream from it" in rep["summary"]
    assert h["slots"]["status"] == "info" and h["slots"]["summary"].startswith("no replication slots")
    assert h["archiving"]["summary"].startswith(("archive_mode = always", "archiving is failing"))

    # it really streams: a database and a row made on the primary show up on the standby
    marker = uuid.uuid4().hex
    conn = await asyncpg.connect(tempdb)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bam_standby_probe (v text)")
        await conn.execute("INSERT INTO bam_standby_probe VALUES ($1)", marker)
    finally:
        await conn.close()
    same_db = urlunsplit(urlsplit(standby_url)._replace(path=urlsplit(tempdb).path))
    with anyio.fail_after(15):
        while True:
            try:
                replica = await asyncpg.connect(same_db)
                break
            except asyncpg.InvalidCatalogNameError:  # the CREATE DATABASE is not replayed yet
                await anyio.sleep(0.1)
    try:
        with anyio.fail_after(15):
            while not await replica.fetchval(
                "SELECT to_regclass('bam_standby_probe') IS NOT NULL "
                "AND EXISTS (SELECT FROM bam_standby_probe WHERE v = $1)",
                marker,
            ):
                await anyio.sleep(0.1)
    finally:
        await replica.close()


async def test_an_inactive_slot_is_flagged_with_the_wal_it_retains(primary: Client, database_url: str) -> None:
    name = f"bam_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_create_physical_replication_slot($1, true)", name)
        slots = (await health(primary, "slots"))["slots"]
        assert slots["status"] in ("warning", "critical") and name in slots["summary"]
        assert "inactive slot keeps WAL" in slots["summary"]
        mine = next(d for d in slots["details"] if d["slot"] == name)
        assert mine["active"] is False and mine["retained_bytes"] >= 0 and mine["wal_status"] == "reserved"
    finally:
        await conn.execute("SELECT pg_drop_replication_slot($1)", name)
        await conn.close()


async def test_checkpoints_archiving_and_connections_by_application(primary: Client, database_url: str) -> None:
    app = f"bam-sat-{uuid.uuid4().hex[:8]}"
    conns = [await asyncpg.connect(database_url, server_settings={"application_name": app}) for _ in range(3)]
    try:
        h = await health(primary, "checkpoints", "archiving", "connections")
    finally:
        for c in conns:
            await c.close()
    cp = h["checkpoints"]
    assert cp["status"] in ("ok", "info", "warning") and {"timed", "requested", "max_wal_size"} <= set(cp["details"][0])
    assert (
        h["archiving"]["status"] == "info" and "WAL archiving is off (archive_mode = off)" in h["archiving"]["summary"]
    )
    conn_check = h["connections"]
    assert "connections in use" in conn_check["summary"] and "reserved for superusers" in conn_check["summary"]
    mine = next(d for d in conn_check["details"] if d["application"] == app)
    assert mine["total"] == 3 and mine["user"] == "postgres"


async def archiver(url: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchrow("SELECT archived_count, failed_count FROM pg_stat_archiver")
    finally:
        await conn.close()


async def switch_wal(tempdb: str) -> None:
    """Write a little on the primary and close the WAL segment, so the standby gets a complete one to archive."""
    conn = await asyncpg.connect(tempdb)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS wal_probe (v int); INSERT INTO wal_probe VALUES (1)")
        await conn.execute("SELECT pg_switch_wal()")
    finally:
        await conn.close()


async def test_the_standby_archiver_reports_success_then_a_failure(
    standby: Client, tempdb: str, standby_url: str
) -> None:
    flag = Path(os.environ.get("PG_STANDBY_ARCHIVE_FAIL") or "")
    if not flag.name:
        backend_unavailable("the standby's archive failure switch (PG_STANDBY_ARCHIVE_FAIL)", "unset")
    flag.unlink(missing_ok=True)
    before = await archiver(standby_url)
    await switch_wal(tempdb)
    with anyio.fail_after(30):
        while (await archiver(standby_url))["archived_count"] <= before["archived_count"]:
            await anyio.sleep(0.2)
    arch = (await health(standby, "archiving"))["archiving"]
    assert arch["status"] == "ok" and arch["summary"].startswith("archive_mode = always: ")
    assert arch["details"][0]["last_archived_wal"]

    flag.touch()
    try:
        failed = (await archiver(standby_url))["failed_count"]
        await switch_wal(tempdb)
        with anyio.fail_after(30):
            while (await archiver(standby_url))["failed_count"] <= failed:
                await anyio.sleep(0.2)
        arch = (await health(standby, "archiving"))["archiving"]
        assert arch["status"] == "critical" and arch["summary"].startswith("archiving is failing: ")
        assert arch["details"][0]["last_failed_wal"]
    finally:
        flag.unlink(missing_ok=True)
