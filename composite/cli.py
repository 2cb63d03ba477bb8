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
from composite.settings import AppSettings
from servers._common.version import VERSION

ALL = "all"


def _add_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--servers",
        help="modules to mount: postgres,redis,kubernetes,aws,docker, all, or auto (default: those whose backend "
        "is configured; all when none is) [BAM_SERVERS]",
    )
    p.add_argument(
        "--toolsets",
        metavar="SETS",
        help="toolsets to expose: default, all, <module> or <module>.<toolset>, comma-separated [BAM_TOOLSETS]",
    )
    p.add_argument(
        "--discovery",
        action="store_true",
        default=None,
        help="list a few meta-tools (search, describe, call) instead of every tool [BAM_DISCOVERY]",
    )
    p.add_argument(
        "--allow-writes",
        nargs="?",
        const=ALL,
        metavar="MODULES",
        help="expose write tools: for all modules, or only the comma-separated ones [BAM_ALLOW_WRITES]",
    )
    p.add_argument(
        "--allow-admin",
        nargs="?",
        const=ALL,
        metavar="MODULES",
        help="expose admin-level tools (raw admin commands, container exec) [BAM_ALLOW_ADMIN]",
    )
    p.add_argument(
        "--no-destructive",
        action="store_true",
        help="hide destructive tools even where writes are allowed [BAM_ALLOW_DESTRUCTIVE=false]",
    )
    p.add_argument(
        "--tools", metavar="GLOBS", help="only tools matching these globs, e.g. 'pg_*,redis_key_get' [BAM_TOOLS]"
    )
    p.add_argument("--exclude-tools", metavar="GLOBS", help="hide tools matching these globs [BAM_EXCLUDE_TOOLS]")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (stderr) [BAM_LOG_LEVEL]")


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
    serve.add_argument(
        "--transport",
        choices=["stdio", "http", "sse"],
        help="stdio (default); http serves /mcp, /sse, /healthz, /readyz; sse serves only SSE [BAM_TRANSPORT]",
    )
    serve.add_argument("--host", help="bind address for http/sse (default 127.0.0.1) [BAM_HOST]")
    serve.add_argument("--port", type=int, help="port for http/sse (default 8000) [BAM_PORT]")
    serve.add_argument(
        "--stateless",
        action="store_true",
        default=None,
        help="stateless streamable HTTP, for horizontal scaling [BAM_STATELESS]",
    )
    serve.add_argument(
        "--workers", type=int, help="worker processes on the port (http; implies --stateless) [BAM_WORKERS]"
    )
    serve.add_argument(
        "--json-response",
        action="store_true",
        default=None,
        help="plain JSON responses on /mcp instead of SSE streams [BAM_JSON_RESPONSE]",
    )
    serve.add_argument(
        "--require",
        metavar="MODULES",
        help="modules that must be up for /readyz to be 200 (default: the mounted ones; 'none') [BAM_REQUIRED]",
    )
    serve.add_argument(
        "--allowed-hosts",
        metavar="HOSTS",
        help="extra Host values accepted over HTTP, e.g. mcp.example.com:443 [BAM_ALLOWED_HOSTS]",
    )
    serve.add_argument(
        "--auth-tokens",
        metavar="TOKENS",
        help="require one of these bearer tokens on /mcp and /sse (comma-separated; prefer the "
        "variable) [BAM_AUTH_TOKENS]",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="external base URL, for the OAuth protected-resource metadata [BAM_PUBLIC_URL]",
    )
    _add_selection(serve)
    tools = sub.add_parser("tools", help="list the tools the current configuration exposes")
    tools.add_argument("--json", action="store_true", help="JSON with annotations and schemas")
    _add_selection(tools)
    doctor = sub.add_parser("doctor", help="check every configured backend; non-zero exit when one is down")
    doctor.add_argument("--json", action="store_true", help="JSON output")
    _add_selection(doctor)
    clientconfig.add_parser(sub, _add_selection)
    return p


def settings_from_args(args: argparse.Namespace) -> AppSettings:
    """Environment first, flags on top."""
    overrides: dict[str, Any] = {}
    mapping = {
        "servers": "servers",
        "toolsets": "toolsets",
        "discovery": "discovery",
        "allow_writes": "allow_writes",
        "allow_admin": "allow_admin",
        "tools": "tools",
        "exclude_tools": "exclude_tools",
        "log_level": "log_level",
        "transport": "transport",
        "host": "host",
        "port": "port",
        "stateless": "stateless",
        "workers": "workers",
        "json_response": "json_response",
        "require": "required",
        "allowed_hosts": "allowed_hosts",
        "auth_tokens": "auth_tokens",
        "public_url": "public_url",
    }
    for arg, field in mapping.items():
        value = getattr(args, arg, None)
        if value is not None:
            overrides[field] = value
    if getattr(args, "no_destructive", False):
        overrides["allow_destructive"] = False
    return AppSettings(**overrides)


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
        _fail(str(exc))
    if command == "config":
        try:
            sys.stdout.write(clientconfig.render(args, settings))
        except ValueError as exc:
            _fail(str(exc))
        return
    from servers._common.logs import configure_logging

    configure_logging(settings.log_level)
    from composite.metrics import configure_tracing

    configure_tracing()
    from composite.app import build

    gc.disable()  # perf: start-up allocates a great many objects and frees few, so collecting during it is waste
    try:
        app = build(settings)
    except ValueError as exc:
        _fail(str(exc))
    finally:
        gc.enable()
    gc.freeze()  # perf: what start-up built lives as long as the process; later collections skip it
    if command == "tools":
        anyio.run(_print_tools, app, args.json)
    elif command == "doctor":
        raise SystemExit(anyio.run(_doctor, app, args.json))
    else:
        _serve(app)


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

    if settings.transport == "stdio" or settings.auth_tokens is not None:
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


def _serve(app: Any) -> None:
    settings: AppSettings = app.settings
    if settings.transport == "stdio":
        from composite.stdio import run_stdio

        run_stdio(app.server)
        return
    import logging

    import uvicorn

    warning = exposure_warning(settings)
    if warning:
        logging.getLogger("backend_architect_mcp.composite").warning(warning)

    if settings.workers > 1:
        from composite.workers import serve_workers

        serve_workers(settings)
        return
    from composite.app import http_app

    asgi = http_app(app, sse=True, streamable=settings.transport == "http")
    config = uvicorn.Config(
        asgi, host=settings.host, port=settings.port, log_level="warning", lifespan="on", access_log=False
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
