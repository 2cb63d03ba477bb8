"""redis_command: classified by Redis's COMMAND INFO metadata; refusals leave the data unchanged."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from mcp import Client

from servers.redis.client import classify
from tests.conftest import error_text, ok
from tests.servers.redis.conftest import fingerprint

pytestmark = pytest.mark.anyio

# (args with {p} for the prefix) that must be refused without writes allowed
WRITE_CORPUS = [
    ["SET", "{p}canary", "changed"],
    ["DEL", "{p}canary"],
    ["UNLINK", "{p}canary"],
    ["APPEND", "{p}canary", "x"],
    ["INCR", "{p}counter"],
    ["EXPIRE", "{p}canary", "1"],
    ["PERSIST", "{p}canary"],
    ["RENAME", "{p}canary", "{p}other"],
    ["HSET", "{p}hash", "f", "v"],
    ["LPUSH", "{p}list", "x"],
    ["SADD", "{p}set", "x"],
    ["ZADD", "{p}zset", "1", "x"],
    ["XADD", "{p}stream", "*", "f", "v"],
    ["SETRANGE", "{p}canary", "0", "zz"],
    ["COPY", "{p}canary", "{p}copy"],
    ["RESTORE", "{p}restored", "0", "x"],
    ["EVAL", "return redis.call('SET', KEYS[1], 'evil')", "1", "{p}canary"],
    ["FCALL", "nothing", "0"],
    ["PUBLISH", "{p}chan", "x"],
    ["SCRIPT", "FLUSH"],
    ["FUNCTION", "FLUSH"],
    ["PFADD", "{p}hll", "x"],
]
# admin/dangerous: refused even with writes allowed
ADMIN_CORPUS = [
    ["FLUSHALL"],
    ["FLUSHDB"],
    ["CONFIG", "SET", "maxmemory", "1"],
    ["CONFIG", "REWRITE"],
    ["SHUTDOWN", "NOSAVE"],
    ["DEBUG", "SLEEP", "0"],
    ["MODULE", "LOAD", "/tmp/x.so"],
    ["CLIENT", "KILL", "TYPE", "normal"],
    ["KEYS", "*"],
    ["SWAPDB", "0", "11"],
    ["MIGRATE", "127.0.0.1", "1", "{p}canary", "0", "1"],
    ["SAVE"],
    ["BGREWRITEAOF"],
    ["ACL", "SETUSER", "evil", "on"],
    ["SORT", "{p}list", "STORE", "{p}dst"],
    ["SLOWLOG", "RESET"],
    ["CLUSTER", "RESET"],
]
# connection-state commands: refused in every mode
SESSION_CORPUS = [
    ["MULTI"],
    ["EXEC"],
    ["WATCH", "{p}canary"],
    ["SUBSCRIBE", "x"],
    ["PSUBSCRIBE", "x*"],
    ["SELECT", "0"],
    ["AUTH", "nobody", "nothing"],
    ["HELLO", "3"],
    ["BLPOP", "{p}list", "0"],
    ["XREAD", "BLOCK", "0", "STREAMS", "{p}stream", "$"],
    ["WAIT", "1", "0"],
    ["RESET"],
    ["QUIT"],
    ["MONITOR"],
    ["REPLICAOF", "127.0.0.1", "1"],
]


def fill(args: list[str], p: str) -> list[str]:
    return [a.replace("{p}", p) for a in args]


async def seed(raw: aioredis.Redis, p: str) -> None:
    await raw.set(p + "canary", "original", ex=3600)
    await raw.rpush(p + "list", "a", "b")
    await raw.hset(p + "hash", mapping={"f": "orig"})


async def test_reads_run_in_read_only_mode(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed(raw, prefix)
    r = ok(await ro.call_tool("redis_command", {"args": ["GET", prefix + "canary"]}))
    assert r["result"] == "original" and r["classification"] == "read"
    assert "readonly" in r["flags"] and "@read" in r["acl_categories"]
    r = ok(await ro.call_tool("redis_command", {"args": ["object", "encoding", prefix + "hash"]}))
    assert r["command"] == "object|encoding" and r["result"] == "listpack"
    r = ok(await ro.call_tool("redis_command", {"args": ["HGETALL", prefix + "hash"]}))
    assert r["result"] == {"f": "orig"} or r["result"] == ["f", "orig"]
    err = error_text(
        await ro.call_tool(
            "redis_command", {"args": ["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", prefix + "canary"]}
        )
    )
    assert "REFUSED" in err and "@scripting" in err  # a script may call KEYS and blocks the server: admin
    assert await raw.get(prefix + "canary") == b"original"


async def test_read_only_refuses_the_write_and_admin_corpus(ro: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed(raw, prefix)
    before = await fingerprint(raw, prefix)
    slow_before = await raw.slowlog_len()
    for args in WRITE_CORPUS + ADMIN_CORPUS:
        msg = error_text(await ro.call_tool("redis_command", {"args": fill(args, prefix)}))
        assert "refused" in msg and "REFUSED" in msg, (args, msg)
        assert "allow-writes redis" in msg or "allow-admin redis" in msg, (args, msg)
    for args in SESSION_CORPUS:
        msg = error_text(await ro.call_tool("redis_command", {"args": fill(args, prefix)}))
        assert "refused" in msg and "connection" in msg, (args, msg)
    assert await fingerprint(raw, prefix) == before
    assert await raw.slowlog_len() >= slow_before  # SLOWLOG RESET did not run
    assert (await raw.config_get("maxmemory"))["maxmemory"] != "1"
    assert await raw.ping()


async def test_write_mode_runs_writes_but_refuses_admin(rw: Client, raw: aioredis.Redis, prefix: str) -> None:
    await seed(raw, prefix)
    r = ok(await rw.call_tool("redis_command", {"args": ["INCRBY", prefix + "counter", "5"]}))
    assert r["result"] == 5 and r["classification"] == "write"
    r = ok(await rw.call_tool("redis_command", {"args": ["PUBLISH", prefix + "chan", "x"]}))
    assert r["classification"] == "write" and r["result"] == 0
    before = await fingerprint(raw, prefix)
    for args in ADMIN_CORPUS:
        msg = error_text(await rw.call_tool("redis_command", {"args": fill(args, prefix)}))
        assert "refused" in msg and "admin" in msg and "allow-admin redis" in msg, (args, msg)
    for args in SESSION_CORPUS:
        assert "refused" in error_text(await rw.call_tool("redis_command", {"args": fill(args, prefix)}))
    assert await fingerprint(raw, prefix) == before
    assert await raw.dbsize() > 0  # FLUSHDB/FLUSHALL did not run


async def test_admin_mode_allows_admin_commands(admin: Client, raw: aioredis.Redis, prefix: str) -> None:
    tools = {t.name: t for t in (await admin.list_tools()).tools}
    assert "any command" in (tools["redis_command"].description or "")
    old = (await raw.config_get("slowlog-max-len"))["slowlog-max-len"]
    try:
        r = ok(await admin.call_tool("redis_command", {"args": ["CONFIG", "SET", "slowlog-max-len", "200"]}))
        assert r["classification"] == "admin" and r["command"] == "config|set"
        got = ok(await admin.call_tool("redis_command", {"args": ["CONFIG", "GET", "slowlog-max-len"]}))
        assert got["result"] in ({"slowlog-max-len": "200"}, ["slowlog-max-len", "200"])
        secret = ok(await admin.call_tool("redis_command", {"args": ["CONFIG", "GET", "requirepass"]}))
        assert "requirepass" in str(secret["result"])
    finally:
        await raw.config_set("slowlog-max-len", old or 128)
    assert "refused" in error_text(await admin.call_tool("redis_command", {"args": ["MULTI"]}))
    unknown = error_text(await admin.call_tool("redis_command", {"args": ["NOSUCHCMD"]}))
    assert "unknown command" in unknown
    unknown_sub = error_text(await admin.call_tool("redis_command", {"args": ["CONFIG", "NOSUCH"]}))
    assert "unknown command" in unknown_sub
    syntax = error_text(await admin.call_tool("redis_command", {"args": ["GET"]}))
    assert "wrong number of arguments" in syntax


def test_classification_is_derived_from_metadata() -> None:
    assert classify("get", ["readonly", "fast"], ["@read", "@string", "@fast"]).cls == "read"
    assert classify("keys", ["readonly"], ["@keyspace", "@read", "@slow", "@dangerous"]).cls == "admin"
    assert classify("subscribe", ["pubsub", "noscript", "loading", "stale"], ["@pubsub", "@slow"]).cls == "session"
    assert classify("time", ["loading", "stale", "fast"], ["@fast"]).cls == "read"  # only harmless flags
    assert classify("info", ["loading", "stale"], ["@slow", "@dangerous"]).cls == "read"
    assert classify("flushall", ["write"], ["@keyspace", "@write", "@slow", "@dangerous"]).cls == "admin"
    assert classify("eval_ro", ["noscript", "readonly"], ["@slow", "@scripting"]).cls == "admin"
    assert classify("monitor", ["admin", "noscript"], ["@admin", "@slow", "@dangerous"]).cls == "session"
    assert classify("select", ["loading", "stale", "fast"], ["@fast", "@connection"]).cls == "session"
    assert classify("ping", ["fast"], ["@fast", "@connection"]).cls == "read"
    xread = (["readonly", "blocking", "movablekeys"], ["@read", "@stream", "@slow", "@blocking"])
    assert classify("xread", *xread).cls == "session"
    assert classify("xread", *xread, blocks=False).cls == "read"
    assert classify("publish", ["pubsub", "loading", "stale", "fast"], ["@pubsub", "@fast"]).cls == "write"
    assert classify("pubsub|channels", ["pubsub", "loading", "stale"], ["@pubsub", "@slow"]).cls == "read"
