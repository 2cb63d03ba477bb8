"""Discovery from botocore's service models and the tool surface under each policy."""

from __future__ import annotations

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.aws import build_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

WRITE_TOOLS = {"aws_call_write", "aws_s3_object_put", "aws_s3_object_delete"}


async def test_read_only_policy_hides_write_tools(ro: Client) -> None:
    tools = {t.name: t for t in (await ro.list_tools()).tools}
    assert "aws_call" in tools and "aws_s3_objects_list" in tools
    assert not WRITE_TOOLS & set(tools)
    assert all(len(n) < 64 for n in tools)
    call = tools["aws_call"]
    assert call.annotations is not None
    assert call.annotations.read_only_hint is True and call.annotations.open_world_hint is True
    assert tools["aws_services_list"].annotations.open_world_hint is False  # type: ignore[union-attr]
    assert call.output_schema is not None and "resume_token" in call.output_schema["properties"]
    r = await ro.call_tool("aws_call_write", {"service": "s3", "operation": "CreateBucket"})
    assert "Unknown tool" in error_text(r)


async def test_write_policy_exposes_write_tools_with_destructive_annotations(rw: Client) -> None:
    tools = {t.name: t for t in (await rw.list_tools()).tools}
    assert set(tools) >= WRITE_TOOLS
    for name in WRITE_TOOLS:
        a = tools[name].annotations
        assert a is not None and a.read_only_hint is False and a.destructive_hint is True and a.open_world_hint


async def test_destructive_switch_hides_write_tools(aws_endpoint: str) -> None:
    policy = ToolPolicy(allow_writes=frozenset({"aws"}), allow_destructive=False)
    async with Client(build_server(policy=policy)) as c:
        names = {t.name for t in (await c.list_tools()).tools}
    assert not WRITE_TOOLS & names and "aws_call" in names


async def test_services_list_filters_and_pages(ro: Client) -> None:
    r = ok(await ro.call_tool("aws_services_list", {"filter": "s3"}))
    assert "s3" in r["services"] and "s3control" in r["services"] and "ec2" not in r["services"]
    first = ok(await ro.call_tool("aws_services_list", {"limit": 50}))
    assert first["count"] == 50 and first["truncated"] and first["next_offset"] == 50 and first["total"] > 300
    second = ok(await ro.call_tool("aws_services_list", {"limit": 50, "offset": 50}))
    assert not set(first["services"]) & set(second["services"])
    glob = ok(await ro.call_tool("aws_services_list", {"filter": "ec2*"}))
    assert glob["services"] and all(s.startswith("ec2") for s in glob["services"])


async def test_operations_list_classifies_and_pages(ro: Client) -> None:
    r = ok(await ro.call_tool("aws_operations_list", {"service": "s3", "filter": "object"}))
    ops = {o["name"]: o for o in r["operations"]}
    assert ops["GetObject"]["access"] == "read" and ops["PutObject"]["access"] == "write"
    assert ops["ListObjectsV2"]["paginated"] and not ops["GetObject"]["paginated"]
    assert ops["GetObject"]["summary"]
    assert r["service_full_name"] == "Amazon Simple Storage Service"
    reads = ok(await ro.call_tool("aws_operations_list", {"service": "ec2", "access": "read", "limit": 20}))
    assert reads["truncated"] and reads["next_offset"] == 20
    assert all(o["access"] == "read" for o in reads["operations"])
    writes = ok(await ro.call_tool("aws_operations_list", {"service": "secretsmanager", "access": "write"}))
    names = {o["name"]: o["access"] for o in writes["operations"]}
    assert names["GetSecretValue"] == "sensitive" and names["DeleteSecret"] == "write"
    err = error_text(await ro.call_tool("aws_operations_list", {"service": "s4"}))
    assert "UnknownService" in err and "s3" in err


async def test_operation_describe_shows_input_shape(ro: Client) -> None:
    r = ok(await ro.call_tool("aws_operation_describe", {"service": "s3", "operation": "put-object"}))
    assert r["operation"] == "PutObject" and r["access"] == "write"
    assert set(r["input"]["required"]) >= {"Bucket", "Key"}
    assert r["input"]["members"]["Bucket"]["type"] == "string"
    assert "ACL" in r["input"]["members"] and "enum" in r["input"]["members"]["ACL"]
    assert r["http"].startswith("PUT")
    pg = ok(await ro.call_tool("aws_operation_describe", {"service": "ec2", "operation": "DescribeInstances"}))
    assert pg["paginated"] and pg["result_keys"] == ["Reservations"] and "Reservations" in pg["output_members"]
    shallow = ok(
        await ro.call_tool("aws_operation_describe", {"service": "ec2", "operation": "RunInstances", "depth": 0})
    )
    assert isinstance(shallow["input"]["members"], list) and "ImageId" in shallow["input"]["members"]
    err = error_text(await ro.call_tool("aws_operation_describe", {"service": "s3", "operation": "ListObject"}))
    assert "UnknownOperation" in err and "ListObjects" in err
