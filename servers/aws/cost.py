"""Cost Explorer: cost per AWS service over a period."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, tool_error
from servers._common.tools import READ_OPEN, tool
from servers.aws.common import Profile, RoleArn, state_of, target


class ServiceCost(BaseModel):
    service: str
    amount: float
    unit: str


class CostReport(BaseModel):
    start: str
    end: str
    granularity: str
    metric: str
    total: float
    unit: str | None
    services: list[ServiceCost] = Field(description="Cost per service over the period, highest first")
    count: int
    truncated: bool = Field(description="True when services beyond `max_items` (or more CE pages) were left out")
    estimated: bool = Field(description="True when any period is still an estimate")
    periods: int


def _period(start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    """The [start, end) days asked for (default: the last 30 days)."""
    try:
        d_end = dt.date.fromisoformat(end) if end else dt.date.today()
        d_start = dt.date.fromisoformat(start) if start else d_end - dt.timedelta(days=30)
    except ValueError as exc:
        raise tool_error("parse the period", str(exc), hint="use YYYY-MM-DD dates") from exc
    if d_start >= d_end:
        raise tool_error(
            "check the period",
            f"start {d_start} must be before end {d_end}",
            hint="`end` is exclusive: the day after the last day to include",
        )
    return d_start, d_end


def _by_service(periods: list[dict[str, Any]], metric: str) -> tuple[dict[str, float], str | None, bool]:
    """Totals per service over the periods, their unit, and whether any period is an estimate."""
    totals: dict[str, float] = {}
    unit: str | None = None
    estimated = False
    for p in periods:
        estimated = estimated or bool(p.get("Estimated"))
        for g in p.get("Groups", []):
            m = (g.get("Metrics") or {}).get(metric) or {}
            name = (g.get("Keys") or ["?"])[0]
            totals[name] = totals.get(name, 0.0) + float(m.get("Amount", 0) or 0)
            unit = unit or m.get("Unit")
        if not p.get("Groups"):
            m = (p.get("Total") or {}).get(metric) or {}
            if m:
                totals["(total, ungrouped)"] = totals.get("(total, ungrouped)", 0.0) + float(m.get("Amount", 0))
                unit = unit or m.get("Unit")
    return totals, unit, estimated


@tool("AWS Cost Explorer: cost by service", READ_OPEN)
async def aws_cost_by_service(
    ctx: Context[Any, Any],
    start: Annotated[str | None, Field(description="First day, YYYY-MM-DD (default: 30 days ago)")] = None,
    end: Annotated[str | None, Field(description="Day after the last, YYYY-MM-DD (default: today)")] = None,
    granularity: Annotated[Literal["DAILY", "MONTHLY"], Field(description="Period size")] = "MONTHLY",
    metric: Annotated[
        Literal["UnblendedCost", "BlendedCost", "AmortizedCost", "NetUnblendedCost", "NetAmortizedCost"],
        Field(description="Cost metric"),
    ] = "UnblendedCost",
    max_items: Annotated[int, Field(ge=1, le=500)] = 25,
    profile: Profile = None,
    role_arn: RoleArn = None,
) -> CostReport:
    """Show cost per AWS service for a period from Cost Explorer, highest first."""
    aws = state_of(ctx)
    d_start, d_end = _period(start, end)

    def run(c: Any) -> tuple[list[dict[str, Any]], bool]:
        results: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(10):
            kw: dict[str, Any] = {"NextPageToken": token} if token else {}
            r = c.get_cost_and_usage(
                TimePeriod={"Start": d_start.isoformat(), "End": d_end.isoformat()},
                Granularity=granularity,
                Metrics=[metric],
                GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
                **kw,
            )
            results.extend(r.get("ResultsByTime", []))
            token = r.get("NextPageToken")
            if not token:
                return results, False
        return results, True

    # Cost Explorer has one endpoint, in us-east-1.
    (periods, more), _ = await aws.call("ce", target(profile, "us-east-1", role_arn), run, action="get cost and usage")
    totals, unit, estimated = _by_service(periods, metric)
    ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
    items, cut = cap_items(
        (ServiceCost(service=k, amount=round(v, 4), unit=unit or "USD") for k, v in ranked),
        max_items=max_items,
        max_bytes=aws.settings.max_bytes,
    )
    return CostReport(
        start=d_start.isoformat(),
        end=d_end.isoformat(),
        granularity=granularity,
        metric=metric,
        total=round(sum(totals.values()), 4),
        unit=unit,
        services=items,
        count=len(items),
        truncated=cut or more,
        estimated=estimated,
        periods=len(periods),
    )
