"""`backend-architect-mcp`: serve the composite, list its tools, or check the backends."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any

import anyio
import orjson

from composite import clientconfig
from composite.flags import add_flags, overrides
from composite.settings import AppSettings
from servers._common.version import VERSION

GC_YOUNG_THRESHOLD = 10_000
"""perf: collect the young generation every 10,000 net allocations instead of CPython's 700. A tool call over
HTTP allocates a few hundred container objects that live until it ends; with many calls in flight, each
young collection walks all of them again, so the default collects after every few calls for little
garbage (about ten objects of reference cycles per call). Measured: about 0.05x less server CPU per call in
bench/bench_http.py. Cyclic garbage is bounded by the threshold, a few MB at most."""


def settle_gc() -> None:
    """After start-up: keep what it built out of every later collection, and collect young objects rarely."""
    gc.freeze()  # perf: what start-up built lives as long as the process; later collections skip it
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def add_selection(p: argparse.ArgumentParser) -> None:
    """The flags every subcommand has: module and tool selection, safety policy, log level."""
    add_flags(p, AppSettings, ("all",))


def add_serve_flags(p: argparse.ArgumentParser) -> None:
    """Every flag of `serve` (also the flags of `python -m servers.<name>`)."""
    add_flags(p, AppSettings, ("serve", "all"))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="backend-architect-mcp",
        description="MCP tools of a senior backend engineer: PostgreSQL, Redis, Kubernetes, AWS, Docker.",
        epilog="Every flag has a BAM_* environment variable; backends use DATABASE_URL, REDIS_URL, KUBECONFIG, "
        "AWS_* and DOCKER_HOST.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="serve the composite MCP server (stdio by default)")
    add_serve_flags(serve)
    tools = sub.add_parser("tools", help="list the tools the current configuration exposes")
    tools.add_argument("--json", action="store_true", help="JSON with annotations and schemas")
    add_selection(tools)
    doctor = sub.add_parser("doctor", help="check every configured backend; non-zero exit when one is down")
    doctor.add_argument("--json", action="store_true", help="JSON output")
    doctor.add_argument(
        "--policy",
        action="store_true",
        help="print the effective tool policy and what the backend credentials themselves may do",
    )
    add_selection(doctor)
    clientconfig.add_parser(sub, add_selection)
    return p


def settings_from_args(args: argparse.Namespace) -> AppSettings:
    """Environment first, flags on top."""
    return AppSettings(**overrides(args, AppSettings))


def _fail(message: str) -> None:
    sys.stderr.write(f"backend-architect-mcp: {message}\n")
    raise SystemExit(2)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("serve", "tools", "doctor", "config", "-h", "--help", "--version"):
        argv = ["serve", *argv]  # `backend-architect-mcp --transport http` means `serve --transport http`
    args = parser().parse_args(argv)
    command = args.command
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        from composite.strict import describe_validation_error

        _fail(describe_validation_error(exc))
    if command == "config":
        try:
            sys.stdout.write(clientconfig.render(args, settings))
        except ValueError as exc:
            _fail(str(exc))
        return
    from composite.strict import startup_errors

    if errors := startup_errors(settings, os.environ):
        _fail("configuration cannot be applied:\n  " + "\n  ".join(errors))
    from servers._common.logs import configure_logging

    configure_logging(settings.log_level)
    from composite.metrics import configure_tracing

    configure_tracing()
    from composite.app import build

    gc.disable()  # perf: start-up allocates a great many objects and frees few (off from the first import in __main__)
    try:
        app = build(settings)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        gc.enable()
    settle_gc()
    if command == "tools":
        anyio.run(_print_tools, app, args.json)
    elif command == "doctor" and args.policy:
        from composite.doctor_policy import doctor_policy

        raise SystemExit(anyio.run(doctor_policy, app, args.json))
    elif command == "doctor":
        raise SystemExit(anyio.run(_doctor, app, args.json))
    else:
        serve_app(app)


async def _print_tools(app: Any, as_json: bool) -> None:
    tools = await app.server.list_tools()
    if as_json:
        data = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for t in tools:
        a = t.annotations
        flags = []
        if a is not None:
            flags.append("read-only" if a.read_only_hint else "write")
            if a.destructive_hint:
                flags.append("destructive")
            if a.idempotent_hint:
                flags.append("idempotent")
            if a.open_world_hint:
                flags.append("open-world")
        sys.stdout.write(f"{t.name:32} {','.join(flags):40} {t.title or ''}\n")
    sys.stdout.write(f"{len(tools)} tools\n")


async def _doctor(app: Any, as_json: bool) -> int:
    checks = await app.runtime.health(timeout=5.0)
    if as_json:
        sys.stdout.write(orjson.dumps([c.__dict__ for c in checks], option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(f"{'module':12} {'status':13} {'latency':>9}  target / detail\n")
        for c in checks:
            lat = f"{c.latency_ms:.1f} ms" if c.latency_ms is not None else "-"
            sys.stdout.write(f"{c.module:12} {c.status:13} {lat:>9}  {c.target}: {c.detail}\n")
    return 0 if all(c.ok for c in checks) else 1


def exposure_warning(settings: AppSettings) -> str | None:
    """A warning when HTTP/SSE would be reachable beyond this machine without authentication."""
    import ipaddress

    if settings.transport == "stdio" or settings.auth_tokens is not None or settings.auth_issuer:
        return None
    host = settings.host.strip("[]")
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        return None
    return (
        f"serving on {settings.host}:{settings.port} without authentication: anyone who can reach it can call "
        "every exposed tool; set BAM_AUTH_TOKENS (and keep writes off unless needed)"
    )


def tls_kwargs(settings: AppSettings) -> dict[str, Any]:
    """uvicorn's TLS arguments for `--tls-cert`/`--tls-key` (both or neither)."""
    from composite.tls import tls_kwargs as kwargs

    return kwargs(settings)


def serve_app(app: Any) -> None:
    """Serve a built app over its configured transport until interrupted."""
    settings: AppSettings = app.settings
    if settings.transport == "stdio":
        from composite.stdio import run_stdio

        run_stdio(app.server, app.inflight, settings.shutdown_grace_s)
        return
    import logging

    warning = exposure_warning(settings)
    if warning:
        logging.getLogger("backend_architect_mcp.composite").warning(warning)

    if settings.workers > 1:
        from composite.workers import serve_workers

        serve_workers(settings)
        return
    from composite.app import http_app
    from composite.shutdown import serve

    serve(http_app(app, sse=True, streamable=settings.transport == "http"), settings, app.inflight)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
