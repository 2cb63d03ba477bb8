"""`GET /metrics` (Prometheus text) and OpenTelemetry spans per tool call; neither ever carries arguments."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from prometheus_client.parser import text_string_to_metric_families

from composite.app import build
from composite.metrics import configure_tracing
from composite.settings import AppSettings
from tests.composite.conftest import ServerProcess, start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


@pytest.fixture
def pg_server(database_url: str, redis_url: str) -> Iterator[ServerProcess]:
    sp = start_server("--transport", "http", "--servers", "postgres,redis")
    yield sp
    stop_server(sp)


async def test_metrics_show_a_tool_calls_counter_and_histogram_never_its_arguments(pg_server: ServerProcess) -> None:
    marker = f"marker_{uuid.uuid4().hex}"
    async with Client(f"{pg_server.base}/mcp") as c:
        for _ in range(3):
            ok(await c.call_tool("pg_query", {"sql": f"SELECT '{marker}' AS m"}))
        error_text(await c.call_tool("pg_query", {"sql": f"SELECT * FROM {marker}"}))  # no such table
        await c.call_tool(f"no_such_tool_{marker}", {})
    r = httpx2.get(f"{pg_server.base}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert marker not in text  # neither arguments nor a client-chosen tool name become a label
    pg = {"tool": "pg_query", "module": "postgres"}
    assert value(text, "bam_tool_calls_total", **pg, outcome="ok") == 3
    assert value(text, "bam_tool_calls_total", **pg, outcome="tool_error") == 1
    assert value(text, "bam_tool_errors_total", **pg) == 1
    assert value(text, "bam_tool_call_duration_seconds_count", **pg) == 4
    assert value(text, "bam_tool_call_duration_seconds_bucket", **pg, le="+Inf") == 4
    assert (value(text, "bam_tool_call_duration_seconds_sum", **pg) or 0) > 0
    unknown = {"tool": "unknown", "module": "unknown"}
    assert (value(text, "bam_tool_calls_total", **unknown, outcome="ok") or 0) + (
        value(text, "bam_tool_calls_total", **unknown, outcome="tool_error") or 0
    ) + (value(text, "bam_tool_calls_total", **unknown, outcome="error") or 0) == 1
    assert value(text, "bam_backend_up", module="postgres") == 1
    assert value(text, "bam_pool_connections", module="postgres", state="in_use") == 0
    assert (value(text, "bam_pool_connections", module="postgres", state="idle") or 0) >= 1
    assert value(text, "bam_worker_threads", module="postgres", state="limit") == 8
    assert value(text, "bam_backend_up", module="redis") == 1
    assert (value(text, "bam_pool_connections", module="redis", state="max") or 0) >= 1
    assert any(name == "bam_build_info" for name, _ in samples(text))


async def test_metrics_report_a_backend_that_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    from composite.app import http_app

    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    app = build(AppSettings(servers="postgres", transport="http"))
    asgi = http_app(app)
    async with (
        app.runtime.attach(),
        httpx2.AsyncClient(transport=httpx2.ASGITransport(app=asgi), base_url="http://127.0.0.1") as h,
    ):
        text = (await h.get("/metrics")).text
    assert value(text, "bam_backend_up", module="postgres") == 0


@pytest.fixture(scope="module")
def spans() -> Any:
    """An in-memory exporter behind the tracer provider configure_tracing installs (once per process)."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert configure_tracing(exporter) is True
    return exporter


async def test_a_span_per_tool_call_without_arguments(spans: Any, database_url: str) -> None:
    marker = f"marker_{uuid.uuid4().hex}"
    spans.clear()
    async with Client(build(AppSettings(servers="postgres")).server) as c:
        ok(await c.call_tool("pg_query", {"sql": f"SELECT '{marker}' AS m"}))
    calls = [s for s in spans.get_finished_spans() if s.attributes.get("mcp.method.name") == "tools/call"]
    assert [s.name for s in calls] == ["tools/call pg_query"]
    assert calls[0].attributes["gen_ai.tool.name"] == "pg_query"
    assert calls[0].resource.attributes["service.name"] == "backend-architect-mcp"
    assert marker not in repr([dict(s.attributes or {}) for s in spans.get_finished_spans()])


def test_tracing_is_off_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    assert configure_tracing() is False


async def test_discovery_meta_tools_are_labelled_by_name(database_url: str) -> None:
    app = build(AppSettings(servers="postgres", discovery=True))
    async with Client(app.server) as c:
        ok(await c.call_tool("tool_call", {"name": "pg_query", "arguments": {"sql": "SELECT 1"}}))
    text = app.metrics.render()[0].decode()
    assert value(text, "bam_tool_calls_total", tool="tool_call", module="discovery", outcome="ok") == 1
