"""CloudWatch Logs tools: groups, filtered events with paging, Logs Insights with progress."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from servers.aws import build_server
from tests.conftest import error_text, ok
from tests.servers.aws.paging import all_pages

pytestmark = pytest.mark.anyio


@pytest.fixture
def group(boto: Callable[..., Any], uid: str) -> Iterator[str]:
    logs = boto("logs")
    name = f"/bam/{uid}/app"
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    logs.create_log_stream(logGroupName=name, logStreamName="web-1")
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - 5000 + i, "message": f"{'ERROR' if i % 2 else 'INFO'} request {i} password=hunter2"}
        for i in range(10)
    ]
    logs.put_log_events(logGroupName=name, logStreamName="web-1", logEvents=events)
    yield name
    logs.delete_log_group(logGroupName=name)


async def test_groups_list(ro: Client, group: str, uid: str, boto: Callable[..., Any]) -> None:
    r = ok(await ro.call_tool("aws_logs_groups_list", {"prefix": f"/bam/{uid}/"}))
    assert [g["name"] for g in r["groups"]] == [group] and r["groups"][0]["retention_days"] == 7
    assert r["truncated"] is False
    logs = boto("logs")
    more = [f"/bam/{uid}/more-{i}" for i in range(3)]
    for name in more:
        logs.create_log_group(logGroupName=name)
    try:
        args = {"prefix": f"/bam/{uid}/", "max_items": 1}
        groups = await all_pages(ro, "aws_logs_groups_list", args, "groups", min_pages=4)
        assert [g["name"] for g in groups] == sorted([group, *more])
    finally:
        for name in more:
            logs.delete_log_group(logGroupName=name)


async def test_events_byte_cap_keeps_the_page_exact(
    aws_endpoint: str, boto: Callable[..., Any], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAM_AWS_MAX_BYTES", "2048")
    logs = boto("logs")
    name = f"/bam/{uid}/big"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    now = int(time.time() * 1000)
    sent = [{"timestamp": now - 5000 + i, "message": f"{i:02d} " + "x" * 300} for i in range(12)]
    logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=sent)
    try:
        async with Client(build_server()) as c:
            args = {"group": name, "since_minutes": 10, "max_items": 12}
            first = ok(await c.call_tool("aws_logs_events_filter", args))
            assert 1 <= first["count"] < 12 and first["truncated"] and first["next_token"]
            assert len(json.dumps(first["events"], separators=(",", ":"))) <= 2048
            # the newest time is that of the last event returned, not of one dropped to fit the cap
            assert first["last_timestamp_ms"] == sent[first["count"] - 1]["timestamp"]
            events = await all_pages(c, "aws_logs_events_filter", args, "events", min_pages=2)
            assert [e["message"][:2] for e in events] == [f"{i:02d}" for i in range(12)]
    finally:
        logs.delete_log_group(logGroupName=name)


async def test_events_filter_pattern_paging_and_redaction(ro: Client, group: str) -> None:
    msgs: list[str] = []
    token = None
    for _ in range(5):
        args: dict[str, Any] = {"group": group, "pattern": "ERROR", "since_minutes": 10, "max_items": 2}
        if token:
            args["next_token"] = token
        r = ok(await ro.call_tool("aws_logs_events_filter", args))
        msgs += [e["message"] for e in r["events"]]
        assert r["events"] and all(e["stream"] == "web-1" for e in r["events"])
        token = r["next_token"]
        assert r["truncated"] is (token is not None)
        if not token:
            break
    assert len(msgs) == 5 and all(m.startswith("ERROR") for m in msgs)
    assert all("hunter2" not in m and "***REDACTED***" in m for m in msgs)
    r = ok(await ro.call_tool("aws_logs_events_filter", {"group": group, "since_minutes": 10}))
    assert r["count"] == 10 and r["last_timestamp_ms"] is not None
    tail = ok(
        await ro.call_tool(
            "aws_logs_events_filter",
            {
                "group": group,
                "start_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r["last_timestamp_ms"] / 1000 + 1)),
            },
        )
    )
    assert tail["count"] == 0
    e = error_text(await ro.call_tool("aws_logs_events_filter", {"group": group + "-missing"}))
    assert "ResourceNotFoundException" in e
    t = error_text(await ro.call_tool("aws_logs_events_filter", {"group": group, "start_time": "yesterday"}))
    assert "ISO 8601" in t


async def test_insights_query_reports_progress(ro: Client, group: str) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    r = await ro.call_tool(
        "aws_logs_insights_query",
        {
            "groups": [group],
            "query": "fields @timestamp, @message | sort @timestamp desc",
            "since_minutes": 10,
            "limit": 4,
        },
        progress_callback=on_progress,
    )
    out = ok(r)
    assert out["status"] == "Complete" and out["count"] == 4 and out["truncated"] is True
    assert all("@message" in row and "@ptr" not in row for row in out["rows"])
    assert all("hunter2" not in row["@message"] for row in out["rows"])
    assert seen and seen[-1][2] is not None and seen[-1][2].startswith("Complete")
