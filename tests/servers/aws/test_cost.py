"""Cost by service from Cost Explorer, with results seeded through moto's API."""

from __future__ import annotations

import datetime as dt
import json
import random
import urllib.request
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_cost_by_service(ro: Client, aws_endpoint: str) -> None:
    # Cost Explorer results are seeded through moto's API; unique dates make this run's request unique.
    day = 1 + random.randrange(3000)
    start = dt.date(2015, 1, 1) + dt.timedelta(days=day)
    mid, end = start + dt.timedelta(days=1), start + dt.timedelta(days=2)

    def group(service: str, amount: str) -> dict[str, Any]:
        return {"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}

    seeded = {
        "results": [
            {
                "ResultsByTime": [
                    {
                        "TimePeriod": {"Start": start.isoformat(), "End": mid.isoformat()},
                        "Total": {},
                        "Estimated": False,
                        "Groups": [group("Amazon S3", "1.50"), group("AWS Lambda", "0.25"), group("Amazon EC2", "10")],
                    },
                    {
                        "TimePeriod": {"Start": mid.isoformat(), "End": end.isoformat()},
                        "Total": {},
                        "Estimated": True,
                        "Groups": [group("Amazon S3", "2.50"), group("Amazon RDS", "3")],
                    },
                ]
            }
        ]
    }
    req = urllib.request.Request(
        f"{aws_endpoint}/moto-api/static/ce/cost-and-usage-results",
        data=json.dumps(seeded).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 201
    r = ok(
        await ro.call_tool(
            "aws_cost_by_service",
            {"start": start.isoformat(), "end": end.isoformat(), "granularity": "DAILY", "max_items": 3},
        )
    )
    assert [s["service"] for s in r["services"]] == ["Amazon EC2", "Amazon S3", "Amazon RDS"]
    assert r["services"][1]["amount"] == 4.0 and r["total"] == 17.25 and r["unit"] == "USD"
    assert r["truncated"] is True and r["estimated"] is True and r["periods"] == 2 and r["count"] == 3
    bad = error_text(await ro.call_tool("aws_cost_by_service", {"start": end.isoformat(), "end": start.isoformat()}))
    assert "must be before" in bad
