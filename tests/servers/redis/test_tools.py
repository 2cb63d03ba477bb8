"""The assembled tool surface per policy: read-only by default, write and destructive annotations, the
`redis_command` variant chosen."""

from __future__ import annotations

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.redis import build_server

pytestmark = pytest.mark.anyio

READ_TOOLS = {
    "redis_keys_scan",
    "redis_key_info",
    "redis_key_get",
    "redis_stream_range",
    "redis_stream_info",
    "redis_stream_pending",
    "redis_subscribe",
    "redis_info",
    "redis_slowlog",
    "redis_latency",
    "redis_clients_list",
    "redis_memory_doctor",
    "redis_keyspace_report",
    "redis_command",
}
WRITE_TOOLS = {
    "redis_key_set",
    "redis_keys_delete",
    "redis_key_expire",
    "redis_hash_set",
    "redis_hash_delete",
    "redis_list_push",
    "redis_list_pop",
    "redis_set_add",
    "redis_set_remove",
    "redis_zset_add",
    "redis_zset_remove",
    "redis_stream_add",
    "redis_stream_group_create",
    "redis_stream_ack",
    "redis_publish",
}


async def test_read_only_by_default(ro: Client) -> None:
    tools = {t.name: t for t in (await ro.list_tools()).tools}
    assert set(tools) == READ_TOOLS
    for t in tools.values():
        a = t.annotations
        assert a is not None and a.read_only_hint and not a.destructive_hint and a.open_world_hint is False, t.name
        assert t.output_schema and t.description and len(t.name) < 64


async def test_write_mode_annotations(rw: Client) -> None:
    tools = {t.name: t for t in (await rw.list_tools()).tools}
    assert set(tools) == READ_TOOLS | WRITE_TOOLS
    destructive = {n for n, t in tools.items() if t.annotations and t.annotations.destructive_hint}
    assert destructive == {
        "redis_key_set",
        "redis_keys_delete",
        "redis_key_expire",
        "redis_hash_set",
        "redis_hash_delete",
        "redis_list_pop",
        "redis_set_remove",
        "redis_zset_add",
        "redis_zset_remove",
        "redis_stream_ack",
        "redis_command",
    }
    assert tools["redis_hash_set"].annotations.idempotent_hint  # type: ignore[union-attr]
    assert "read and write commands" in (tools["redis_command"].description or "")


async def test_no_destructive_hides_deleting_tools(test_url: str) -> None:
    pol = ToolPolicy(allow_writes=frozenset({"redis"}), allow_destructive=False)
    async with Client(build_server(pol)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert "redis_keys_delete" not in names and "redis_set_add" in names
    assert "redis_command" in names  # falls back to the read-only variant
