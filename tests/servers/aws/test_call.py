"""The generic call tools: validation before sending, pagination, caps, read-only refusals, deny list."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.aws import build_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def make_bucket(boto: Callable[..., Any]) -> Iterator[Callable[..., None]]:
    """Create buckets with objects; all of them are emptied and removed after the test."""
    s3 = boto("s3")
    made: list[str] = []

    def make(name: str, keys: list[str], body: bytes = b"x") -> None:
        s3.create_bucket(Bucket=name)
        made.append(name)
        for k in keys:
            s3.put_object(Bucket=name, Key=k, Body=body)

    yield make
    for name in made:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for o in page.get("Contents", []):
                s3.delete_object(Bucket=name, Key=o["Key"])
        s3.delete_bucket(Bucket=name)


async def test_call_reads_and_converts_values(ro: Client, make_bucket: Callable[..., None], uid: str) -> None:
    make_bucket(f"bam-call-{uid}", ["a.txt"], b"hello \xe2\x9c\x93")
    r = ok(await ro.call_tool("aws_call", {"service": "s3", "operation": "ListBuckets", "max_items": 1000}))
    assert r["access"] == "read" and r["region"] == "us-east-1" and r["paginated"]
    mine = [b for b in r["result"]["Buckets"] if b["Name"] == f"bam-call-{uid}"]
    assert mine and isinstance(mine[0]["CreationDate"], str) and mine[0]["CreationDate"][:2] == "20"
    assert "ResponseMetadata" not in r["result"]
    got = ok(
        await ro.call_tool(
            "aws_call",
            {"service": "s3", "operation": "get_object", "parameters": {"Bucket": f"bam-call-{uid}", "Key": "a.txt"}},
        )
    )
    assert got["result"]["Body"] == {"text": "hello ✓"} and not got["paginated"]
    assert got["result"]["ContentLength"] == 9


async def test_validation_names_the_bad_field_and_sends_nothing(rw: Client, boto: Callable[..., Any], uid: str) -> None:
    missing = error_text(
        await rw.call_tool("aws_call", {"service": "s3", "operation": "ListObjectsV2", "parameters": {"Prefix": "x"}})
    )
    assert "ParamValidationError" in missing and 'Missing required parameter in input: "Bucket"' in missing
    assert "nothing was sent" in missing
    typed = error_text(
        await rw.call_tool(
            "aws_call", {"service": "ec2", "operation": "DescribeInstances", "parameters": {"MaxResults": "ten"}}
        )
    )
    assert "Invalid type for parameter MaxResults" in typed
    name = f"bam-nosend-{uid}"
    unknown = error_text(
        await rw.call_tool(
            "aws_call_write",
            {"service": "s3", "operation": "CreateBucket", "parameters": {"Bucket": name, "Colour": "red"}},
        )
    )
    assert 'Unknown parameter in input: "Colour"' in unknown
    assert name not in [b["Name"] for b in boto("s3").list_buckets()["Buckets"]]
    nested = error_text(
        await rw.call_tool(
            "aws_call",
            {
                "service": "ec2",
                "operation": "DescribeInstances",
                "parameters": {"Filters": [{"Name": "x", "Value": ["y"]}]},
            },
        )
    )
    assert 'Unknown parameter in Filters[0]: "Value"' in nested


async def test_pagination_across_several_pages(ro: Client, make_bucket: Callable[..., None], uid: str) -> None:
    bucket = f"bam-pages-{uid}"
    keys = [f"k/{i:03d}" for i in range(25)]
    make_bucket(bucket, keys)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        args: dict[str, Any] = {
            "service": "s3",
            "operation": "ListObjectsV2",
            "max_items": 10,
            "parameters": {"Bucket": bucket, "MaxKeys": 4},
        }  # 4 keys per AWS page
        if token:
            args["resume_token"] = token
        r = ok(await ro.call_tool("aws_call", args))
        pages += 1
        seen += [o["Key"] for o in r["result"]["Contents"]]
        assert r["item_count"] == len(r["result"]["Contents"]) <= 10
        token = r["resume_token"]
        assert r["truncated"] is (token is not None)
        if token is None:
            break
    assert pages == 3 and seen == keys
    bad = error_text(
        await ro.call_tool(
            "aws_call",
            {
                "service": "s3",
                "operation": "ListObjectsV2",
                "parameters": {"Bucket": bucket},
                "resume_token": "garbage",
            },
        )
    )
    assert "InvalidResumeToken" in bad


async def test_byte_cap_shrinks_the_page_and_keeps_an_exact_token(
    aws_endpoint: str, make_bucket: Callable[..., None], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_AWS_MAX_BYTES", "4096")
    bucket = f"bam-cap-{uid}"
    keys = [f"{'p' * 150}/{i:03d}" for i in range(30)]
    make_bucket(bucket, keys)
    seen: list[str] = []
    token = None
    async with Client(build_server()) as c:
        for _ in range(30):
            args: dict[str, Any] = {
                "service": "s3",
                "operation": "ListObjectsV2",
                "max_items": 30,
                "parameters": {"Bucket": bucket},
            }
            if token:
                args["resume_token"] = token
            r = ok(await c.call_tool("aws_call", args))
            if not seen:
                assert r["truncated"] and r["item_count"] < 30 and "page reduced" in r["notes"][0]
            seen += [o["Key"] for o in r["result"]["Contents"]]
            token = r["resume_token"]
            if token is None:
                break
        assert seen == keys
        # a non-paginated response over the cap is cut with a flag and a note
        r = ok(
            await c.call_tool(
                "aws_call",
                {"service": "s3", "operation": "ListObjectsV2", "paginate": False, "parameters": {"Bucket": bucket}},
            )
        )
        assert r["truncated"] and not r["paginated"] and any("`Contents` cut from 30" in n for n in r["notes"])
        assert 0 < len(r["result"]["Contents"]) < 30


async def test_read_only_refusals(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    w = error_text(
        await ro.call_tool(
            "aws_call", {"service": "sqs", "operation": "CreateQueue", "parameters": {"QueueName": f"bam-{uid}"}}
        )
    )
    assert "ReadOnlyRefused" in w and "aws_call_write" in w and "--allow-writes aws" in w
    assert not boto("sqs").list_queues(QueueNamePrefix=f"bam-{uid}").get("QueueUrls")
    s = error_text(
        await ro.call_tool(
            "aws_call", {"service": "secretsmanager", "operation": "GetSecretValue", "parameters": {"SecretId": "x"}}
        )
    )
    assert "ReadOnlyRefused" in s and "sensitive read" in s
    t = error_text(await ro.call_tool("aws_call", {"service": "sts", "operation": "GetSessionToken"}))
    assert "sensitive read" in t
    a = error_text(
        await ro.call_tool(
            "aws_call",
            {
                "service": "sts",
                "operation": "AssumeRole",
                "parameters": {"RoleArn": "arn:aws:iam::123456789012:role/x", "RoleSessionName": "bam"},
            },
        )
    )
    assert "ReadOnlyRefused" in a
    k = error_text(await ro.call_tool("aws_call", {"service": "iam", "operation": "CreateAccessKey"}))
    assert "ReadOnlyRefused" in k
    ssm = boto("ssm")
    ssm.put_parameter(Name=f"/bam/{uid}", Value="plain-value", Type="SecureString")
    # Parameter.Value is marked sensitive in the model: reading it is a sensitive read, decrypted or not
    plain = error_text(
        await ro.call_tool(
            "aws_call", {"service": "ssm", "operation": "GetParameter", "parameters": {"Name": f"/bam/{uid}"}}
        )
    )
    assert "ReadOnlyRefused" in plain and "sensitive read" in plain
    listed = ok(await ro.call_tool("aws_call", {"service": "ssm", "operation": "DescribeParameters"}))
    assert listed["access"] == "read" and "plain-value" not in str(listed)
    dec = error_text(
        await ro.call_tool(
            "aws_call",
            {
                "service": "ssm",
                "operation": "GetParameter",
                "parameters": {"Name": f"/bam/{uid}", "WithDecryption": True},
            },
        )
    )
    assert "sensitive read" in dec
    ssm.delete_parameter(Name=f"/bam/{uid}")


async def test_call_write_runs_writes_and_masks_secrets(rw: Client, boto: Callable[..., Any], uid: str) -> None:
    r = ok(
        await rw.call_tool(
            "aws_call_write",
            {
                "service": "sqs",
                "operation": "CreateQueue",
                "parameters": {"QueueName": f"bam-w-{uid}"},
                "region": "eu-west-1",
            },
        )
    )
    assert r["access"] == "write" and r["region"] == "eu-west-1" and r["result"]["QueueUrl"].endswith(f"bam-w-{uid}")
    assert boto("sqs", "eu-west-1").list_queues(QueueNamePrefix=f"bam-w-{uid}")["QueueUrls"]
    sm = boto("secretsmanager")
    sm.create_secret(Name=f"bam-{uid}", SecretString="hunter2-very-secret")
    s = ok(
        await rw.call_tool(
            "aws_call_write",
            {"service": "secretsmanager", "operation": "GetSecretValue", "parameters": {"SecretId": f"bam-{uid}"}},
        )
    )
    assert s["access"] == "sensitive" and s["result"]["SecretString"] == "***REDACTED***"
    assert "hunter2" not in str(s)
    iam = boto("iam")
    iam.create_user(UserName=f"bam-k-{uid}")
    key = ok(
        await rw.call_tool(
            "aws_call_write",
            {"service": "iam", "operation": "CreateAccessKey", "parameters": {"UserName": f"bam-k-{uid}"}},
        )
    )
    created = key["result"]["AccessKey"]
    assert created["SecretAccessKey"] == "***REDACTED***" and created["AccessKeyId"].startswith("AKIA")
    iam.delete_access_key(UserName=f"bam-k-{uid}", AccessKeyId=created["AccessKeyId"])
    iam.delete_user(UserName=f"bam-k-{uid}")
    ok(
        await rw.call_tool(
            "aws_call_write",
            {
                "service": "sqs",
                "operation": "DeleteQueue",
                "region": "eu-west-1",
                "parameters": {"QueueUrl": r["result"]["QueueUrl"]},
            },
        )
    )
    sm.delete_secret(SecretId=f"bam-{uid}", ForceDeleteWithoutRecovery=True)


async def test_minted_credentials_never_reach_the_output(rw: Client, boto: Callable[..., Any]) -> None:
    # moto mints the same example credentials every time: get them raw, then look for them in the output.
    raw = boto("sts").get_session_token()["Credentials"]
    r = await rw.call_tool("aws_call_write", {"service": "sts", "operation": "GetSessionToken"})
    out = ok(r)
    creds = out["result"]["Credentials"]
    assert out["access"] == "sensitive"
    assert creds["SecretAccessKey"] == "***REDACTED***" and creds["SessionToken"] == "***REDACTED***"
    assert creds["AccessKeyId"] == raw["AccessKeyId"] and creds["Expiration"]
    text = json.dumps(out) + " ".join(getattr(c, "text", "") for c in r.content)
    assert raw["SecretAccessKey"] not in text and raw["SessionToken"] not in text
    assert raw["SessionToken"][:24] not in text and raw["SecretAccessKey"][:16] not in text


async def test_deny_list(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, uid: str) -> None:
    monkeypatch.setenv("BAM_AWS_DENY", "sqs:Delete*, iam:*")
    async with Client(build_server(policy=ToolPolicy(allow_writes=frozenset({"aws"})))) as c:
        d = error_text(
            await c.call_tool(
                "aws_call_write",
                {"service": "sqs", "operation": "DeleteQueue", "parameters": {"QueueUrl": "http://x/q"}},
            )
        )
        assert "DeniedByPolicy" in d and "sqs:Delete*" in d
        i = error_text(await c.call_tool("aws_call", {"service": "iam", "operation": "ListUsers"}))
        assert "DeniedByPolicy" in i
        ok(await c.call_tool("aws_call", {"service": "sqs", "operation": "ListQueues"}))


async def test_aws_errors_carry_code_and_hint(ro: Client, uid: str) -> None:
    e = error_text(
        await ro.call_tool(
            "aws_call", {"service": "s3", "operation": "ListObjectsV2", "parameters": {"Bucket": f"bam-missing-{uid}"}}
        )
    )
    assert "[NoSuchBucket]" in e and "aws_s3_buckets_list" in e and "HTTP 404" in e
    r = error_text(
        await ro.call_tool(
            "aws_call",
            {"service": "s3", "operation": "ListBuckets", "parameters": {}, "resume_token": "x", "paginate": False},
        )
    )
    assert "not paginated" in r


async def test_unreachable_endpoint_is_reported_and_recovers(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("BAM_AWS_MAX_ATTEMPTS", "1")
    async with Client(build_server()) as c:
        e = error_text(await c.call_tool("aws_caller_identity", {}))
        assert f"unreachable at {url}" in e and "AWS_ENDPOINT_URL" in e
        srv = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        srv.start()
        try:
            r = ok(await c.call_tool("aws_caller_identity", {}))
            assert r["account"] == "123456789012" and r["endpoint_url"] == url
        finally:
            srv.stop()
