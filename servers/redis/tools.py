"""Redis tools: SCAN-based key browsing, typed value reads with caps and cursors, streams, bounded
pub/sub, diagnostics (INFO, SLOWLOG, LATENCY, clients, memory, sampled key report), guarded writes and a
raw-command tool classified by Redis's own command metadata.

The tools live in one file per concern; this module assembles `TOOLS` and the `redis_command` variants
(`COMMAND_TOOLS`, of which the most capable one the policy permits is exposed).
"""

from __future__ import annotations

from servers._common import (
    DELETE,
    DESTRUCTIVE,
    DISRUPT,
    OVERWRITE,
    READ,
    WRITE,
    WRITE_IDEMPOTENT,
    ToolCatalog,
    ToolSpec,
)
from servers._common.tools import ADMIN
from servers.redis.command import make_command_tool
from servers.redis.diagnostics import redis_clients_list, redis_info, redis_latency, redis_memory_doctor, redis_slowlog
from servers.redis.keys import redis_key_get, redis_key_info, redis_keys_scan
from servers.redis.pubsub import redis_publish, redis_subscribe
from servers.redis.report import redis_keyspace_report
from servers.redis.streams import (
    redis_stream_ack,
    redis_stream_add,
    redis_stream_group_create,
    redis_stream_info,
    redis_stream_pending,
    redis_stream_range,
)
from servers.redis.structures import (
    redis_hash_delete,
    redis_hash_set,
    redis_key_expire,
    redis_key_set,
    redis_keys_delete,
    redis_list_pop,
    redis_list_push,
    redis_set_add,
    redis_set_remove,
    redis_zset_add,
    redis_zset_remove,
)

TOOLS = [
    ToolSpec(redis_keys_scan, "keys_scan", "Redis: list keys (SCAN)", READ),
    ToolSpec(redis_key_info, "key_info", "Redis: key type, TTL, memory, encoding", READ),
    ToolSpec(redis_key_get, "key_get", "Redis: read a value by type", READ),
    ToolSpec(redis_stream_range, "stream_range", "Redis: read stream entries", READ),
    ToolSpec(redis_stream_info, "stream_info", "Redis: stream, groups and consumers", READ),
    ToolSpec(redis_stream_pending, "stream_pending", "Redis: pending stream entries", READ),
    ToolSpec(redis_subscribe, "subscribe", "Redis: listen on channels (bounded)", READ),
    ToolSpec(redis_info, "info", "Redis: INFO and cache figures", READ),
    ToolSpec(redis_slowlog, "slowlog", "Redis: slow commands", READ),
    ToolSpec(redis_latency, "latency", "Redis: latency monitor", READ),
    ToolSpec(redis_clients_list, "clients_list", "Redis: connected clients", READ),
    ToolSpec(redis_memory_doctor, "memory_doctor", "Redis: memory diagnosis", READ),
    ToolSpec(redis_keyspace_report, "keyspace_report", "Redis: sampled big-key and prefix report", READ),
    ToolSpec(redis_key_set, "key_set", "Redis: set a string", OVERWRITE),
    ToolSpec(redis_keys_delete, "keys_delete", "Redis: delete keys", DELETE),
    ToolSpec(redis_key_expire, "key_expire", "Redis: set or remove a TTL", OVERWRITE),
    ToolSpec(redis_hash_set, "hash_set", "Redis: set hash fields", OVERWRITE),
    ToolSpec(redis_hash_delete, "hash_delete", "Redis: delete hash fields", DELETE),
    ToolSpec(redis_list_push, "list_push", "Redis: push to a list", WRITE),
    ToolSpec(redis_list_pop, "list_pop", "Redis: pop from a list", DISRUPT),
    ToolSpec(redis_set_add, "set_add", "Redis: add set members", WRITE_IDEMPOTENT),
    ToolSpec(redis_set_remove, "set_remove", "Redis: remove set members", DELETE),
    ToolSpec(redis_zset_add, "zset_add", "Redis: add sorted-set members", OVERWRITE),
    ToolSpec(redis_zset_remove, "zset_remove", "Redis: remove sorted-set members", DELETE),
    ToolSpec(redis_stream_add, "stream_add", "Redis: append a stream entry", WRITE),
    ToolSpec(redis_stream_group_create, "stream_group_create", "Redis: create a consumer group", WRITE),
    ToolSpec(redis_stream_ack, "stream_ack", "Redis: acknowledge stream entries", DELETE),
    ToolSpec(redis_publish, "publish", "Redis: publish a message", WRITE),
]

COMMAND_TOOLS = [
    ToolSpec(make_command_tool("admin"), "command", "Redis: run any command (admin)", DESTRUCTIVE, level=ADMIN),
    ToolSpec(make_command_tool("write"), "command", "Redis: run a read or write command", DESTRUCTIVE),
    ToolSpec(make_command_tool("read"), "command", "Redis: run a read-only command", READ),
]
"""Variants of `redis_command`, most capable first; only the first the policy permits is exposed."""

TOOLSETS: dict[str, tuple[str, ...]] = {
    "keys": ("keys_scan", "key_info", "key_get", "key_set", "keys_delete", "key_expire"),
    "structures": (
        "hash_set",
        "hash_delete",
        "list_push",
        "list_pop",
        "set_add",
        "set_remove",
        "zset_add",
        "zset_remove",
    ),
    "streams": ("stream_range", "stream_info", "stream_pending", "stream_add", "stream_group_create", "stream_ack"),
    "pubsub": ("subscribe", "publish"),
    "diagnostics": ("info", "slowlog", "latency", "clients_list", "memory_doctor", "keyspace_report"),
    "command": ("command",),
}
"""Named groups of the tools above, selectable with `--toolsets redis.<name>`."""
DEFAULT_TOOLSETS = ("keys", "structures", "diagnostics", "command")

CATALOG = ToolCatalog(TOOLS, TOOLSETS, DEFAULT_TOOLSETS, variants=COMMAND_TOOLS)
