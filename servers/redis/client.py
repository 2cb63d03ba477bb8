"""The Redis connection: a `redis.asyncio` client (standalone, cluster or sentinel) behind a `Backend`.

Also owns the per-connection cache of Redis's own command metadata (COMMAND INFO, COMMAND DOCS), which the
raw-command tool uses to classify a command as read, write, admin or connection state, and the translation
of driver errors.
"""

from __future__ import annotations

import base64
import itertools
import logging
import os
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, NotConfigured, redact_text, tool_error
from servers.redis.settings import RedisSettings, parse_nodes

log = logging.getLogger("backend_architect_mcp.redis")

CommandClass = Literal["read", "write", "admin", "session"]
CLASS_RANK = {"read": 0, "write": 1, "admin": 2, "session": 3}

# Where Redis's command metadata does not say it, three small explicit lists (names as COMMAND INFO spells them).
TAKEOVER = frozenset({"monitor", "sync", "psync", "replconf", "replicaof", "slaveof", "script|debug"})
"""Commands that turn the connection into a monitor, a replication stream or a Lua debugging session (SCRIPT
DEBUG: the connection's next EVAL), or the server into a replica; Redis tags them only @admin/@dangerous or
@scripting, like commands that run and return."""
STATELESS_CONNECTION = frozenset(
    {
        "ping",
        "echo",
        *(f"command|{s}" for s in ("count", "docs", "getkeys", "getkeysandflags", "help", "info", "list")),
        *(f"client|{s}" for s in ("getname", "getredir", "help", "id", "info", "list", "trackinginfo")),
        *(f"client|{s}" for s in ("kill", "pause", "unpause", "unblock")),
    }
)
"""@connection commands that neither change nor hold the calling connection's state (the last four act on
other clients and stay admin by their `admin` flag). Every other @connection command is connection state."""
DANGEROUS_READS = frozenset({"info", "role", "lastsave", "sort_ro"})
"""Commands Redis puts in @admin/@dangerous for ACL purposes that only read and return promptly."""
HARMLESS_FLAGS = frozenset(
    {
        "readonly", "fast", "loading", "stale", "noscript", "allow_busy", "no_auth", "skip_monitor",
        "skip_slowlog", "no_multi", "no_mandatory_keys", "no_async_loading", "movablekeys", "sentinel",
        "only_sentinel", "asking",
    }
)  # fmt: skip
"""Flags that say nothing about changing state: a command with only these (and not @write) is a read. Not
`pubsub`: Redis 7.0 flags PUBLISH like the PUBSUB introspection subcommands (no `may_replicate` yet), so
only subcommands of the PUBSUB container (CHANNELS, NUMSUB, ...) count it as harmless."""


def text(value: Any) -> str:
    """A reply as text (bytes decoded as UTF-8 with replacement)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def value_json(value: Any) -> Any:
    """A stored value for output: text when it is UTF-8, else `{"base64": ...}`."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(raw).decode()}
    return value


def plain(value: Any) -> Any:
    """Replies (nested lists/dicts of bytes) as JSON-friendly values."""
    if isinstance(value, dict):
        return {text(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return value_json(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    return value


@dataclass(frozen=True)
class CommandMeta:
    """What Redis says about one command (COMMAND INFO), and our class derived from it."""

    name: str
    flags: tuple[str, ...]
    acl_categories: tuple[str, ...]
    cls: CommandClass
    reason: str
    keys: bool = False
    """Whether the command addresses keys (COMMAND INFO key specs): its reply is stored data."""
    container: bool = False
    """Whether the command has subcommands (CONFIG, CLIENT, ...): the subcommand decides."""


def _harmless(name: str) -> frozenset[str]:
    return HARMLESS_FLAGS | {"pubsub"} if name.startswith("pubsub|") else HARMLESS_FLAGS


def _session_reason(name: str, f: set[str], c: set[str], blocks: bool) -> str | None:
    """Why a command changes, holds or takes over the connection it runs on; None when it does not."""
    if name in TAKEOVER:
        return "takeover"
    if "@transaction" in c:
        return "@transaction"
    if "pubsub" in f and "noscript" in f:
        return "subscription"
    if "@connection" in c and name not in STATELESS_CONNECTION:
        return "@connection"
    if blocks and ("@blocking" in c or "blocking" in f):
        return "@blocking"
    return None


def classify(name: str, flags: list[str], categories: list[str], *, blocks: bool = True) -> CommandMeta:
    """Classify from Redis's metadata (plus the explicit lists above where it is silent).

    - session: changes, holds or takes over the connection (TAKEOVER, @transaction, subscription mode:
      `pubsub`+`noscript`, @connection except STATELESS_CONNECTION, @blocking unless `blocks` is False:
      a blocking-capable command called without its BLOCK option); never runs on a pooled connection;
    - admin: @scripting (a script may call any command and blocks the server while it runs), the `admin`
      flag, or @admin / @dangerous except DANGEROUS_READS;
    - read: the `readonly` flag, or only HARMLESS_FLAGS (PING, TIME, ACL WHOAMI, ...), and not @write;
    - write: everything else (a command Redis does not declare harmless is treated as a write).
    """
    f = {x.lower() for x in flags}
    c = {x.lower() for x in categories}
    cls: CommandClass
    session = _session_reason(name, f, c, blocks)
    dangerous = {"@admin", "@dangerous"} & c if name not in DANGEROUS_READS else set()
    if session is not None:
        cls, reason = "session", session
    elif "@scripting" in c:
        cls, reason = "admin", "@scripting"
    elif "admin" in f or dangerous:
        cls, reason = "admin", ", ".join(sorted(({"admin"} & f) | dangerous))
    elif "@write" not in c and "write" not in f and ("readonly" in f or f <= _harmless(name)):
        cls, reason = "read", "readonly" if "readonly" in f else "no write flags"
    else:
        cls = "write"
        reason = ", ".join(sorted((f - _harmless(name)) | ({"@write"} & c))) or "not declared harmless"
    return CommandMeta(name, tuple(sorted(f)), tuple(sorted(c)), cls, reason)


@dataclass
class Redis(BackendState[RedisSettings, Any]):
    """What the redis module's tools get from the lifespan."""

    settings: RedisSettings
    backend: Backend[Any]
    _meta: dict[str, CommandMeta] = field(default_factory=dict)
    _meta_owner: int = 0
    _docs: dict[str, bool] = field(default_factory=dict)
    _raw: dict[str, Any] = field(default_factory=dict)
    _raw_owner: int = 0

    @property
    def mode(self) -> str:
        return self.settings.effective_mode()

    async def client(self) -> Any:
        """The connected client (redis.asyncio.Redis or RedisCluster)."""
        return await self.backend.get()

    async def is_cluster(self) -> bool:
        from redis.asyncio.cluster import RedisCluster

        return isinstance(await self.client(), RedisCluster)

    async def nodes(self) -> list[Any]:
        """The nodes to iterate for SCAN and diagnostics: [None] standalone, primaries in a cluster."""
        client = await self.client()
        from redis.asyncio.cluster import RedisCluster

        if isinstance(client, RedisCluster):
            return sorted(client.get_primaries(), key=lambda n: n.name)
        return [None]

    async def pick_node(self, node: str | None) -> Any:
        """A cluster node by `host:port` (default: the first primary); None when standalone."""
        nodes = await self.nodes()
        if nodes == [None]:
            if node:
                raise tool_error("select the node", "`node` applies only in cluster mode", hint="omit `node`")
            return None
        if not node:
            return nodes[0]
        client = await self.client()
        all_nodes = client.get_nodes()
        for n in all_nodes:
            if n.name == node:
                return n
        raise tool_error(
            "select the node",
            f"no cluster node {node!r}",
            hint=f"known nodes: {', '.join(sorted(n.name for n in all_nodes))}",
        )

    async def raw_client(self, node: Any) -> Any:
        """A client that returns Redis's replies unparsed, for one node (standalone: the server).

        redis-py reshapes many replies (INFO, SCAN, XINFO, ...) differently in cluster and standalone
        mode; the tools parse the protocol replies themselves instead. Standalone shares the main pool.
        """
        import redis.asyncio as aioredis

        client = await self.client()
        if id(client) != self._raw_owner:
            await self.close_raw()
            self._raw_owner = id(client)
        key = node.name if node is not None else ""
        rc = self._raw.get(key)
        if rc is None:
            if node is None:
                rc = aioredis.Redis(connection_pool=client.connection_pool)
            else:
                from redis.asyncio.connection import SSLConnection

                kw = {k: v for k, v in node.connection_kwargs.items() if k in _NODE_KWARGS or k.startswith("ssl_")}
                rc = aioredis.Redis(
                    host=node.host,
                    port=node.port,
                    ssl=issubclass(node.connection_class, SSLConnection),
                    max_connections=self.settings.max_connections,
                    **kw,
                )
            rc.response_callbacks = {}
            self._raw[key] = rc
        return rc

    async def close_raw(self) -> None:
        raw, self._raw = self._raw, {}
        for key, rc in raw.items():
            if key:  # the standalone one shares the main pool, which the backend closes
                await rc.aclose()

    async def node_command(self, node: Any, *args: Any) -> Any:
        """Run a command on one node (standalone: the server); the reply is unparsed."""
        return await (await self.raw_client(node)).execute_command(*args)

    async def key_command(self, key: str, *args: Any) -> Any:
        """Run a single-key command on the node owning `key`; the reply is unparsed."""
        client = await self.client()
        from redis.asyncio.cluster import RedisCluster

        node = client.get_node_from_key(key) if isinstance(client, RedisCluster) else None
        return await self.node_command(node, *args)

    async def resolve(self, args: list[str]) -> CommandMeta | None:
        """The classified metadata of the command `args` would run (a container's subcommand when given);
        None when Redis does not know it under exactly that name (no whitespace, NUL, `|` or look-alikes)."""
        meta = await self._command_info(args[0])
        if meta is not None and meta.container and len(args) > 1:
            meta = await self._command_info(args[0], args[1])
        if meta is not None and meta.reason == "@blocking" and not await self._blocks(meta.name, args):
            again = classify(meta.name, list(meta.flags), list(meta.acl_categories), blocks=False)
            meta = replace(again, keys=meta.keys)
        return meta

    async def _command_info(self, name: str, sub: str | None = None) -> CommandMeta | None:
        """COMMAND INFO of `name` (or `name|sub`), cached per connection."""
        if not all(_COMMAND_NAME.fullmatch(x) for x in (name, sub or name)):
            return None
        client = await self.client()
        if id(client) != self._meta_owner:
            self._meta.clear()
            self._docs.clear()
            self._meta_owner = id(client)
        key = name.lower() if sub is None else f"{name.lower()}|{sub.lower()}"
        if key in self._meta:
            return self._meta[key]
        try:
            reply = await client.execute_command("COMMAND", "INFO", key)
        except TypeError:  # redis-py's parser fails on a nil entry (unknown command)
            reply = None
        info = reply.get(key) if isinstance(reply, dict) else None  # Redis's own spelling must match exactly
        meta: CommandMeta | None = None
        if isinstance(info, dict) and info:
            meta = classify(
                key, [text(x) for x in info.get("flags", [])], [text(x) for x in info.get("acl_categories", [])]
            )
            has_keys = bool(info.get("key_specifications")) or int(info.get("first_key_pos") or 0) > 0
            meta = replace(meta, keys=has_keys, container=sub is None and bool(info.get("subcommands")))
        if meta is not None:  # only Redis's own commands: the cache stays as small as its command table
            self._meta[key] = meta
        return meta

    async def _blocks(self, name: str, args: list[str]) -> bool:
        """Whether a blocking-capable command blocks with these arguments: it does unless COMMAND DOCS
        lists a BLOCK option (XREAD, XREADGROUP) and the arguments leave it out."""
        key = f"docs:{name}"
        if key not in self._docs:
            docs = await self.node_command(await self.pick_node(None), "COMMAND", "DOCS", name)
            self._docs[key] = _has_token(docs, "BLOCK")
        # Redis compares options with strcasecmp, which stops at a NUL: "BLOCK\0x" is BLOCK too.
        return not self._docs[key] or any(a.split("\x00", 1)[0].upper() == "BLOCK" for a in args[1:])


_COMMAND_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
"""What a Redis command or subcommand name looks like (core and module commands)."""


def _has_token(docs: Any, token: str) -> bool:
    """Whether a COMMAND DOCS reply (map or flat RESP2 list, nested) declares an argument with `token`."""
    if isinstance(docs, dict):
        items = list(docs.items())
    elif isinstance(docs, list | tuple):
        items = list(itertools.pairwise(docs))
    else:
        return False
    for k, v in items:
        if text(k).lower() == "token" and text(v).upper() == token:
            return True
    values = docs.values() if isinstance(docs, dict) else docs
    return any(_has_token(v, token) for v in values if isinstance(v, dict | list | tuple))


_NODE_KWARGS = {"username", "password", "socket_timeout", "socket_connect_timeout", "client_name", "db"}


def _ssl_kwargs(s: RedisSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if s.tls_ca_file:
        out["ssl_ca_certs"] = s.tls_ca_file
    if s.tls_insecure:
        out["ssl_cert_reqs"] = "none"
        out["ssl_check_hostname"] = False
    return out


def uses_tls(s: RedisSettings) -> bool:
    """Whether connections use TLS (`rediss://`; in cluster/sentinel mode the URL decides too)."""
    dsn = s.dsn()
    return bool(dsn) and urlsplit(dsn or "").scheme == "rediss"


def cert_rejection(exc: BaseException) -> str | None:
    """The TLS verification failure behind a connection error (redis-py wraps it), else None."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return str(e)
        e = e.__cause__ or e.__context__
    msg = str(exc)
    return msg if "CERTIFICATE_VERIFY_FAILED" in msg else None


def _tls_hint(s: RedisSettings) -> str:
    if s.tls_ca_file:
        why = (
            f"the server certificate is not signed by the CA in BAM_REDIS_TLS_CA_FILE ({s.tls_ca_file}) or does "
            "not name this host; point BAM_REDIS_TLS_CA_FILE at the CA that signed it"
        )
    else:
        why = (
            "the system trust store does not trust the server certificate; set BAM_REDIS_TLS_CA_FILE to the PEM "
            "file of the CA that signed it"
        )
    return why + " (BAM_REDIS_TLS_INSECURE=true skips verification: testing only)"


def _url_parts(dsn: str) -> dict[str, Any]:
    u = urlsplit(dsn)
    out: dict[str, Any] = {"ssl": u.scheme == "rediss"}
    if u.username:
        out["username"] = unquote(u.username)
    if u.password:
        out["password"] = unquote(u.password)
    path = (u.path or "/").strip("/")
    out["db"] = int(path) if path.isdigit() else 0
    return out


async def open_client(s: RedisSettings) -> Any:
    """Build and verify a client for the configured mode; raises NotConfigured without an address."""
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    dsn = s.dsn()
    mode = s.effective_mode()
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialBackoff

    def retry() -> Retry:
        return Retry(ExponentialBackoff(cap=0.5, base=0.05), s.retries)

    common: dict[str, Any] = {
        "retry": retry(),
        "socket_connect_timeout": s.connect_timeout_s,
        "socket_timeout": s.command_timeout_s,
        "decode_responses": False,
        "client_name": s.client_name,
    }
    if mode == "cluster":
        seeds = parse_nodes(s.cluster_nodes) if s.cluster_nodes.strip() else []
        if not seeds and dsn:
            seeds = parse_nodes(dsn)
        if not seeds:
            raise NotConfigured("set REDIS_CLUSTER_NODES=host:port,host:port (or REDIS_URL with mode=cluster)")
        parts = _url_parts(dsn) if dsn else {"ssl": False}
        parts.pop("db", None)
        ssl = bool(parts.pop("ssl"))
        cluster_kwargs: dict[str, Any] = dict(common)
        cluster_kwargs.update(parts)
        if ssl:
            cluster_kwargs["ssl"] = True
            cluster_kwargs.update(_ssl_kwargs(s))
        rc = bounded_cluster_class()(
            startup_nodes=[ClusterNode(h, p) for h, p in seeds],
            max_connections=s.max_connections,
            **cluster_kwargs,
        )
        try:
            await rc.initialize()
            await rc.ping(target_nodes=RedisCluster.PRIMARIES)
        except BaseException:
            await rc.aclose()
            raise
        return rc
    if mode == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        sentinels = parse_nodes(s.sentinels)
        if not sentinels:
            raise NotConfigured("set REDIS_SENTINELS=host:port,host:port and REDIS_SENTINEL_SERVICE")
        parts = _url_parts(dsn) if dsn else {"ssl": False, "db": 0}
        ssl = bool(parts.pop("ssl"))
        kw: dict[str, Any] = dict(common)
        kw.update(parts)
        if ssl:
            kw["ssl"] = True
            kw.update(_ssl_kwargs(s))
        sentinel_kwargs: dict[str, Any] = {
            "retry": retry(),
            "socket_connect_timeout": s.connect_timeout_s,
            "socket_timeout": s.command_timeout_s,
        }
        if s.sentinel_password:
            sentinel_kwargs["password"] = s.sentinel_password.get_secret_value()
        sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, **kw)  # type: ignore[no-untyped-call]
        master = sentinel.master_for(s.sentinel_service, max_connections=s.max_connections)
        try:
            await master.ping()
        except BaseException:
            await master.aclose()
            raise
        return master
    if not dsn:
        raise NotConfigured("set REDIS_URL, e.g. redis://[user:password@]127.0.0.1:6379/0 (rediss:// for TLS)")
    extra = _ssl_kwargs(s) if dsn.startswith("rediss://") else {}
    # A blocking pool: under a burst of concurrent calls, callers wait for a free connection (bounded by
    # the pool timeout) instead of failing with "Too many connections".
    pool = aioredis.BlockingConnectionPool.from_url(
        dsn, max_connections=s.max_connections, timeout=s.pool_timeout_s, **common, **extra
    )
    client = aioredis.Redis.from_pool(pool)
    try:
        await client.ping()
    except BaseException:
        await client.aclose()
        raise
    return client


def bounded_cluster_class() -> Any:
    """RedisCluster whose commands and pipelines wait for a slot instead of failing when a node's pool is full.

    redis-py's cluster client raises MaxConnectionsError as soon as a node has `max_connections` connections
    in use; bounding the client's concurrent commands by the same number keeps every node under its cap.
    """
    import anyio
    from redis.asyncio.cluster import RedisCluster

    class BoundedRedisCluster(RedisCluster):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._bam_slots = anyio.Semaphore(max(1, int(kwargs.get("max_connections") or 32)))

        async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
            async with self._bam_slots:
                return await super().execute_command(*args, **kwargs)

        def pipeline(self, *args: Any, **kwargs: Any) -> Any:
            pipe = super().pipeline(*args, **kwargs)
            run, slots = pipe.execute, self._bam_slots

            async def execute(*a: Any, **kw: Any) -> Any:
                async with slots:
                    return await run(*a, **kw)

            pipe.execute = execute  # type: ignore[method-assign]
            return pipe

    return BoundedRedisCluster


@asynccontextmanager
async def resources(settings: RedisSettings | None = None) -> AsyncIterator[Redis]:
    """Own the Redis client for the lifetime of the server; never fail when Redis is down."""
    s = settings or RedisSettings()

    async def connect() -> Any:
        from redis import exceptions as rx

        action = f"connect to Redis at {s.target()}"
        ca = s.tls_ca_file
        if ca and uses_tls(s) and not (os.path.isfile(ca) and os.access(ca, os.R_OK)):
            raise tool_error(
                action,
                f"the CA file {ca} does not exist or is not readable",
                code="TLS",
                hint="point BAM_REDIS_TLS_CA_FILE at the PEM file of the CA that signed the server certificate",
            )
        try:
            return await open_client(s)
        except Exception as exc:
            msg = str(exc)
            rejected = cert_rejection(exc)
            if rejected is not None:
                raise tool_error(
                    action, f"the server's TLS certificate was rejected: {rejected}", code="TLS", hint=_tls_hint(s)
                ) from exc
            if isinstance(exc, rx.AuthenticationError | rx.AuthorizationError) or (
                isinstance(exc, rx.ResponseError | rx.RedisClusterException)
                and any(m in msg for m in ("WRONGPASS", "NOAUTH", "username-password", "NOPERM"))
            ):
                raise tool_error(
                    action,
                    redact_text(msg),
                    code="AUTH",
                    hint="check the ACL user and password in REDIS_URL (redis://user:password@host:port/db)",
                ) from exc
            raise

    async def probe(client: Any) -> Any:
        return await client.ping()

    async def close(client: Any) -> None:
        await client.aclose()

    env_hint = {
        "cluster": "REDIS_CLUSTER_NODES (or REDIS_URL)",
        "sentinel": "REDIS_SENTINELS / REDIS_SENTINEL_SERVICE",
    }.get(s.effective_mode(), "REDIS_URL")
    backend: Backend[Any] = Backend(
        module="redis",
        title="Redis",
        target=s.target(),
        env_hint=env_hint,
        connect=connect,
        probe=probe,
        close=close,
    )
    state = Redis(s, backend)
    try:
        yield state
    finally:
        await state.close_raw()
        await backend.aclose()


_HINTS = {
    "WRONGTYPE": "the key holds another type; check it with redis_key_info and use the tool for that type",
    "NOPERM": "the Redis ACL user lacks permission for this command or key; check `ACL GETUSER` for the user",
    "NOAUTH": "Redis requires a password: put it in REDIS_URL (redis://user:password@host:port/db)",
    "WRONGPASS": "the user/password in REDIS_URL were rejected",
    "MOVED": "the key lives on another cluster node; configure cluster mode (REDIS_CLUSTER_NODES)",
    "CROSSSLOT": "in a cluster, keys of one command must share a hash slot; use {hashtags} or one key per call",
    "OOM": "Redis hit maxmemory with a noeviction policy; free memory or raise maxmemory",
    "READONLY": "this node is a read-only replica; connect to the primary",
    "BUSYGROUP": "the consumer group already exists",
    "NOGROUP": "no such stream or consumer group; create it with redis_stream_group_create",
    "LOADING": "Redis is loading its dataset; retry shortly",
    "BUSY": "a script is running; wait or SCRIPT KILL (admin)",
}


def translate(exc: BaseException, action: str, r: Redis | None = None) -> ToolError:
    """redis-py errors as tool errors carrying Redis's own error code and a hint."""
    from redis import exceptions as rx

    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, rx.AuthenticationError | rx.AuthorizationError):
        return tool_error(action, str(exc), code="AUTH", hint=_HINTS["WRONGPASS"])
    if isinstance(exc, rx.TimeoutError | TimeoutError):
        return tool_error(
            action,
            f"no reply within the command timeout ({type(exc).__name__}: {exc})",
            code="TIMEOUT",
            hint="narrow the request (smaller count/limit) or raise BAM_REDIS_COMMAND_TIMEOUT_S",
        )
    if isinstance(exc, rx.MaxConnectionsError) or (
        isinstance(exc, rx.ConnectionError) and "No connection available" in str(exc)
    ):
        return tool_error(
            action,
            "every pooled connection stayed busy for the whole pool timeout",
            code="POOL_EXHAUSTED",
            hint="retry; for sustained load raise BAM_REDIS_MAX_CONNECTIONS or BAM_REDIS_POOL_TIMEOUT_S",
        )
    if isinstance(exc, rx.ConnectionError | OSError):
        if r is not None:
            return r.backend.unavailable(exc)
        return tool_error(action, f"{type(exc).__name__}: {exc}", hint="Redis connection problem; retry")
    if isinstance(exc, rx.ResponseError):
        msg = str(exc)
        code = msg.split(" ", 1)[0] if msg[:1].isupper() and msg.split(" ", 1)[0].isupper() else "ERR"
        hint = _HINTS.get(code)
        low = msg.lower()
        if hint is None and "unknown command" in low:
            hint = "the command is not available on this server (a module may be missing); see COMMAND DOCS"
        elif hint is None and "wrong number of arguments" in low:
            hint = "check the command syntax (COMMAND DOCS <name> via redis_command)"
        body = msg[len(code) :].strip() if msg.startswith(code) else msg
        return tool_error(action, body or msg, code=code, hint=hint)
    if isinstance(exc, rx.RedisClusterException | rx.ClusterError):
        return tool_error(action, f"{type(exc).__name__}: {exc}", code="CLUSTER", hint="check the cluster state")
    if isinstance(exc, rx.RedisError):
        return tool_error(action, f"{type(exc).__name__}: {exc}")
    log.warning("unexpected error in redis %s: %s", action, redact_text(repr(exc)))
    return tool_error(action, f"{type(exc).__name__}: {exc}")
