"""Prometheus metrics (`GET /metrics`) and OpenTelemetry tracing set-up.

Per tool: calls by outcome, errors, a latency histogram. Per module: backend up/down, pooled connections
and worker threads in use. Labels are the tool's registered name and its module, never anything from the
arguments; a call naming an unknown tool is counted under `tool="unknown"` so a client cannot grow the
label set. Each server has its own registry (no process-global state), so tests and embedders can build
several.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from servers._common import Health
from servers._common.logs import ToolCallObserver
from servers._common.version import VERSION

log = logging.getLogger("backend_architect_mcp.metrics")

UNKNOWN = "unknown"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
HEALTH_TTL_S = 5.0
"""Backend probes run at most once per this many seconds, however often /metrics is scraped."""


class ToolMetrics(ToolCallObserver):
    """Server middleware recording every `tools/call`; also the registry `/metrics` renders."""

    after_response = True

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._tools: dict[str, str] = {}
        self._series: dict[tuple[str | None, str], tuple[Any, Any, Any]] = {}
        """The label children per (registered tool name, outcome); every other name shares the key of None."""
        self.calls = Counter(
            "bam_tool_calls",
            "Tool calls by outcome (ok, tool_error: the tool answered with an error, error: protocol failure).",
            ["tool", "module", "outcome"],
            registry=self.registry,
        )
        self.errors = Counter(
            "bam_tool_errors", "Tool calls that ended in an error.", ["tool", "module"], registry=self.registry
        )
        self.latency = Histogram(
            "bam_tool_call_duration_seconds",
            "Wall time of a tool call.",
            ["tool", "module"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.backends = BackendCollector()
        self.registry.register(self.backends)

    def set_tools(self, tools: Mapping[str, str]) -> None:
        """The registered tool names and their modules: the only label values ever used."""
        self._tools = dict(tools)
        self._series.clear()

    def labels(self, name: object) -> tuple[str, str]:
        if isinstance(name, str) and name in self._tools:
            return name, self._tools[name]
        return UNKNOWN, UNKNOWN

    def observe(self, name: object, seconds: float, outcome: str) -> None:
        key = (name if isinstance(name, str) and name in self._tools else None, outcome)
        series = self._series.get(key)
        if series is None:  # once per tool and outcome: `labels()` validates and locks on every use
            tool, module = self.labels(name)
            errors = self.errors.labels(tool, module) if outcome != "ok" else None
            series = (self.latency.labels(tool, module), self.calls.labels(tool, module, outcome), errors)
            self._series[key] = series
        latency, calls, errors = series
        latency.observe(seconds)
        calls.inc()
        if errors is not None:
            errors.inc()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class BackendCollector(Collector):
    """Backend up/down and pool use, read from the runtime's state at scrape time."""

    def __init__(self) -> None:
        self.health: list[Health] = []
        self.checked_at = 0.0
        self.state: Mapping[str, Any] = {}

    def stale(self) -> bool:
        return time.monotonic() - self.checked_at > HEALTH_TTL_S

    def update(self, health: list[Health], state: Mapping[str, Any]) -> None:
        self.health, self.state, self.checked_at = health, state, time.monotonic()

    def collect(self) -> Iterable[Metric]:
        yield InfoMetricFamily("bam_build", "Version of backend-architect-mcp.", value={"version": VERSION})
        up = GaugeMetricFamily("bam_backend_up", "1 when the module's backend answered its probe.", labels=["module"])
        for h in self.health:
            up.add_metric([h.module], 1.0 if h.ok else 0.0)
        yield up
        conns = GaugeMetricFamily(
            "bam_pool_connections", "Pooled backend connections by state.", labels=["module", "state"]
        )
        threads = GaugeMetricFamily(
            "bam_worker_threads", "Worker threads for blocking SDK calls: in_use and limit.", labels=["module", "state"]
        )
        for module, resource in self.state.items():
            backend = getattr(resource, "backend", None)
            limiter = getattr(backend, "limiter", None)
            if limiter is not None:
                threads.add_metric([module, "in_use"], float(limiter.borrowed_tokens))
                threads.add_metric([module, "limit"], float(limiter.total_tokens))
            sizes = getattr(resource, "pool_sizes", None)  # servers._common.backend.BackendState.pool_sizes
            for state, value in sizes() if callable(sizes) else ():
                conns.add_metric([module, state], float(value))
        yield conns
        yield threads


def configure_tracing(exporter: Any = None) -> bool:
    """Export the SDK's per-message spans (one per tool call) when OTEL_EXPORTER_OTLP_ENDPOINT is set.

    The mcp SDK already opens a span for every request (`tools/call <tool>`, with `gen_ai.tool.name` and
    no arguments); this installs a tracer provider that ships them. Needs the `otel` extra. `exporter`
    replaces the OTLP exporter (tests pass an in-memory one). Returns whether tracing was configured.
    """
    if exporter is None and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'backend-architect-mcp[otel]'"
        )
        return False
    service = os.environ.get("OTEL_SERVICE_NAME") or "backend-architect-mcp"
    provider = TracerProvider(resource=Resource.create({"service.name": service, "service.version": VERSION}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


def metrics_endpoint(metrics: ToolMetrics, runtime: Any) -> Any:
    """The `GET /metrics` handler: refresh backend health (at most every HEALTH_TTL_S), render the registry."""
    lock = anyio.Lock()  # concurrent scrapes share one probe round

    async def endpoint(_: Request) -> Response:
        async with lock:
            if metrics.backends.stale():
                metrics.backends.update(await runtime.health(timeout=2.0), runtime.state)
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    return endpoint
