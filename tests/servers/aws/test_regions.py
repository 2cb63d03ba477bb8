"""A caller's region is checked by botocore's own rules (name syntax, then an AWS partition's pattern), and
the per-(profile, region, role) session cache is bounded: arbitrary regions once grew it without bound
(each entry a boto3 session with its clients; 60 made-up regions took the server from 98 to 844 MiB)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client

from servers.aws import build_server
from servers.aws.client import Sessions, Target
from servers.aws.settings import AwsSettings
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

NOT_REGIONS = ["zz-1", "aaaa", "local", "us-east-1\x00", "us-ü-1", "../../x", "us-east-1.evil.example", "a" * 300, "-"]


async def test_unknown_regions_are_refused_before_a_session_exists(aws_endpoint: str) -> None:
    async with Client(build_server()) as c:
        for region in NOT_REGIONS:
            text = error_text(await c.call_tool("aws_s3_buckets_list", {"region": region}))
            assert "UnknownRegion" in text and "no AWS partition" in text, text
        for region in ("us-east-1", "eu-west-3", "cn-north-1", "us-gov-west-1"):  # every partition's pattern
            r = await c.call_tool("aws_sqs_queues_list", {"region": region})
            assert "UnknownRegion" not in error_text(r) if r.is_error else ok(r)["region"] == region


def test_the_session_cache_keeps_the_most_recent_entries(aws_endpoint: str) -> None:
    sessions = Sessions(AwsSettings(max_sessions=3))
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-west-3", "ap-south-1", "sa-east-1"]
    for region in regions:
        sessions.run("sts", Target(region=region), lambda c: c.get_caller_identity())
    assert [k[1] for k in sessions.cached_keys()] == regions[-3:]
    sessions.run("sts", Target(region="eu-west-3"), lambda c: c.get_caller_identity())  # a hit moves to the end
    assert [k[1] for k in sessions.cached_keys()] == ["ap-south-1", "sa-east-1", "eu-west-3"]


@settings(max_examples=60)
@given(region=st.text(max_size=30) | st.from_regex(r"[a-z]{2,4}-[a-z]{3,9}-[0-9]", fullmatch=True))
def test_generated_regions_never_grow_the_cache_past_its_bound(aws_endpoint: str, region: str) -> None:
    sessions = _shared()
    target = Target(region=region or None)
    try:
        sessions.resolve(target)
    except Exception as exc:
        assert "UnknownRegion" in str(exc), exc
        return
    sessions.client("sts", sessions.resolve(target))  # no network: building the client is what costs memory
    assert len(sessions.cached_keys()) <= 4


_SESSIONS: list[Sessions] = []


def _shared() -> Sessions:
    if not _SESSIONS:
        _SESSIONS.append(Sessions(AwsSettings(max_sessions=4)))
    return _SESSIONS[0]


def test_the_bound_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_AWS_MAX_SESSIONS", "2")
    assert AwsSettings().max_sessions == 2
