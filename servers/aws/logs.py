"""CloudWatch Logs tools: log groups, filtered/tailed events, Logs Insights queries with progress."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, tool_error, truncate_text
from servers._common.tools import READ_OPEN, tool
from servers.aws.client import Aws, Target
from servers.aws.common import AwsPage, From, Listing, On, from_aws, grouped, list_page, state_of
from servers.aws.sensitive import mask_field, mask_text

MESSAGE_CAP = 4_096
LogGroup = str
SinceMinutes = Annotated[int, Field(ge=1, le=60 * 24 * 90, description="Look back this many minutes")]


def _ms(value: int | None) -> str | None:
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC).isoformat() if value is not None else None


def _parse_time(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise tool_error(
            f"parse `{name}`", f"{value!r} is not an ISO 8601 time", hint="use e.g. 2026-11-27T08:00:00Z"
        ) from exc
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp() * 1000)


class LogGroupInfo(BaseModel):
    name: Annotated[str, From("logGroupName")]
    stored_bytes: Annotated[int | None, From("storedBytes")]
    retention_days: Annotated[int | None, From("retentionInDays")] = Field(description="null: never expire")
    created: Annotated[str | None, From("creationTime", then=_ms)]
    log_class: Annotated[str | None, From("logGroupClass")] = None


class LogGroupPage(AwsPage):
    groups: list[LogGroupInfo]


@tool("AWS Logs: list log groups", READ_OPEN)
@grouped
async def aws_logs_groups_list(
    ctx: Context[Any, Any],
    prefix: Annotated[str | None, Field(description="Group name prefix")] = None,
    *,
    ask: Listing,
) -> LogGroupPage:
    """List CloudWatch Logs log groups (name, stored bytes, retention)."""
    aws = state_of(ctx)
    page = await list_page(
        aws,
        ask,
        "logs",
        "describe_log_groups",
        lambda r: [from_aws(LogGroupInfo, g) for g in r.get("logGroups", [])],
        params={"logGroupNamePrefix": prefix} if prefix else None,
        action="list log groups",
    )
    return LogGroupPage(groups=page.items, **page.fields())


class LogEvent(BaseModel):
    timestamp: str | None
    stream: str | None
    message: str
    message_truncated: bool = False


class LogEventPage(AwsPage):
    group: str
    events: list[LogEvent]
    start: str
    end: str | None
    last_timestamp_ms: int | None = Field(
        description="Newest event time; to tail, call again with start_time just after it"
    )


@tool("AWS Logs: filter or tail log events", READ_OPEN)
@grouped
async def aws_logs_events_filter(
    ctx: Context[Any, Any],
    group: LogGroup,
    pattern: Annotated[
        str | None, Field(description="CloudWatch filter pattern, e.g. `ERROR` or `{ $.status = 500 }`")
    ] = None,
    since_minutes: SinceMinutes = 60,
    start_time: Annotated[str | None, Field(description="ISO 8601 start (overrides since_minutes)")] = None,
    end_time: Annotated[str | None, Field(description="ISO 8601 end (default: now)")] = None,
    stream_prefix: Annotated[str | None, Field(description="Stream name prefix")] = None,
    *,
    ask: Listing,
) -> LogEventPage:
    """Search or tail a log group's events in a time window, oldest first.

    To tail, call again with `start_time` just after `last_timestamp_ms`.
    """
    aws = state_of(ctx)
    start = _parse_time(start_time, "start_time") or int((time.time() - since_minutes * 60) * 1000)
    end = _parse_time(end_time, "end_time")
    params: dict[str, Any] = {"logGroupName": group, "startTime": start}
    if end is not None:
        params["endTime"] = end
    if pattern:
        params["filterPattern"] = pattern
    if stream_prefix:
        params["logStreamNamePrefix"] = stream_prefix
    newest: list[int] = []

    def convert(r: dict[str, Any]) -> list[Any]:
        newest.clear()  # a page fetched again with fewer items must not keep the dropped events' times
        out = []
        for e in r.get("events", []):
            msg, cut = truncate_text(mask_text(str(e.get("message", ""))), MESSAGE_CAP, keep="head")
            out.append(
                LogEvent(
                    timestamp=_ms(e.get("timestamp")),
                    stream=e.get("logStreamName"),
                    message=msg,
                    message_truncated=cut,
                )
            )
            if e.get("timestamp") is not None:
                newest.append(int(e["timestamp"]))
        return out

    page = await list_page(
        aws, ask, "logs", "filter_log_events", convert, params=params, action=f"filter log events of {group}"
    )
    return LogEventPage(
        group=group,
        events=page.items,
        start=_ms(start) or "",
        end=_ms(end),
        last_timestamp_ms=max(newest) if newest else None,
        **page.fields(),
    )


class InsightsResult(BaseModel):
    region: str
    query_id: str
    status: str = Field(description="Complete, Failed, Cancelled, Timeout or Unknown")
    rows: list[dict[str, str]] = Field(description="Result rows as field -> value (@ptr dropped)")
    count: int
    truncated: bool = Field(description="True when rows were cut by `limit`/the byte cap or the query timed out")
    records_matched: Annotated[float | None, From("recordsMatched")] = None
    records_scanned: Annotated[float | None, From("recordsScanned")] = None
    bytes_scanned: Annotated[float | None, From("bytesScanned")] = None
    elapsed_s: float


async def _stop_query(aws: Any, where: Any, qid: str) -> None:
    """StopQuery; best effort (the query may have ended meanwhile), the partial rows still count."""
    with contextlib.suppress(Exception):
        await aws.call("logs", where, lambda c: c.stop_query(queryId=qid), action="stop the query")


async def _wait_for_query(
    ctx: Context[Any, Any], aws: Aws, where: Target, qid: str, wait: float
) -> tuple[str, dict[str, Any]]:
    """Poll the query until it ends or `wait` seconds pass (then it is stopped: status Timeout); the last answer."""
    t0 = time.monotonic()
    polls = 0
    while True:
        res, _ = await aws.call(
            "logs", where, lambda c: c.get_query_results(queryId=qid), action="get the Logs Insights results"
        )
        status = str(res.get("status", "Unknown"))
        polls += 1
        elapsed = time.monotonic() - t0
        stats = res.get("statistics") or {}
        await ctx.report_progress(
            min(elapsed, wait),
            wait,
            message=f"{status}: {stats.get('recordsMatched', 0):g} matched, {stats.get('recordsScanned', 0):g} "
            f"scanned after {elapsed:.1f}s",
        )
        if status in ("Complete", "Failed", "Cancelled", "Timeout"):
            return status, res
        if elapsed >= wait:
            await _stop_query(aws, where, qid)
            return "Timeout", res
        await anyio.sleep(min(aws.settings.insights_poll_s * min(polls, 5), 5.0))


def _row_size(row: dict[str, str]) -> int:
    return sum(len(k) + len(v) + 6 for k, v in row.items())


@tool("AWS Logs: run a Logs Insights query", READ_OPEN)
@grouped
async def aws_logs_insights_query(
    ctx: Context[Any, Any],
    groups: Annotated[list[str], Field(min_length=1, max_length=50, description="Log group names")],
    query: Annotated[
        str,
        Field(description="Logs Insights query, e.g. `fields @message | filter @message like /ERROR/`"),
    ],
    since_minutes: SinceMinutes = 60,
    start_time: Annotated[str | None, Field(description="ISO 8601 start (overrides since_minutes)")] = None,
    end_time: Annotated[str | None, Field(description="ISO 8601 end (default: now)")] = None,
    limit: Annotated[int, Field(ge=1, le=10_000)] = 100,
    timeout_s: Annotated[float | None, Field(gt=0, le=900, description="Stop waiting after this (default 60)")] = None,
    *,
    on: On,
) -> InsightsResult:
    """Run a CloudWatch Logs Insights query and wait for its rows; at the timeout, partial rows return (truncated)."""
    aws = state_of(ctx)
    where = on.where
    now = time.time()
    start = _parse_time(start_time, "start_time") or int((now - since_minutes * 60) * 1000)
    end = _parse_time(end_time, "end_time") or int(now * 1000)
    wait = min(timeout_s or aws.settings.insights_timeout_s, 900.0)
    qid, used = await aws.call(
        "logs",
        where,
        lambda c: c.start_query(
            logGroupNames=groups, queryString=query, startTime=start // 1000, endTime=end // 1000, limit=limit
        )["queryId"],
        action="start the Logs Insights query",
    )
    t0 = time.monotonic()
    try:
        status, res = await _wait_for_query(ctx, aws, where, qid, wait)
    except anyio.get_cancelled_exc_class():  # the caller went away: the query must not keep scanning
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await _stop_query(aws, where, qid)
        raise
    if status == "Failed":
        raise tool_error(
            "run the Logs Insights query",
            f"query {qid} failed",
            code="QueryFailed",
            hint="check the query syntax and the log group names",
        )
    found = (
        {f["field"]: mask_field(f["field"], str(f.get("value", ""))) for f in row if f.get("field") != "@ptr"}
        for row in res.get("results", [])
    )
    rows, cut = cap_items(found, max_items=limit, max_bytes=aws.settings.max_bytes, size=_row_size)
    cut = cut or status == "Timeout"
    stats = res.get("statistics") or {}
    if float(stats.get("recordsMatched") or 0) > len(rows):  # AWS stops at `limit`; more rows matched
        cut = True
    return from_aws(
        InsightsResult,
        stats,
        region=used,
        query_id=qid,
        status=status,
        rows=rows,
        count=len(rows),
        truncated=cut,
        elapsed_s=round(time.monotonic() - t0, 3),
    )
