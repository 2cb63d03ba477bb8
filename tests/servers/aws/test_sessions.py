"""Per-call region, profile and role; the client cache key; credential refresh on expiry."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from servers.aws import build_server
from servers.aws.client import Sessions, Target, resources
from servers.aws.settings import AwsSettings
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, boto: Callable[..., Any], uid: str) -> Iterator[str]:
    """Config/credentials files with profiles in different regions, wired in through the settings.

    `alt` holds the access key of a fresh IAM user, so its identity differs from the default's.
    """
    iam = boto("iam")
    user = f"bam-alt-{uid}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    config = tmp_path / "config"
    config.write_text(
        "[default]\nregion = us-east-1\n\n[profile alt]\nregion = eu-west-1\n\n"
        "[profile jump]\nrole_arn = arn:aws:iam::222222222222:role/ops\nsource_profile = alt\nregion = ap-south-1\n"
    )
    creds = tmp_path / "credentials"
    creds.write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n\n"
        f"[alt]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    yield user
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)


async def test_region_switching_per_call(ro: Client, boto: Callable[..., Any], uid: str) -> None:
    sqs = boto("sqs", "us-west-2")
    url = sqs.create_queue(QueueName=f"bam-region-{uid}")["QueueUrl"]
    try:
        west = ok(await ro.call_tool("aws_sqs_queues_list", {"prefix": f"bam-region-{uid}", "region": "us-west-2"}))
        assert west["region"] == "us-west-2" and [q["name"] for q in west["queues"]] == [f"bam-region-{uid}"]
        east = ok(await ro.call_tool("aws_sqs_queues_list", {"prefix": f"bam-region-{uid}"}))
        assert east["region"] == "us-east-1" and east["queues"] == []
        who = ok(await ro.call_tool("aws_caller_identity", {"region": "ap-northeast-1"}))
        assert who["region"] == "ap-northeast-1"
    finally:
        sqs.delete_queue(QueueUrl=url)


async def test_profile_switching_per_call(profiles: str, aws_endpoint: str, boto: Callable[..., Any], uid: str) -> None:
    sqs = boto("sqs", "eu-west-1")
    url = sqs.create_queue(QueueName=f"bam-profile-{uid}")["QueueUrl"]
    try:
        async with Client(build_server()) as c:
            listed = ok(await c.call_tool("aws_profiles_list", {}))
            by_name = {p["name"]: p for p in listed["profiles"]}
            assert (
                by_name["alt"]
                == {"name": "alt", "region": "eu-west-1", "kind": "other", "role_arn": None, "allowed": True}
                or by_name["alt"]["region"] == "eu-west-1"
            )
            assert by_name["jump"]["kind"] == "assume-role" and by_name["jump"]["role_arn"].endswith("role/ops")
            assert "aws_secret_access_key" not in str(listed) and "AKIA" not in str(listed)
            alt = ok(await c.call_tool("aws_caller_identity", {"profile": "alt"}))
            assert alt["profile"] == "alt" and alt["region"] == "eu-west-1"
            assert alt["arn"] == f"arn:aws:iam::123456789012:user/{profiles}"  # the profile's own keys
            default = ok(await c.call_tool("aws_caller_identity", {}))
            assert default["region"] == "us-east-1" and default["arn"] != alt["arn"]
            q = ok(await c.call_tool("aws_sqs_queues_list", {"prefix": f"bam-profile-{uid}", "profile": "alt"}))
            assert q["region"] == "eu-west-1" and len(q["queues"]) == 1
            over = ok(
                await c.call_tool(
                    "aws_sqs_queues_list", {"prefix": f"bam-profile-{uid}", "profile": "alt", "region": "us-east-1"}
                )
            )
            assert over["region"] == "us-east-1" and over["queues"] == []
            jump = ok(await c.call_tool("aws_caller_identity", {"profile": "jump"}))
            assert jump["account"] == "222222222222" and ":assumed-role/ops/" in jump["arn"]
            assert jump["region"] == "ap-south-1"
            bad = error_text(await c.call_tool("aws_caller_identity", {"profile": "nope"}))
            assert "ProfileNotFound" in bad and "alt" in bad and "aws_profiles_list" in bad
    finally:
        sqs.delete_queue(QueueUrl=url)


async def test_profile_allow_list(profiles: str, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_AWS_ALLOWED_PROFILES", "default,jump")
    async with Client(build_server()) as c:
        e = error_text(await c.call_tool("aws_caller_identity", {"profile": "alt"}))
        assert "not in the allowed profiles" in e and "BAM_AWS_ALLOWED_PROFILES" in e
        listed = ok(await c.call_tool("aws_profiles_list", {}))
        assert {p["name"]: p["allowed"] for p in listed["profiles"]}["alt"] is False


async def test_profiles_list_keeps_the_byte_cap(
    aws_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("".join(f"[profile team-{i:02d}-{'p' * 30}]\nregion = eu-west-1\n\n" for i in range(40)))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("BAM_AWS_MAX_BYTES", "2048")
    async with Client(build_server()) as c:
        r = ok(await c.call_tool("aws_profiles_list", {}))
    assert r["truncated"] is True and 1 <= r["count"] == len(r["profiles"]) < 40
    assert len(json.dumps(r["profiles"], separators=(",", ":"))) <= 2048
    assert [p["name"] for p in r["profiles"]] == [f"team-{i:02d}-{'p' * 30}" for i in range(r["count"])]


async def test_assume_role_allow_list(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    role = "arn:aws:iam::111111111111:role/bam-reader"
    async with Client(build_server()) as c:
        off = error_text(await c.call_tool("aws_caller_identity", {"role_arn": role}))
        assert "RoleNotAllowed" in off and "BAM_AWS_ALLOWED_ROLE_ARNS" in off
    monkeypatch.setenv("BAM_AWS_ALLOWED_ROLE_ARNS", "arn:aws:iam::111111111111:role/bam-*")
    async with Client(build_server()) as c:
        who = ok(await c.call_tool("aws_caller_identity", {"role_arn": role, "region": "eu-central-1"}))
        assert who["account"] == "111111111111" and who["role_arn"] == role
        assert who["arn"] == "arn:aws:sts::111111111111:assumed-role/bam-reader/backend-architect-mcp"
        mine = ok(await c.call_tool("aws_caller_identity", {}))
        assert mine["account"] == "123456789012"
        other = error_text(await c.call_tool("aws_caller_identity", {"role_arn": "arn:aws:iam::111111111111:role/x"}))
        assert "RoleNotAllowed" in other


async def test_clients_are_cached_per_profile_region_role(
    profiles: str, aws_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_AWS_ALLOWED_ROLE_ARNS", "arn:aws:iam::111111111111:role/*")
    async with resources(AwsSettings()) as aws:
        targets = [
            Target(),
            Target(region="eu-west-1"),
            Target(profile="alt"),
            Target(role_arn="arn:aws:iam::111111111111:role/r"),
        ]
        clients = []
        for t in targets:
            ident, _region = await aws.call("sts", t, lambda c: c.get_caller_identity(), action="identify")
            assert ident["Account"]
            sessions = await aws.sessions()
            clients.append(sessions.client("sts", sessions.resolve(t)))
        again, _ = await aws.call("sts", Target(), lambda c: c, action="reuse")
        sessions = await aws.sessions()
        keys = sessions.cached_keys()
        assert (None, "us-east-1", None) in keys and (None, "eu-west-1", None) in keys
        assert ("alt", "eu-west-1", None) in keys
        assert (None, "us-east-1", "arn:aws:iam::111111111111:role/r") in keys
        assert len({id(c) for c in clients}) == 4 and again is clients[0]
        health = await aws.check()
        assert health.ok and health.module == "aws"


def test_expired_credentials_rebuild_the_session_and_retry(aws_endpoint: str) -> None:
    from botocore.exceptions import ClientError

    sessions = Sessions(AwsSettings())
    seen: list[Any] = []

    def call(client: Any) -> str:
        seen.append(client)
        if len(seen) == 1:
            raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "The security token expired"}}, "X")
        return str(client.get_caller_identity()["Account"])

    result, key = sessions.run("sts", Target(), call)
    assert result == "123456789012" and len(seen) == 2 and seen[0] is not seen[1]
    assert key in sessions.cached_keys()

    def denied(client: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "X")

    with pytest.raises(ClientError):
        sessions.run("sts", Target(), denied)
    assert key in sessions.cached_keys()  # other errors keep the session
