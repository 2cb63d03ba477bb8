"""Curated S3 tools: buckets, objects by prefix with paging, capped reads, presigned URLs, put/delete."""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.aws.paging import all_pages

pytestmark = pytest.mark.anyio


@pytest.fixture
def bucket(boto: Callable[..., Any], uid: str) -> Iterator[str]:
    s3 = boto("s3")
    name = f"bam-s3-{uid}"
    s3.create_bucket(Bucket=name)
    for i in range(5):
        s3.put_object(Bucket=name, Key=f"logs/2026/{i}.log", Body=f"line {i}\n".encode())
    s3.put_object(Bucket=name, Key="logs/2027/a.log", Body=b"a")
    s3.put_object(Bucket=name, Key="readme.txt", Body=("héllo wörld " * 100).encode())
    s3.put_object(Bucket=name, Key="blob.bin", Body=bytes(range(256)))
    s3.put_object(Bucket=name, Key="empty.txt", Body=b"")
    yield name
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


async def test_buckets_list(ro: Client, bucket: str) -> None:
    r = ok(await ro.call_tool("aws_s3_buckets_list", {"prefix": bucket}))
    assert [b["name"] for b in r["buckets"]] == [bucket] and r["buckets"][0]["created"]
    assert r["truncated"] is False and r["next_token"] is None


async def test_buckets_list_pages(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    s3 = boto("s3")
    names = [f"bam-pg-{uid}-{i}" for i in range(3)]
    for n in names:
        s3.create_bucket(Bucket=n)
    try:
        args = {"prefix": f"bam-pg-{uid}", "max_items": 1}
        buckets = await all_pages(ro, "aws_s3_buckets_list", args, "buckets", min_pages=3)
        assert [b["name"] for b in buckets] == names
    finally:
        for n in names:
            s3.delete_bucket(Bucket=n)


async def test_objects_list_by_prefix_with_paging(ro: Client, bucket: str) -> None:
    keys: list[str] = []
    token = None
    for _ in range(5):
        args: dict[str, Any] = {"bucket": bucket, "prefix": "logs/2026/", "max_items": 2}
        if token:
            args["next_token"] = token
        r = ok(await ro.call_tool("aws_s3_objects_list", args))
        keys += [o["key"] for o in r["objects"]]
        assert r["count"] == len(r["objects"]) <= 2 and all(o["size"] == 7 for o in r["objects"])
        token = r["next_token"]
        assert r["truncated"] is (token is not None)
        if not token:
            break
    assert keys == [f"logs/2026/{i}.log" for i in range(5)]
    folders = ok(await ro.call_tool("aws_s3_objects_list", {"bucket": bucket, "prefix": "logs/", "delimiter": "/"}))
    assert folders["common_prefixes"] == ["logs/2026/", "logs/2027/"] and folders["objects"] == []


async def test_object_read_with_byte_cap_and_offset(ro: Client, bucket: str) -> None:
    full = "héllo wörld " * 100
    first = ok(await ro.call_tool("aws_s3_object_read", {"bucket": bucket, "key": "readme.txt", "max_bytes": 100}))
    assert first["truncated"] and first["encoding"] == "utf-8" and first["size"] == len(full.encode())
    assert first["bytes_read"] <= 100 and full.startswith(first["content"])
    text = first["content"]
    offset = first["next_offset"]
    while offset is not None:
        part = ok(
            await ro.call_tool(
                "aws_s3_object_read", {"bucket": bucket, "key": "readme.txt", "offset": offset, "max_bytes": 500}
            )
        )
        text += part["content"]
        offset = part["next_offset"]
    assert text == full
    blob = ok(await ro.call_tool("aws_s3_object_read", {"bucket": bucket, "key": "blob.bin"}))
    assert blob["encoding"] == "base64" and base64.b64decode(blob["content"]) == bytes(range(256))
    assert blob["truncated"] is False
    empty = ok(await ro.call_tool("aws_s3_object_read", {"bucket": bucket, "key": "empty.txt"}))
    assert empty["content"] == "" and empty["size"] == 0 and empty["truncated"] is False
    missing = error_text(await ro.call_tool("aws_s3_object_read", {"bucket": bucket, "key": "nope.txt"}))
    assert "NoSuchKey" in missing and "aws_s3_objects_list" in missing
    past = error_text(await ro.call_tool("aws_s3_object_read", {"bucket": bucket, "key": "blob.bin", "offset": 10_000}))
    assert "InvalidRange" in past


async def test_presigned_url_downloads_the_object(ro: Client, bucket: str) -> None:
    r = ok(await ro.call_tool("aws_s3_presign", {"bucket": bucket, "key": "logs/2027/a.log", "expires_in_s": 99_999}))
    assert r["method"] == "GET" and r["expires_in_s"] == 3600  # capped by BAM_AWS_PRESIGN_MAX_EXPIRES_S
    assert "X-Amz-Signature=" in r["url"] or "Signature=" in r["url"]
    with urllib.request.urlopen(r["url"], timeout=10) as resp:
        assert resp.read() == b"a"
    e = error_text(await ro.call_tool("aws_s3_presign", {"bucket": bucket, "key": "missing"}))
    assert "404" in e or "NotFound" in e


async def test_put_and_delete_objects(rw: Client, bucket: str, boto: Callable[..., Any]) -> None:
    s3 = boto("s3")
    put = ok(
        await rw.call_tool(
            "aws_s3_object_put",
            {"bucket": bucket, "key": "new/x.json", "content": '{"a": 1}', "content_type": "application/json"},
        )
    )
    assert put["size"] == 8 and put["overwritten"] is False and put["etag"]
    obj = s3.get_object(Bucket=bucket, Key="new/x.json")
    assert obj["Body"].read() == b'{"a": 1}' and obj["ContentType"] == "application/json"
    again = error_text(
        await rw.call_tool("aws_s3_object_put", {"bucket": bucket, "key": "new/x.json", "content": "other"})
    )
    assert "ObjectExists" in again and "overwrite" in again
    assert s3.get_object(Bucket=bucket, Key="new/x.json")["Body"].read() == b'{"a": 1}'
    over = ok(
        await rw.call_tool(
            "aws_s3_object_put",
            {
                "bucket": bucket,
                "key": "new/x.json",
                "overwrite": True,
                "content": base64.b64encode(b"\x00\x01").decode(),
                "encoding": "base64",
            },
        )
    )
    assert over["overwritten"] is True and s3.get_object(Bucket=bucket, Key="new/x.json")["Body"].read() == b"\x00\x01"
    bad = error_text(
        await rw.call_tool("aws_s3_object_put", {"bucket": bucket, "key": "b", "content": "***", "encoding": "base64"})
    )
    assert "InvalidBase64" in bad
    d = ok(await rw.call_tool("aws_s3_object_delete", {"bucket": bucket, "key": "new/x.json"}))
    assert d["existed"] is True
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="new/")
    d2 = ok(await rw.call_tool("aws_s3_object_delete", {"bucket": bucket, "key": "new/x.json"}))
    assert d2["existed"] is False
