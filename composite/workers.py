"""`serve --workers N`: several server processes on one port for stateless streamable HTTP.

uvicorn's supervisor binds the port once and starts N worker processes that accept on the shared socket;
each calls `app()` and builds its own composite (own pools, own lifespan). That is correct only when no
request depends on state kept by another process, so with more than one worker the server is forced
stateless (no session ids: every POST carries what it needs) and the legacy SSE endpoints, whose
sessions live in one process, are not served. `/healthz` and `/readyz` answer for the process that takes
the request: each worker probes its own backends, so a 503 means that worker cannot serve.
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import orjson
from pydantic import SecretStr

from composite.settings import AppSettings

ENV = "BAM_WORKER_SETTINGS"
"""Settings handed from the supervisor to its workers (JSON; the workers inherit the environment)."""


def worker_settings(settings: AppSettings) -> AppSettings:
    """What every worker serves: the same settings, stateless."""
    if settings.transport != "http":
        raise ValueError("--workers needs --transport http (SSE sessions live in one process)")
    return settings.model_copy(update={"stateless": True})


def _dump(settings: AppSettings) -> str:
    data: dict[str, Any] = {}
    for name, value in settings.model_dump().items():
        data[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return orjson.dumps(data).decode()


def app() -> Any:
    """The ASGI app of one worker process (uvicorn app factory)."""
    from composite.app import build, http_app
    from composite.cli import settle_gc
    from servers._common.logs import configure_logging

    settings = AppSettings(**orjson.loads(os.environ[ENV]))
    configure_logging(settings.log_level)
    app = http_app(build(settings), sse=False, streamable=True)
    settle_gc()
    return app


def serve_workers(settings: AppSettings) -> None:
    """Run `settings.workers` worker processes on settings.host:port until interrupted."""
    import uvicorn

    from composite.tls import tls_kwargs

    try:
        shared = worker_settings(settings)
    except ValueError as exc:
        sys.stderr.write(f"backend-architect-mcp: {exc}\n")
        raise SystemExit(2) from exc
    os.environ[ENV] = _dump(shared.model_copy(update={"workers": 1}))
    uvicorn.run(
        "composite.workers:app",
        factory=True,
        host=shared.host,
        port=shared.port,
        workers=settings.workers,
        log_level="warning",
        lifespan="on",
        access_log=False,
        **tls_kwargs(settings),
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),  # each worker drains, then cancels the rest
    )
