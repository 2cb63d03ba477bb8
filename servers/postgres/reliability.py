"""What a DBRE checks first: replication and its slots, WAL archiving, checkpoint/bgwriter pressure, and who
holds the connections. Each is a `pg_health` area; on a server without standbys, slots or archiving the
check says so in its summary instead of returning an empty list."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Status = Literal["ok", "warning", "critical", "info"]
LAG_BYTES = 16 * 1024 * 1024
LAG_SECONDS = 30.0
RETAINED_BYTES = 1024**3
_WAL_NOW = "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END"

_DOWNSTREAM_SQL = f"""
  SELECT application_name AS standby, client_addr::text AS client, state, sync_state,
         pg_wal_lsn_diff({_WAL_NOW}, replay_lsn)::bigint AS replay_lag_bytes,
         extract(epoch FROM write_lag)::float8 AS write_lag_s, extract(epoch FROM flush_lag)::float8 AS flush_lag_s,
         extract(epoch FROM replay_lag)::float8 AS replay_lag_s
    FROM pg_stat_replication ORDER BY application_name LIMIT 20"""

_RECEIVER_SQL = """
  SELECT status, sender_host, sender_port, slot_name,
         pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint AS unreplayed_bytes,
         extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS last_replayed_s
    FROM pg_stat_wal_receiver"""


class Check(BaseModel):
    name: str
    status: Status
    summary: str
    details: list[dict[str, Any]] = Field(default_factory=list, description="Offending objects (capped at 20)")


def _check(name: str, status: Status, summary: str, details: list[dict[str, Any]]) -> Check:
    return Check(name=name, status=status, summary=summary, details=details[:20])


def _mb(n: Any) -> str:
    return f"{(n or 0) / 1024 / 1024:.1f} MB"


async def replication(conn: Any) -> Check:
    """Standbys streaming from this server (lag per standby), or, on a standby, its own receiver and replay lag."""
    downstream = [dict(r) for r in await conn.fetch(_DOWNSTREAM_SQL)]
    lagging = [
        d
        for d in downstream
        if d["state"] != "streaming"
        or (d["replay_lag_bytes"] or 0) > LAG_BYTES
        or (d["replay_lag_s"] or 0) > LAG_SECONDS
    ]
    tail = (
        f"{len(downstream)} standby(s) stream from it, {len(lagging)} lagging or not streaming"
        if downstream
        else "no standbys stream from it (pg_stat_replication is empty)"
    )
    if not await conn.fetchval("SELECT pg_is_in_recovery()"):
        if not downstream:
            return _check("replication", "info", f"primary without standbys: {tail}; no replica to fail over to", [])
        return _check("replication", "warning" if lagging else "ok", f"primary: {tail}", downstream)
    rx = await conn.fetchrow(_RECEIVER_SQL)
    if rx is None or rx["status"] != "streaming":
        what = "no WAL receiver is running" if rx is None else f"the WAL receiver is {rx['status']}"
        return _check("replication", "critical", f"standby, but {what}; {tail}", downstream)
    src = f"{rx['sender_host']}:{rx['sender_port']}" + (f" via slot {rx['slot_name']}" if rx["slot_name"] else "")
    ago = (
        "never"
        if rx["last_replayed_s"] is None
        else f"{rx['last_replayed_s']:.0f} s ago (grows while the primary is idle)"
    )
    summary = (
        f"standby streaming from {src}; {_mb(rx['unreplayed_bytes'])} received, not yet replayed; "
        f"last replayed transaction {ago}; {tail}"
    )
    status: Status = "warning" if (rx["unreplayed_bytes"] or 0) > LAG_BYTES or lagging else "ok"
    return _check("replication", status, summary, [{"receiver": dict(rx)}, *downstream])


async def slots(conn: Any) -> Check:
    """Replication slots, whether anything consumes them, and the WAL each one keeps on disk."""
    rows = [
        dict(r)
        for r in await conn.fetch(
            f"""SELECT slot_name AS slot, slot_type AS type, database, active, wal_status,
                       pg_wal_lsn_diff({_WAL_NOW}, restart_lsn)::bigint AS retained_bytes
                  FROM pg_replication_slots ORDER BY retained_bytes DESC NULLS LAST, slot_name"""
        )
    ]
    if not rows:
        return _check("slots", "info", "no replication slots: no WAL is kept for replicas or logical consumers", [])
    inactive = [r for r in rows if not r["active"]]
    total = sum(r["retained_bytes"] or 0 for r in rows)
    bad = [r for r in rows if r["wal_status"] in ("lost", "unreserved") or (r["retained_bytes"] or 0) > RETAINED_BYTES]
    status: Status = "critical" if bad else "warning" if inactive else "ok"
    names = ", ".join(r["slot"] for r in inactive[:5])
    which = f" ({names})" if inactive else ""
    summary = f"{len(rows)} slot(s), {len(inactive)} inactive{which}; {_mb(total)} of WAL retained"
    if inactive:
        summary += "; an inactive slot keeps WAL until it is consumed or dropped (pg_drop_replication_slot)"
    return _check("slots", status, summary, rows)


async def archiving(conn: Any) -> Check:
    """WAL archiving (pg_stat_archiver): last archived file, last failure, whether it is failing now."""
    r = dict(
        await conn.fetchrow(
            """SELECT current_setting('archive_mode') AS archive_mode, archived_count, last_archived_wal,
                      last_archived_time::text, failed_count, last_failed_wal, last_failed_time::text,
                      coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false) AS failing
                 FROM pg_stat_archiver"""
        )
    )
    if r["archive_mode"] == "off":
        return _check(
            "archiving",
            "info",
            "WAL archiving is off (archive_mode = off): no WAL archive for point-in-time recovery",
            [],
        )
    if r["failing"]:
        summary = (
            f"archiving is failing: {r['last_failed_wal']} failed at {r['last_failed_time']} (check archive_command)"
        )
        return _check("archiving", "critical", summary, [r])
    last = f"last {r['last_archived_wal']} at {r['last_archived_time']}" if r["last_archived_wal"] else "nothing yet"
    summary = (
        f"archive_mode = {r['archive_mode']}: {r['archived_count']} WAL files archived ({last}), "
        f"{r['failed_count']} failures"
    )
    return _check("archiving", "ok", summary, [r])


async def checkpoints(conn: Any) -> Check:
    """Checkpoints forced by WAL volume and backends writing their own buffers: signs of write pressure."""
    if int(await conn.fetchval("SHOW server_version_num")) >= 170000:
        sql = """SELECT c.num_timed AS timed, c.num_requested AS requested, c.write_time, c.sync_time,
                        c.buffers_written AS buffers_checkpoint, b.buffers_clean, b.maxwritten_clean,
                        NULL::bigint AS buffers_backend, NULL::bigint AS buffers_backend_fsync, b.buffers_alloc
                   FROM pg_stat_checkpointer c, pg_stat_bgwriter b"""
    else:
        sql = """SELECT checkpoints_timed AS timed, checkpoints_req AS requested, checkpoint_write_time AS write_time,
                        checkpoint_sync_time AS sync_time, buffers_checkpoint, buffers_clean, maxwritten_clean,
                        buffers_backend, buffers_backend_fsync, buffers_alloc FROM pg_stat_bgwriter"""
    r = dict(await conn.fetchrow(sql))
    r["max_wal_size"] = await conn.fetchval("SHOW max_wal_size")
    r["checkpoint_timeout"] = await conn.fetchval("SHOW checkpoint_timeout")
    done = (r["timed"] or 0) + (r["requested"] or 0)
    forced = (r["requested"] or 0) / done if done else 0.0
    written = (r["buffers_checkpoint"] or 0) + (r["buffers_clean"] or 0) + (r["buffers_backend"] or 0)
    by_backends = (r["buffers_backend"] or 0) / written if written else 0.0
    problems = []
    if done >= 10 and forced > 0.3:
        problems.append(
            f"{forced:.0%} of checkpoints were forced by WAL volume: raise max_wal_size ({r['max_wal_size']})"
        )
    if by_backends > 0.3:
        problems.append(f"backends wrote {by_backends:.0%} of buffers themselves: the background writer lags")
    if r["buffers_backend_fsync"]:
        problems.append(f"{r['buffers_backend_fsync']} backend fsyncs (the checkpointer's fsync queue was full)")
    if problems:
        return _check("checkpoints", "warning", "; ".join(problems), [r])
    if done < 10:
        return _check(
            "checkpoints", "info", f"only {done} checkpoints since the statistics reset: too few to judge", [r]
        )
    return _check("checkpoints", "ok", f"{done} checkpoints, {forced:.0%} forced by WAL volume; writes keep up", [r])


async def connections(conn: Any) -> Check:
    """Connection use against max_connections (minus the superuser reserve), by application and user."""
    used = await conn.fetchval("SELECT count(*) FROM pg_stat_activity")
    mx = int(await conn.fetchval("SHOW max_connections"))
    reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
    rows = [
        dict(r)
        for r in await conn.fetch(
            """SELECT coalesce(nullif(application_name, ''), '(none)') AS application, usename AS user,
                      count(*) AS total, count(*) FILTER (WHERE state = 'active') AS active,
                      count(*) FILTER (WHERE state = 'idle in transaction') AS idle_in_transaction
                 FROM pg_stat_activity WHERE backend_type = 'client backend'
                GROUP BY 1, 2 ORDER BY total DESC, 1 LIMIT 20"""
        )
    ]
    frac = used / max(mx - reserved, 1)
    status: Status = "ok" if frac < 0.7 else "warning" if frac < 0.9 else "critical"
    top = f"; busiest: {rows[0]['application']} ({rows[0]['total']})" if rows else ""
    summary = f"{used} of {mx} connections in use ({used / mx:.0%}; {reserved} reserved for superusers){top}"
    return _check("connections", status, summary, rows)
