"""The command line of `python -m servers.<name>`: the flags of `backend-architect-mcp serve`, one module."""

from __future__ import annotations

import argparse
import sys

from composite import cli
from composite import modules as registry
from composite.app import Composite, MountedModule, Runtime, call_guards, tool_policy
from composite.metrics import ToolMetrics, configure_tracing
from composite.selection import ToolIndex
from composite.settings import AppSettings
from servers._common.logs import configure_logging
from servers._common.module import ModuleInfo
from servers._common.standalone import build_standalone
from servers._common.version import VERSION


def serve_parser(info: ModuleInfo) -> argparse.ArgumentParser:
    """The composite's `serve` flags (every one it has, now and later), named for this module."""
    p = argparse.ArgumentParser(
        prog=f"python -m servers.{info.key}",
        description=f"Serve the {info.title} tools of backend-architect-mcp alone (stdio by default).",
    )
    cli.add_serve_flags(p)
    p.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    return p


def build_module(info: ModuleInfo, settings: AppSettings) -> Composite:
    """One module's server with the composite's pieces: shared runtime, metrics, health, and the same call
    guards (authentication, audit, limits, in-flight tracking for the graceful shutdown)."""
    policy = tool_policy(settings)
    runtime = Runtime([info])
    metrics = ToolMetrics()
    guards = call_guards(settings)
    tools = info.tools(policy)
    server = build_standalone(
        info, tools, attach=runtime.attach, middleware=guards.middleware(metrics), **guards.server_kwargs()
    )
    names = [t.name for t in tools]
    metrics.set_tools(dict.fromkeys(names, info.key))
    index = ToolIndex([registry.module_tools(info.key)], tools)
    mounted = [MountedModule(info, names, policy.writes_allowed(info.key))]
    return Composite(
        server,
        runtime,
        mounted,
        guards.settings,
        index,
        {info.key: "this entry point"},
        [info.key],
        metrics,
        guards.verifier,
        guards.scopes([info.key], policy),
        audit=guards.audit,
        limits=guards.limits,
        inflight=guards.inflight,
    )


def main(info: ModuleInfo, argv: list[str] | None = None) -> None:
    args = serve_parser(info).parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        settings = cli.settings_from_args(args)
        if args.servers is not None and registry.normalize(args.servers) != [info.key]:
            raise ValueError(f"this entry point serves only {info.key}; use `backend-architect-mcp serve --servers`")
        settings = settings.model_copy(update={"servers": info.key})
        configure_logging(settings.log_level)
        configure_tracing()
        app = build_module(info, settings)
    except ValueError as exc:
        sys.stderr.write(f"python -m servers.{info.key}: {exc}\n")
        raise SystemExit(2) from None
    cli.settle_gc()
    cli.serve_app(app)
