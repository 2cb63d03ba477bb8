"""aws_call paging stays bounded in pages and wall time, and every stop resumes exactly.

moto answers ec2:DescribeInstanceTypeOfferings with every offering whatever `MaxResults` says (a service
that ignores the page size), and ssm:DescribeParameters in pages of 10.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from servers.aws import build_server
from servers.aws.common import Budget, fit_pages
from servers.aws.settings import AwsSettings
from tests.conftest import ok

pytestmark = pytest.mark.anyio


def _offerings(res: dict[str, Any]) -> tuple[list[str], int, int]:
    names = [o["InstanceType"] for o in res.get("InstanceTypeOfferings", [])]
    return names, len(names), sum(len(n) + 120 for n in names)  # about the JSON size of a full offering


def test_page_size_ignored_fetches_each_page_once_and_resumes_exactly(boto: Callable[..., Any]) -> None:
    ec2 = boto("ec2")
    sent: list[str] = []
    ec2.meta.events.register("before-send.ec2.DescribeInstanceTypeOfferings", lambda **_: sent.append("x"))
    everything = [o["InstanceType"] for o in ec2.describe_instance_type_offerings()["InstanceTypeOfferings"]]
    assert len(everything) > 300, "moto should answer with all offerings in one page"
    sent.clear()
    budget = Budget(pages=5, deadline=time.monotonic() + 60)
    first, token, n = fit_pages(
        ec2.get_paginator("describe_instance_type_offerings"),
        {},
        _offerings,
        max_items=1000,
        token=None,
        max_bytes=20_000,
        budget=budget,
    )
    assert len(sent) == 1, "fetched again with fewer items: the AWS page must be replayed, not requested again"
    assert n < 1000 and len(first) == n and token is not None
    second, _, _ = fit_pages(
        ec2.get_paginator("describe_instance_type_offerings"),
        {},
        _offerings,
        max_items=1000,
        token=token,
        max_bytes=20_000,
        budget=Budget(pages=5, deadline=time.monotonic() + 60),
    )
    assert len(sent) == 2
    assert first + second == everything[: len(first) + len(second)]


@pytest.fixture
def parameters(boto: Callable[..., Any], uid: str) -> Iterator[list[str]]:
    ssm = boto("ssm")
    names = [f"/bam/pg/{uid}/p{i:02d}" for i in range(25)]
    for n in names:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    try:
        yield names
    finally:
        for i in range(0, len(names), 10):
            ssm.delete_parameters(Names=names[i : i + 10])


def _describe(uid: str) -> dict[str, Any]:
    return {
        "service": "ssm",
        "operation": "DescribeParameters",
        "parameters": {"ParameterFilters": [{"Key": "Name", "Option": "BeginsWith", "Values": [f"/bam/pg/{uid}/"]}]},
        "max_items": 50,
    }


async def _walk(c: Client, args: dict[str, Any]) -> tuple[list[str], list[int]]:
    names: list[str] = []
    counts: list[int] = []
    token = None
    for _ in range(10):
        r = ok(await c.call_tool("aws_call", {**args, **({"resume_token": token} if token else {})}))
        names += [p["Name"] for p in r["result"].get("Parameters", [])]
        counts.append(r["item_count"])
        token = r["resume_token"]
        assert r["truncated"] is (token is not None)
        if token is None:
            return names, counts
    raise AssertionError("more than 10 calls")


async def test_page_budget_stops_and_resumes(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, uid: str, parameters: list[str]
) -> None:
    monkeypatch.setenv("BAM_AWS_MAX_PAGES", "2")
    async with Client(build_server()) as c:
        first = ok(await c.call_tool("aws_call", _describe(uid)))
        assert first["item_count"] == 20 and first["truncated"] and first["resume_token"]
        assert any("stopped after 2 pages" in n for n in first["notes"])
        names, counts = await _walk(c, _describe(uid))
    assert sorted(names) == parameters and len(names) == len(set(names))
    assert counts == [20, 5]


async def test_time_budget_stops_after_one_page(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, uid: str, parameters: list[str]
) -> None:
    monkeypatch.setenv("BAM_AWS_CALL_BUDGET_S", "0.001")
    async with Client(build_server()) as c:
        names, counts = await _walk(c, _describe(uid))
    assert counts == [10, 10, 5]
    assert sorted(names) == parameters


async def test_call_over_the_byte_cap_when_the_service_ignores_page_size(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, boto: Callable[..., Any]
) -> None:
    monkeypatch.setenv("BAM_AWS_MAX_BYTES", "20000")
    everything = [o["InstanceType"] for o in boto("ec2").describe_instance_type_offerings()["InstanceTypeOfferings"]]
    args = {"service": "ec2", "operation": "DescribeInstanceTypeOfferings", "max_items": 1000}
    got: list[str] = []
    async with Client(build_server()) as c:
        token = None
        for _ in range(2):
            r = ok(await c.call_tool("aws_call", {**args, **({"resume_token": token} if token else {})}))
            assert r["truncated"] and r["item_count"] < 1000 and r["resume_token"]
            assert any("page reduced" in n for n in r["notes"])
            got += [o["InstanceType"] for o in r["result"]["InstanceTypeOfferings"]]
            token = r["resume_token"]
    assert got == everything[: len(got)]


def test_budget_settings_have_bounds() -> None:
    s = AwsSettings()
    assert s.max_pages == 20 and s.call_budget_s == 20.0
    b = Budget.of(s)
    assert b.pages == 20 and b.deadline > time.monotonic()
