"""Redis tools: SCAN-based key browsing, typed value reads with caps and cursors, streams, bounded
pub/sub, diagnostics (INFO, SLOWLOG, LATENCY, clients, memory, sampled key report), guarded writes and a
raw-command tool classified by Redis's own command metadata.

The tools live in one file per concern (titles and annotations: `@tool`); this module groups them by
toolset, reads first, with the `redis_command` variants (`COMMAND_VARIANTS`, of which the most capable one
the policy permits is exposed).
"""

from __future__ import annotations

from servers._common import ADMIN, DESTRUCTIVE, READ, ToolCatalog, Toolsets, tool
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

COMMAND_VARIANTS = (
    tool("Redis: run any command (admin)", DESTRUCTIVE, level=ADMIN)(make_command_tool("admin")),
    tool("Redis: run a read or write command", DESTRUCTIVE)(make_command_tool("write")),
    tool("Redis: run a read-only command", READ)(make_command_tool("read")),
)
"""Variants of `redis_command`, most capable first; only the first the policy permits is exposed."""

_KEY_READS = (redis_keys_scan, redis_key_info, redis_key_get)
_KEY_WRITES = (redis_key_set, redis_keys_delete, redis_key_expire)
_STRUCTURES = (
    redis_hash_set,
    redis_hash_delete,
    redis_list_push,
    redis_list_pop,
    redis_set_add,
    redis_set_remove,
    redis_zset_add,
    redis_zset_remove,
)
_STREAM_READS = (redis_stream_range, redis_stream_info, redis_stream_pending)
_STREAM_WRITES = (redis_stream_add, redis_stream_group_create, redis_stream_ack)
_DIAGNOSTICS = (
    redis_info,
    redis_slowlog,
    redis_latency,
    redis_clients_list,
    redis_memory_doctor,
    redis_keyspace_report,
)

TOOLSETS: Toolsets = {
    "keys": (*_KEY_READS, *_KEY_WRITES),
    "structures": _STRUCTURES,
    "streams": (*_STREAM_READS, *_STREAM_WRITES),
    "pubsub": (redis_subscribe, redis_publish),
    "diagnostics": _DIAGNOSTICS,
    "command": COMMAND_VARIANTS,
}
"""Named groups of tools, selectable with `--toolsets redis.<name>`."""

CATALOG = ToolCatalog.of(
    TOOLSETS,
    default=("keys", "structures", "diagnostics", "command"),
    order=(  # reads first, then writes, each by toolset
        *_KEY_READS,
        *_STREAM_READS,
        redis_subscribe,
        *_DIAGNOSTICS,
        *_KEY_WRITES,
        *_STRUCTURES,
        *_STREAM_WRITES,
        redis_publish,
    ),
    variants=COMMAND_VARIANTS,
)
