"""Adversarial corpus for `redis_command` against the real Redis, in read-only, write and admin modes.

Every attempt at a write, admin, script or connection-state command is refused in the modes that must refuse
it, name tricks (case, whitespace, NUL, CRLF, `|`, look-alike letters) never reach Redis under another name,
the data fingerprint is unchanged in read-only mode, the pool is never poisoned, and secrets in what Redis
returns are masked. Hand-picked vectors plus Hypothesis-generated ones drawn from the live COMMAND table.

Safety net: the tools connect as a throwaway ACL user that Redis itself forbids @dangerous/@admin commands
(except the few pure reads re-allowed below), so a classification bug fails a test with NOPERM instead of
flushing the shared server. Canaries live in their own db and key prefix.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from servers._common import ToolPolicy
from servers.redis import build_server
from servers.redis.client import CLASS_RANK, resources
from servers.redis.command import mask_reply
from servers.redis.settings import RedisSettings
from tests.conftest import error_text, free_port, ok
from tests.servers.redis.conftest import ADMIN, WRITES, fingerprint, require_binary, with_db

pytestmark = pytest.mark.anyio

ESC_DB = int(os.environ.get("BAM_TEST_REDIS_ESCAPES_DB", "12"))
MODES: dict[str, ToolPolicy] = {"read": ToolPolicy(), "write": WRITES, "admin": ADMIN}
POOL = 4
SAFETY_RULES = [
    "+@all", "-@dangerous", "-@admin",
    "+info", "+role", "+lastsave", "+sort_ro", "+config|get", "+client|list", "+acl|list", "+acl|getuser",
    "-script|flush", "-script|kill", "-function|flush", "-function|kill", "-function|delete",
    "-function|restore", "-function|load",
]  # fmt: skip
"""What the test user may run per Redis ACL: never FLUSHALL, SWAPDB, SHUTDOWN, DEBUG, CONFIG SET, KEYS, ..."""

# ---- the contract, written from the issue: the least class that must refuse each command (spec, not code)
ISSUE_READS = {"info", "role", "lastsave", "sort_ro"}
OK_CONNECTION = {"ping", "echo", "client|id", "client|info", "client|getname", "client|list", "client|kill"}
OK_CONNECTION |= {"client|trackinginfo", "client|getredir", "client|help", "client|pause", "client|unpause"}
OK_CONNECTION |= {"client|unblock"}
TAKEOVER = {"monitor", "sync", "psync", "replconf", "replicaof", "slaveof", "script|debug"}


def expected_class(name: str, info: dict[str, Any], args: list[str]) -> str:
    f = {x.lower() for x in info["flags"]}
    c = {x.lower() for x in info["acl_categories"]}
    blocking = "blocking" in f or "@blocking" in c
    if name in TAKEOVER or "@transaction" in c or {"pubsub", "noscript"} <= f:
        return "session"
    if "@connection" in c and name not in OK_CONNECTION and not name.startswith("command|"):
        return "session"
    options = {a.split("\x00", 1)[0].upper() for a in args}  # Redis's strcasecmp stops at NUL
    if blocking and (name not in ("xread", "xreadgroup") or "BLOCK" in options):
        return "session"
    if "@scripting" in c or "admin" in f or ({"@admin", "@dangerous"} & c and name not in ISSUE_READS):
        return "admin"
    if {"write", "may_replicate", "denyoom"} & f or "@write" in c or ("pubsub" in f and "|" not in name):
        return "write"
    return "read"


@dataclass(frozen=True)
class Table:
    """The live command table: name (or name|sub) -> COMMAND INFO fields."""

    info: dict[str, dict[str, Any]]

    def lookup(self, args: list[str]) -> tuple[str, dict[str, Any]] | None:
        """The command `args` names exactly (ASCII case-insensitively), as Redis would run it."""
        exact = [a.isascii() and "|" not in a for a in args[:2]]
        name = args[0].lower()
        top = self.info.get(name) if exact[0] else None
        if top is None:
            return None
        if top["subcommands"] and len(args) > 1:
            sub = f"{name}|{args[1].lower()}"
            return (sub, self.info[sub]) if exact[1] and sub in self.info else None
        return name, top


@pytest.fixture(scope="module")
def table(redis_url: str) -> Table:
    c = redis.Redis.from_url(redis_url)
    try:
        raw = cmd(c, "COMMAND", "INFO")
    finally:
        c.close()
    out: dict[str, dict[str, Any]] = {}
    for name, info in raw.items():
        out[name] = info
        for sub in info.get("subcommands") or []:
            out[sub[0].decode()] = {
                "flags": [x.decode() for x in sub[2]],
                "acl_categories": [x.decode() for x in sub[6]],
                "subcommands": [],
            }
    return Table(out)


@pytest.fixture(scope="module")
def acl_user(redis_url: str) -> Iterator[tuple[str, str]]:
    """A throwaway ACL user limited to bamtest:* keys and channels and SAFETY_RULES."""
    name, pw = f"bamtest-esc-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    c = redis.Redis.from_url(redis_url)
    cmd(c, "ACL", "SETUSER", name, "reset", "on", f">{pw}", "~bamtest:*", "&bamtest:*", *SAFETY_RULES)
    try:
        yield name, pw
    finally:
        cmd(c, "ACL", "DELUSER", name)
        c.close()


@pytest.fixture
def client_name() -> str:
    return f"bamtest-esc-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def esc_url(redis_url: str, acl_user: tuple[str, str], client_name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    u = urlsplit(with_db(redis_url, ESC_DB))
    url = f"{u.scheme}://{acl_user[0]}:{acl_user[1]}@{u.hostname}:{u.port or 6379}/{ESC_DB}"
    for var in (
        "REDIS_CLUSTER_NODES",
        "BAM_REDIS_CLUSTER_NODES",
        "REDIS_SENTINELS",
        "BAM_REDIS_SENTINELS",
        "BAM_REDIS_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", url)
    monkeypatch.setenv("BAM_REDIS_CLIENT_NAME", client_name)
    monkeypatch.setenv("BAM_REDIS_MAX_CONNECTIONS", str(POOL))
    return url


@pytest.fixture
async def admin_raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """The default user on the escapes db: seeds and verifies."""
    c = aioredis.Redis.from_url(with_db(redis_url, ESC_DB), decode_responses=False)
    yield c
    await c.aclose()


@pytest.fixture
async def canary(admin_raw: aioredis.Redis) -> AsyncIterator[str]:
    """A key prefix with seeded canaries of every type; removed afterwards."""
    p = f"bamtest:{uuid.uuid4().hex[:10]}:"
    await admin_raw.set(p + "canary", "original", ex=3600)
    await admin_raw.rpush(p + "list", "b", "a", "c")
    await admin_raw.hset(p + "hash", mapping={"f": "orig"})
    await admin_raw.zadd(p + "zset", {"m": 1.0})
    await admin_raw.sadd(p + "set", "x", "y")
    await admin_raw.xadd(p + "stream", {"f": "v"}, id="1-1")
    await admin_raw.pfadd(p + "hll", "a")
    yield p
    keys = [k async for k in admin_raw.scan_iter(match=p + "*", count=1000)]
    if keys:
        await admin_raw.unlink(*keys)


def cmd(c: redis.Redis, *args: Any) -> Any:
    return c.execute_command(*args)  # type: ignore[no-untyped-call]


def fill(args: list[str], p: str) -> list[str]:
    return [a.replace("{p}", p) for a in args]


async def call(c: Client, args: list[str]) -> tuple[bool, Any]:
    """(True, structured result) or (False, error text)."""
    res = await c.call_tool("redis_command", {"args": args})
    if res.is_error:
        return False, " ".join(getattr(x, "text", "") for x in res.content)
    return True, res.structured_content


def assert_no_acl_leak(args: list[str], msg: str) -> None:
    """Redis's ACL refused to run the command: the tool let through what it must have refused."""
    assert "no permissions to run" not in msg, (args, msg)


async def check(c: Client, table: Table, mode: str, args: list[str]) -> str | None:
    """Send `args` in `mode` and check the outcome against the contract: "unknown" (not exactly a command),
    "refused", "ran" or "error" (ran, Redis said no). In admin mode, what admin may run is never sent."""
    found = table.lookup(args)
    container = found is not None and bool(found[1]["subcommands"])
    want = expected_class(found[0], found[1], args) if found is not None and not container else None
    rank = CLASS_RANK[mode]
    if mode == "admin" and want is not None and CLASS_RANK[want] <= rank:
        return None
    done, res = await call(c, args)
    if not done:
        assert_no_acl_leak(args, res)
    if want is None:  # not exactly a command, or a container without its subcommand: never runs
        assert not done and ("unknown command" in res or (container and "needs a subcommand" in res)), (args, res)
        return "unknown"
    if CLASS_RANK[want] > rank:
        assert not done and "REFUSED" in res, (mode, args, want, res)
        return "refused"
    if done:
        assert CLASS_RANK[res["classification"]] <= rank, (args, res)
    return "ran" if done else "error"


# ------------------------------------------------------------------------------------------- hand-picked
WRITE_VECTORS = [
    ["SET", "{p}canary", "changed"], ["del", "{p}canary"], ["UNLINK", "{p}canary"], ["APPEND", "{p}canary", "x"],
    ["INCR", "{p}counter"], ["EXPIRE", "{p}canary", "1"], ["PERSIST", "{p}canary"], ["RENAME", "{p}canary", "{p}o"],
    ["HSET", "{p}hash", "f", "v"], ["LPUSH", "{p}list", "x"], ["SADD", "{p}set", "z"], ["ZADD", "{p}zset", "2", "n"],
    ["XADD", "{p}stream", "*", "f", "v"], ["SETRANGE", "{p}canary", "0", "zz"], ["COPY", "{p}canary", "{p}copy"],
    ["PUBLISH", "bamtest:chan", "x"], ["PFADD", "{p}hll", "z"], ["GETDEL", "{p}canary"], ["MOVE", "{p}canary", str(ESC_DB)],
    ["XREADGROUP", "GROUP", "g", "c", "STREAMS", "{p}stream", ">"], ["XGROUP", "CREATE", "{p}stream", "g", "0"],
    ["GEOADD", "{p}geo", "0", "0", "m"], ["LMOVE", "{p}list", "{p}list2", "LEFT", "RIGHT"], ["GETEX", "{p}canary", "PX", "1"],
]  # fmt: skip
ADMIN_VECTORS = [
    ["FLUSHALL"], ["FLUSHALL", "ASYNC"], ["flushdb"], ["SWAPDB", "0", "12"], ["SHUTDOWN", "NOSAVE"], ["DEBUG", "SLEEP", "0"],
    ["DEBUG", "RELOAD"], ["CONFIG", "SET", "maxmemory", "1"], ["config", "rewrite"], ["CONFIG", "GET", "requirepass"],
    ["MODULE", "LOAD", "/tmp/x.so"], ["CLIENT", "KILL", "TYPE", "normal"], ["CLIENT", "PAUSE", "1"], ["KEYS", "*"],
    ["MIGRATE", "127.0.0.1", "1", "{p}canary", "0", "1"], ["SAVE"], ["BGSAVE"], ["BGREWRITEAOF"], ["FAILOVER"],
    ["ACL", "SETUSER", "evil", "on", ">x", "+@all"], ["ACL", "DELUSER", "default"], ["ACL", "LIST"], ["ACL", "LOG"],
    ["SORT", "{p}list", "STORE", "{p}dst"], ["SORT", "{p}list", "ALPHA"], ["SLOWLOG", "RESET"], ["LATENCY", "RESET"],
    ["PFDEBUG", "GETREG", "{p}hll"], ["PFSELFTEST"], ["RESTORE", "{p}r", "0", "x"], ["CLUSTER", "RESET"],
    ["CONFIG", "RESETSTAT"], ["CLIENT", "LIST"], ["CLIENT", "UNPAUSE"],
]  # fmt: skip
SCRIPT_VECTORS = [
    ["EVAL", "return redis.call('FLUSHALL')", "0"],
    ["EVAL", "return redis.call('KEYS', '*')", "0"],
    ["EVAL", "return redis.call('SWAPDB', 0, 12)", "0"],
    ["EVAL", "return redis.call('SORT', KEYS[1], 'STORE', KEYS[2])", "2", "{p}list", "{p}dst"],
    ["EVAL", "return redis.call('PFDEBUG', 'GETREG', KEYS[1])", "1", "{p}hll"],
    ["EVAL", "return redis.call('MIGRATE', '127.0.0.1', 1, KEYS[1], 0, 1)", "1", "{p}canary"],
    ["EVAL", "return redis.call('SET', KEYS[1], 'evil')", "1", "{p}canary"],
    ["eval_ro", "return redis.call('GET', KEYS[1])", "1", "{p}canary"],
    ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ["EVALSHA_RO", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0"],
    ["FCALL", "nothing", "0"], ["FCALL_RO", "nothing", "0"],
    ["SCRIPT", "LOAD", "return redis.call('FLUSHALL')"], ["SCRIPT", "EXISTS", "x"], ["SCRIPT", "FLUSH"],
    ["SCRIPT", "KILL"], ["FUNCTION", "LIST"], ["FUNCTION", "FLUSH"], ["FUNCTION", "DELETE", "x"],
    ["FUNCTION", "LOAD", "#!lua name=evil\nredis.register_function('f', function() return redis.call('FLUSHALL') end)"],
    ["FUNCTION", "DUMP"], ["FUNCTION", "STATS"], ["FUNCTION", "KILL"], ["FUNCTION", "RESTORE", "x"],
]  # fmt: skip
SESSION_VECTORS = [
    ["MULTI"], ["EXEC"], ["DISCARD"], ["WATCH", "{p}canary"], ["UNWATCH"], ["SUBSCRIBE", "bamtest:x"],
    ["PSUBSCRIBE", "bamtest:*"], ["SSUBSCRIBE", "bamtest:x"], ["UNSUBSCRIBE"], ["SELECT", "5"], ["select", "0"],
    ["AUTH", "nobody", "nothing"], ["HELLO", "3"], ["HELLO", "2", "AUTH", "default", "x"], ["RESET"], ["QUIT"],
    ["READONLY"], ["READWRITE"], ["ASKING"], ["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"],
    ["CLIENT", "TRACKING", "ON"], ["CLIENT", "SETNAME", "evil"], ["CLIENT", "SETINFO", "LIB-NAME", "x"],
    ["CLIENT", "NO-EVICT", "ON"], ["CLIENT", "NO-TOUCH", "ON"], ["CLIENT", "CACHING", "YES"], ["MONITOR"],
    ["SYNC"], ["PSYNC", "?", "-1"], ["SCRIPT", "DEBUG", "SYNC"], ["REPLCONF", "listening-port", "1"], ["REPLICAOF", "127.0.0.1", "1"],
    ["SLAVEOF", "NO", "ONE"], ["BLPOP", "{p}list", "0"], ["BRPOP", "{p}list", "1"], ["BZPOPMIN", "{p}zset", "0"],
    ["BLMOVE", "{p}list", "{p}l2", "LEFT", "LEFT", "0"], ["BLMPOP", "0", "1", "{p}list", "LEFT"],
    ["BRPOPLPUSH", "{p}list", "{p}l2", "0"], ["BZMPOP", "0", "1", "{p}zset", "MIN"],
    ["XREAD", "BLOCK", "0", "STREAMS", "{p}stream", "$"], ["xread", "count", "1", "block", "10", "streams", "{p}stream", "$"],
    ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "{p}stream", ">"], ["WAIT", "1", "0"],
    ["WAITAOF", "1", "0", "0"], ["XREAD", "BLOCK\x00", "0", "STREAMS", "{p}stream", "$"],
    ["XREAD", "bLoCk\x00junk", "0", "STREAMS", "{p}stream", "$"],
]  # fmt: skip
CORPUS = [(v, "write") for v in WRITE_VECTORS] + [(v, "admin") for v in ADMIN_VECTORS + SCRIPT_VECTORS]
CORPUS += [(v, "session") for v in SESSION_VECTORS]


def case_variants(args: list[str]) -> list[list[str]]:
    """The same command spelt otherwise: Redis ignores ASCII case, so these must be refused alike."""
    n = args[0]
    alt = "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(n))
    return [[n.lower(), *args[1:]], [n.upper(), *args[1:]], [alt, *args[1:]]]


def name_tricks(args: list[str]) -> list[list[str]]:
    """Spellings that are not the command: they must never run (as that command or any other)."""
    n, rest = args[0], args[1:]
    out = [[f" {n}", *rest], [f"{n} ", *rest], [f"{n}\r\n", *rest], [f"{n}\x00", *rest], [f"\t{n}", *rest]]
    out += [[f"{n}\nPING", *rest], [f"PING\r\n{n}", *rest], [" ".join(args)], [f"{n}|x", *rest]]
    if rest:
        out += [[f"{n}|{rest[0]}", *rest[1:]], [n, f"{rest[0]} ", *rest[1:]], [n, f"{rest[0]}\x00", *rest[1:]]]
    if "K" in n.upper():
        out.append([n.upper().replace("K", "\u212a"), *rest])  # KELVIN SIGN: lower() gives an ASCII k
    if "I" in n.upper():
        out.append([n.lower().replace("i", "\u0131"), *rest])  # dotless i: upper() gives an ASCII I
    return out


async def test_hand_picked_corpus_in_every_mode(
    esc_url: str, table: Table, admin_raw: aioredis.Redis, canary: str
) -> None:
    before = await fingerprint(admin_raw, canary)
    for mode, pol in MODES.items():
        rank = CLASS_RANK[mode]
        async with Client(build_server(pol)) as c:
            for base, cls in CORPUS:
                if CLASS_RANK[cls] <= rank:
                    continue  # allowed in this mode: never run the corpus for real
                for args in [fill(base, canary), *case_variants(fill(base, canary))]:
                    done, msg = await call(c, args)
                    if table.lookup(args) is None:  # newer than this server (CLIENT SETINFO, WAITAOF)
                        assert not done and "unknown command" in msg, (mode, args, msg)
                        continue
                    assert not done and "REFUSED" in msg, (mode, args, msg)
                    need = (
                        "connection" if cls == "session" else f"allow-{'admin' if cls == 'admin' else 'writes'} redis"
                    )
                    assert need in msg, (mode, args, msg)
            for base, _ in CORPUS:
                for args in name_tricks(fill(base, canary)):
                    await check(c, table, mode, args)
        if mode == "read":
            assert await fingerprint(admin_raw, canary) == before
    assert await admin_raw.get(canary + "canary") == b"original"


async def test_crlf_and_nul_in_arguments_stay_inside_one_argument(esc_url: str, canary: str) -> None:
    async with Client(build_server()) as c:
        for key in (f"{canary}canary\r\nFLUSHALL\r\n", f"{canary}canary\x00FLUSHALL", f"{canary}*3\r\n$8\r\nFLUSHALL"):
            r = ok(await c.call_tool("redis_command", {"args": ["GET", key]}))
            assert r["result"] is None and r["classification"] == "read"
        r = ok(await c.call_tool("redis_command", {"args": ["ECHO", "a\r\n*1\r\n$8\r\nFLUSHALL\r\n"]}))
        assert r["result"] == "a\r\n*1\r\n$8\r\nFLUSHALL\r\n"
        r = ok(await c.call_tool("redis_command", {"args": ["GET", canary + "canary"]}))
        assert r["result"] == "original"


READS = [
    (["PING"], "PONG"), (["ping", "hi"], "hi"), (["ECHO", "hello"], "hello"), (["TIME"], None), (["LASTSAVE"], None),
    (["INFO", "server"], None), (["ROLE"], None), (["COMMAND", "DOCS", "get"], None), (["COMMAND", "INFO", "get"], None),
    (["COMMAND", "COUNT"], None), (["ACL", "WHOAMI"], None), (["ACL", "CAT"], None), (["CLIENT", "ID"], None),
    (["CLIENT", "GETNAME"], None), (["CLIENT", "INFO"], None), (["DBSIZE"], None), (["GET", "{p}canary"], "original"),
    (["XREAD", "COUNT", "1", "STREAMS", "{p}stream", "0"], None), (["xread", "STREAMS", "{p}stream", "0-0"], None),
    (["SORT_RO", "{p}list", "ALPHA"], ["a", "b", "c"]), (["OBJECT", "ENCODING", "{p}hash"], "listpack"),
    (["XINFO", "STREAM", "{p}stream"], None), (["MEMORY", "USAGE", "{p}canary"], None), (["PUBSUB", "CHANNELS"], None),
    (["TTL", "{p}canary"], None), (["HGETALL", "{p}hash"], None), (["SCAN", "0", "MATCH", "{p}*"], None),
]  # fmt: skip


async def test_listed_reads_work_in_read_only_mode(esc_url: str, acl_user: tuple[str, str], canary: str) -> None:
    async with Client(build_server()) as c:
        for base, want in READS:
            r = ok(await c.call_tool("redis_command", {"args": fill(base, canary)}))
            assert r["classification"] == "read", (base, r)
            if want is not None:
                assert r["result"] == want, (base, r["result"])
        who = ok(await c.call_tool("redis_command", {"args": ["ACL", "WHOAMI"]}))
        assert who["result"] == acl_user[0]
        entries = ok(await c.call_tool("redis_command", {"args": ["XREAD", "STREAMS", canary + "stream", "0"]}))
        assert "1-1" in json.dumps(entries["result"])
        docs = ok(await c.call_tool("redis_command", {"args": ["COMMAND", "DOCS", "xread"]}))
        assert "BLOCK" in json.dumps(docs["result"])  # Redis's own docs are not masked


async def test_scripts_are_admin_and_run_only_in_admin_mode(
    esc_url: str, admin_raw: aioredis.Redis, canary: str
) -> None:
    flush = ["EVAL", "return redis.call('FLUSHALL')", "0"]
    for mode in ("read", "write"):
        async with Client(build_server(MODES[mode])) as c:
            for args in (flush, ["EVAL_RO", "return 1", "0"], ["FCALL_RO", "f", "0"], ["SCRIPT", "EXISTS", "x"]):
                msg = error_text(await c.call_tool("redis_command", {"args": args}))
                assert "REFUSED" in msg and "@scripting" in msg and "allow-admin redis" in msg, (mode, args, msg)
    async with Client(build_server(ADMIN)) as c:
        got = ["EVAL", "return redis.call('GET', KEYS[1])", "1", canary + "canary"]
        r = ok(await c.call_tool("redis_command", {"args": got}))
        assert r["classification"] == "admin" and r["result"] == "original"
        r = ok(await c.call_tool("redis_command", {"args": ["EVAL_RO", "return ARGV[1]", "0", "ok"]}))
        assert r["classification"] == "admin" and r["result"] == "ok"
        r = ok(await c.call_tool("redis_command", {"args": ["SCRIPT", "EXISTS", "0" * 40]}))
        assert r["command"] == "script|exists" and r["result"] == [0]
    assert await admin_raw.get(canary + "canary") == b"original" and await admin_raw.dbsize() > 0


POISON = [
    ["MONITOR"], ["SUBSCRIBE", "bamtest:p"], ["PSUBSCRIBE", "bamtest:*"], ["SSUBSCRIBE", "bamtest:p"],
    ["CLIENT", "REPLY", "OFF"], ["CLIENT", "REPLY", "SKIP"], ["SELECT", "5"], ["MULTI"], ["WATCH", "{p}canary"],
    ["CLIENT", "TRACKING", "ON"], ["HELLO", "3"], ["RESET"], ["CLIENT", "SETNAME", "x"], ["READONLY"],
    ["CLIENT", "NO-EVICT", "ON"], ["AUTH", "default", "x"], ["QUIT"], ["BLPOP", "{p}list", "0"], ["SCRIPT", "DEBUG", "YES"],
    ["XREAD", "BLOCK", "0", "STREAMS", "{p}stream", "$"],
]  # fmt: skip


async def pool_clients(admin_raw: aioredis.Redis, client_name: str) -> list[dict[str, str]]:
    return [c for c in await admin_raw.client_list() if c.get("name") == client_name]


async def concurrent_gets(c: Client, canary: str) -> list[Any]:
    """POOL * 4 concurrent reads of the canary, half through redis_command, half through redis_key_get."""
    results: list[Any] = []

    async def get(i: int) -> None:
        if i % 2:
            results.append(ok(await c.call_tool("redis_key_get", {"key": canary + "canary"})))
        else:
            results.append(ok(await c.call_tool("redis_command", {"args": ["GET", canary + "canary"]})))

    async with anyio.create_task_group() as tg:
        for i in range(POOL * 4):
            tg.start_soon(get, i)
    return results


async def test_connection_state_commands_never_poison_the_pool(
    esc_url: str, admin_raw: aioredis.Redis, canary: str, client_name: str
) -> None:
    for mode, pol in MODES.items():
        async with Client(build_server(pol)) as c:
            for base in POISON:
                for args in (fill(base, canary), *case_variants(fill(base, canary))):
                    msg = error_text(await c.call_tool("redis_command", {"args": args}))
                    assert "REFUSED" in msg and "connection" in msg, (mode, args, msg)
            sub = ok(await c.call_tool("redis_subscribe", {"channels": ["bamtest:p"], "timeout_s": 0.2}))
            assert sub["count"] == 0
            results = await concurrent_gets(c, canary)
            assert all(json.dumps(r).count("original") == 1 for r in results), results
            dbsize = ok(await c.call_tool("redis_command", {"args": ["DBSIZE"]}))["result"]
            assert dbsize == await admin_raw.dbsize()  # still on the escapes db, not db 5
            mine = await pool_clients(admin_raw, client_name)
            assert mine, "the pool's connections should be listed"
            for row in mine:
                assert not set(row["flags"]) & set("OPxSt"), (mode, row)  # monitor, pubsub, multi, replica, tracking
                assert row["db"] == str(ESC_DB) and row["sub"] == row["psub"] == "0", (mode, row)
                assert row.get("ssub", "0") == "0" and row["multi"] == "-1" and row.get("watch", "0") == "0", row
                assert row["cmd"] not in ("monitor", "subscribe", "psubscribe", "ssubscribe", "client|reply"), row


async def test_secrets_in_server_replies_are_masked(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = private_redis
    monkeypatch.setenv("REDIS_URL", f"redis://:{p.requirepass}@127.0.0.1:{p.port}/0")
    for var in ("REDIS_CLUSTER_NODES", "BAM_REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "BAM_REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    asks = [
        ["CONFIG", "GET", "requirepass"], ["CONFIG", "GET", "masterauth"], ["CONFIG", "GET", "*"], ["ACL", "LIST"],
        ["ACL", "GETUSER", "app"], ["ACL", "GETUSER", "default"], ["CLIENT", "LIST"], ["ACL", "LOG"], ["INFO", "all"],
        ["CLIENT", "INFO"], ["SLOWLOG", "GET", "128"], ["ACL", "USERS"], ["ROLE"],
    ]  # fmt: skip
    outputs: list[str] = []
    async with Client(build_server(ADMIN)) as c:
        for args in asks:
            r = ok(await c.call_tool("redis_command", {"args": args}))
            outputs.append(json.dumps(r))
        for tool in ("redis_clients_list", "redis_info", "redis_slowlog"):
            outputs.append(json.dumps(ok(await c.call_tool(tool, {}))))
    blob = "\n".join(outputs)
    assert "***REDACTED***" in blob and "app" in blob  # masked, not dropped
    for secret in p.secrets:
        for form in (secret, base64.b64encode(secret.encode()).decode(), hashlib.sha256(secret.encode()).hexdigest()):
            assert form not in blob, (secret, form)


@dataclass(frozen=True)
class PrivateRedis:
    port: int
    requirepass: str
    secrets: tuple[str, ...]


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    """A redis-server of our own (never the shared one) with a password, masterauth, an ACL user with a
    password, a client named after a secret and a failed AUTH in ACL LOG."""
    server = require_binary("redis-server", "redis-server")
    d = tmp_path_factory.mktemp("redis-secrets")
    port, pw, master, app, named = (
        free_port(),
        f"Req{uuid.uuid4().hex}",
        f"Mst{uuid.uuid4().hex}",
        f"App{uuid.uuid4().hex}",
        f"Nm{uuid.uuid4().hex}",
    )
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(d),
         "--requirepass", pw, "--masterauth", master, "--slowlog-log-slower-than", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    c = redis.Redis(host="127.0.0.1", port=port, password=pw, socket_timeout=2)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                c.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"private redis-server on {port} did not start", pytrace=False)
                time.sleep(0.05)
        cmd(c, "ACL", "SETUSER", "app", "on", f">{app}", "~*", "+@all")
        cmd(c, "CLIENT", "SETNAME", f"password={named}")
        c.set("k", "v")
        bad = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            cmd(bad, "AUTH", "app", f"wrong-{app}")
        bad.close()
        yield PrivateRedis(port, pw, (pw, master, app, named))
    finally:
        c.close()
        proc.terminate()
        proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------- generated corpus
ARG_ATOMS = [
    "{p}canary", "{p}list", "{p}hash", "{p}zset", "{p}set", "{p}stream", "{p}hll", "{p}new", "0", "1", "-1", "10",
    "*", "$", ">", "BLOCK", "STORE", "STREAMS", "COUNT", "ALPHA", "FLUSHALL", "return redis.call('FLUSHALL')",
    "\r\nFLUSHALL\r\n", "x\x00y", "bamtest:chan", "ON", "OFF",
]  # fmt: skip
TRICKS = [" ", "\t", "\r\n", "\n", "\x00", "|", "\u212a", "\u0131", "\u00a0"]
TRICKS += [""] * len(TRICKS)  # half the names exact, half tricked


@st.composite
def command_vector(draw: st.DrawFn, names: list[str], subs: dict[str, list[str]]) -> list[str]:
    """A command from the live table in a random case, maybe with a name trick, a subcommand and arguments."""
    name = draw(st.sampled_from(names))
    cased = "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in name)
    trick = draw(st.sampled_from(TRICKS))
    where = draw(st.integers(0, len(cased)))
    head = cased[:where] + trick + cased[where:]
    rest: list[str] = []
    if subs.get(name) and draw(st.integers(0, 4)):
        sub = draw(st.sampled_from(subs[name]))
        rest.append(sub.upper() if draw(st.booleans()) else sub)
    # free text without digits: counts and offsets come only from ARG_ATOMS (no SRANDMEMBER k -99999999)
    atom = st.sampled_from(ARG_ATOMS) | st.text(st.characters(exclude_categories=["Nd"]), max_size=8)
    rest += draw(st.lists(atom, max_size=5))
    return [head, *rest]


@st.composite
def template_vector(draw: st.DrawFn, templates: list[list[str]]) -> list[str]:
    """A well-formed vector (the hand-picked corpus and the reads) in a random case, maybe with a trick."""
    base = draw(st.sampled_from(templates))
    cased = "".join(ch.upper() if draw(st.booleans()) else ch.lower() for ch in base[0])
    trick = draw(st.sampled_from(TRICKS))
    where = draw(st.integers(0, len(cased)))
    return [cased[:where] + trick + cased[where:], *base[1:]]


def generate(names: list[str], subs: dict[str, list[str]], n: int) -> list[list[str]]:
    out: list[list[str]] = []
    templates = [v for v, _ in CORPUS] + [v for v, _ in READS]

    @settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(command_vector(names, subs) | template_vector(templates))
    def collect(v: list[str]) -> None:
        out.append(v)

    collect()
    return out


def _subs(table: Table) -> dict[str, list[str]]:
    subs: dict[str, list[str]] = {}
    for full in table.info:
        if "|" in full:
            top, sub = full.split("|", 1)
            subs.setdefault(top, []).append(sub)
    return subs


@pytest.mark.parametrize("mode", ["read", "write", "admin"])
async def test_generated_vectors(
    mode: str, table: Table, esc_url: str, admin_raw: aioredis.Redis, canary: str, client_name: str
) -> None:
    subs = _subs(table)
    names = sorted(n for n in table.info if "|" not in n)
    if mode == "admin":  # admin runs whatever it allows: generate only what must still be refused
        names = [n for n in names if expected_class(n, table.info[n], []) == "session"]
    vectors = [fill(v, canary) for v in generate(names, subs, 300 if mode == "read" else 200)]
    # plus a fixed floor, so every outcome occurs whatever was drawn: reads, session commands, a tricked name
    vectors += [fill(v, canary) for v in [*(r for r, _ in READS), *SESSION_VECTORS, *name_tricks(["FLUSHALL"])]]
    before = await fingerprint(admin_raw, canary)
    seen: dict[str | None, int] = {}
    async with Client(build_server(MODES[mode])) as c:
        for args in vectors:
            outcome = await check(c, table, mode, args)
            seen[outcome] = seen.get(outcome, 0) + 1
        got = ok(await c.call_tool("redis_command", {"args": ["GET", canary + "canary"]}))["result"]
        assert got == "original" or mode == "write", got
    if mode == "read":
        assert await fingerprint(admin_raw, canary) == before
    assert seen.get("refused", 0) > 0 and seen.get("unknown", 0) > 0, seen
    assert seen.get("ran", 0) > 0 or mode == "admin", seen
    for row in await pool_clients(admin_raw, client_name):
        assert not set(row["flags"]) & set("OPxSt") and row["db"] == str(ESC_DB), row


async def test_classes_over_the_whole_live_command_table(esc_url: str, table: Table) -> None:
    """Every command and subcommand Redis knows, classified through the module; checked against the spec."""
    async with resources(RedisSettings()) as r:
        for name, info in sorted(table.info.items()):
            args = name.split("|")
            meta = await r.resolve(args)
            assert meta is not None and meta.name == name, name
            if meta.container:
                continue
            assert meta.cls == expected_class(name, info, args), (name, meta)
            if "@scripting" in meta.acl_categories:
                assert meta.cls in ("admin", "session"), name  # never read or write
            if "write" in meta.flags:
                assert meta.cls != "read", name
        for name in ("flushall", "flushdb", "swapdb", "shutdown", "debug", "keys", "migrate", "sort", "pfdebug"):
            assert (await r.resolve([name])).cls == "admin", name  # type: ignore[union-attr]


def test_mask_reply_reads_resp2_and_resp3_shapes() -> None:
    """The same secrets masked whether Redis answered with a map (RESP3) or a flat list (RESP2)."""
    h = "#" + "ab" * 32
    resp2 = ["requirepass", "pw1", "maxmemory", "0", "passwords", ["h1"], f"user a on {h} ~*", "name=password=pw2"]
    resp3 = {"requirepass": "pw1", "maxmemory": "0", "passwords": ["h1"], "rules": f"user a on {h} ~*", "n": 7}
    for reply in (resp2, resp3):
        blob = json.dumps(mask_reply(reply))
        assert not any(s in blob for s in ("pw1", "pw2", "h1", "ab" * 32)), blob
        assert "maxmemory" in blob and '"0"' in blob
    assert mask_reply({"acl_access_denied_auth": 3})["acl_access_denied_auth"] == 3  # numbers never masked
