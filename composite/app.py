"""Build the composite server: mount the enabled modules, one shared lifespan, the role prompt, HTTP app."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from importlib import resources as importlib_resources
from typing import Annotated, Any

import anyio
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field, SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from composite import auth
from composite import modules as registry
from composite.audit import AuditLog
from composite.cancellation import cancel_on_disconnect
from composite.gate import gate_middleware, server_guards
from composite.limits import CallLimits
from composite.metrics import ToolMetrics, metrics_endpoint
from composite.selection import ToolIndex, install_request_selection
from composite.settings import AppSettings
from composite.shutdown import InFlightCalls
from servers._common import Health, ModuleInfo, ModuleState, ToolPolicy
from servers._common.logs import ToolCallLog
from servers._common.tools import install_lean_results, skip_idle_tracing
from servers._common.version import VERSION
from servers.registry import load

log = logging.getLogger("backend_architect_mcp.composite")

PROMPT_NAME = "backend_architect"
PROMPT_URI = "prompt://backend-architect/system"
LIST_CACHE_HINT = CacheHint(ttl_ms=3_600_000, scope="private")
"""The tool list is fixed for the life of the process; `private` because a request may narrow its view."""


def role_text() -> str:
    """The role's system prompt, from the packaged markdown file."""
    return importlib_resources.files("composite").joinpath("prompts/backend_architect.md").read_text().strip()


@dataclass
class MountedModule:
    info: ModuleInfo
    tools: list[str]
    writes: bool


@dataclass
class Runtime:
    """Opens every module's resources once, however many sessions or transports attach to it."""

    modules: list[ModuleInfo]
    state: dict[str, ModuleState] = field(default_factory=dict)
    _refs: int = 0
    _stack: AsyncExitStack | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @asynccontextmanager
    async def attach(self) -> AsyncIterator[dict[str, ModuleState]]:
        async with self._lock:
            if self._refs == 0:
                stack = AsyncExitStack()
                try:
                    for m in self.modules:
                        self.state[m.key] = await stack.enter_async_context(m.resources())
                except BaseException:
                    await stack.aclose()
                    self.state.clear()
                    raise
                self._stack = stack
                log.info("resources opened for %s", ",".join(m.key for m in self.modules))
            self._refs += 1
        try:
            yield self.state
        finally:
            async with self._lock:
                self._refs -= 1
                if self._refs == 0 and self._stack is not None:
                    stack, self._stack = self._stack, None
                    with anyio.CancelScope(shield=True):
                        await stack.aclose()
                    self.state.clear()
                    log.info("resources closed")

    async def health(self, timeout: float = 2.0) -> list[Health]:
        """Probe every mounted backend concurrently."""
        results: dict[str, Health] = {}
        async with self.attach() as state:

            async def probe(key: str) -> None:
                results[key] = await state[key].check(timeout)

            async with anyio.create_task_group() as tg:
                for m in self.modules:
                    tg.start_soon(probe, m.key)
        return [results[m.key] for m in self.modules]


@dataclass
class Composite:
    server: MCPServer[Any]
    runtime: Runtime
    mounted: list[MountedModule]
    settings: AppSettings
    index: ToolIndex
    reasons: dict[str, str]
    """Why each module was mounted (the variable or file that configures it, or `--servers`)."""
    required: list[str]
    """Modules whose backend must be up for /readyz to answer 200."""
    metrics: ToolMetrics = field(default_factory=ToolMetrics)
    verifier: auth.Verifiers | None = None
    """Bearer-token verification over HTTP (None: no authentication)."""
    scopes: list[str] = field(default_factory=list)
    """The scopes that mean something here (RFC 9728 `scopes_supported`)."""
    meta: dict[str, bool] = field(default_factory=dict)
    """The discovery meta-tools, mapped to whether they only read."""
    audit: AuditLog | None = None
    limits: CallLimits | None = None
    inflight: InFlightCalls = field(default_factory=InFlightCalls)
    """The tool calls in flight, which a graceful shutdown waits for and then cancels."""

    @property
    def tool_names(self) -> list[str]:
        return [t for m in self.mounted for t in m.tools]


def describe_mounted(mounted: list[MountedModule]) -> str:
    """The tool-family part of the role prompt, generated from what is actually mounted."""
    lines = ["Tool families available in this session:"]
    for m in mounted:
        mode = "reads and writes" if m.writes else "read-only"
        lines.append(f"- `{m.info.prefix}*` ({m.info.title}, {mode}, {len(m.tools)} tools): {m.info.summary}")
    if not mounted:
        lines.append("- none (no module is mounted)")
    return "\n".join(lines)


DISCOVERY_NOTE = (
    "Discovery mode: find tools with `tools_search`, read their schemas with `tools_describe`, then run "
    "them with `tool_call` (read-only tools) or `tool_call_write` (tools that change state, when listed)."
)


def system_prompt(
    mounted: list[MountedModule], focus: str | None = None, context: str | None = None, *, discovery: bool = False
) -> str:
    parts = [role_text(), describe_mounted(mounted)]
    if discovery:
        parts.append(DISCOVERY_NOTE)
    if focus:
        parts.append(f"Focus area for this session: {focus.strip()}")
    if context:
        parts.append(f"Context from the user: {context.strip()}")
    return "\n\n".join(parts)


def tool_policy(settings: AppSettings, only: frozenset[str] | None = None) -> ToolPolicy:
    """The exposure policy of `settings` (module aliases resolved), limited to the `only` tool names if given."""
    normalized = settings.model_copy(
        update={
            "allow_writes": registry.normalize_policy_modules(settings.allow_writes),
            "allow_admin": registry.normalize_policy_modules(settings.allow_admin),
        }
    )
    return replace(normalized.policy(), only=only)


def selection_warnings(settings: AppSettings, catalog: list[registry.ModuleTools], exposed: list[str]) -> list[str]:
    """Warnings for `--tools` / `--exclude-tools` globs that match nothing (a typo hides nothing, or all)."""
    known = [f"{m.prefix}{n}" for m in catalog for n in m.names]
    out: list[str] = []
    for flag, value in (("--tools", settings.tools), ("--exclude-tools", settings.exclude_tools)):
        for glob in [g.strip() for g in value.split(",") if g.strip()]:
            if not any(fnmatch.fnmatchcase(n, glob) for n in known):
                out.append(f"{flag} pattern {glob!r} matches no tool of the mounted modules")
            elif flag == "--tools" and not any(fnmatch.fnmatchcase(n, glob) for n in exposed):
                out.append(f"{flag} pattern {glob!r} matches only tools hidden by the write/admin policy or toolsets")
    return out


@dataclass
class CallGuards:
    """What every served server checks and tracks a call with, for the composite and `python -m servers.<name>`
    alike: bearer authentication, the audit log, call limits, and the calls in flight (graceful shutdown)."""

    settings: AppSettings
    """The settings, with static tokens replaced by their digests."""
    verifier: auth.Verifiers | None
    audit: AuditLog | None
    limits: CallLimits | None
    inflight: InFlightCalls

    def middleware(self, metrics: ToolMetrics) -> list[Any]:
        """The server middleware after the call log: metrics, audit, limits, in-flight tracking."""
        return [metrics, *(g for g in (self.audit, self.limits) if g is not None), self.inflight]

    def server_kwargs(self) -> dict[str, Any]:
        """`MCPServer` arguments of the bearer authentication (none without it)."""
        return auth.auth_kwargs(self.settings, self.verifier)

    def scopes(self, keys: list[str], policy: ToolPolicy) -> list[str]:
        """The scopes that mean something for the modules `keys` under `policy`."""
        writes = {k: policy.writes_allowed(k) for k in keys}
        return auth.scopes_supported(keys, writes, {k: policy.admin_allowed(k) for k in keys})


def call_guards(settings: AppSettings) -> CallGuards:
    """The `CallGuards` of `settings` (errors: settings that cannot be applied)."""
    verifier = auth.build_verifier(settings)
    if verifier is not None and verifier.static is not None:  # from here on, only the tokens' digests
        settings = settings.model_copy(update={"auth_tokens": SecretStr(auth.hashed_spec(verifier.static.entries))})
    audit, limits = server_guards(settings)
    return CallGuards(settings, verifier, audit, limits, InFlightCalls())


def _new_server(
    runtime: Runtime, metrics: ToolMetrics, instructions: str, tools: list[Tool], guards: CallGuards
) -> MCPServer[Any]:
    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with runtime.attach() as state:
            yield state

    return MCPServer(
        "backend-architect-mcp",
        title="Backend Architect",
        description="PostgreSQL, Redis, Kubernetes, AWS and Docker tools for backend engineering.",
        instructions=instructions,
        version=VERSION,
        tools=tools,
        lifespan=lifespan,
        log_level="WARNING",
        middleware=[ToolCallLog(), *guards.middleware(metrics)],
        cache_hints={"tools/list": LIST_CACHE_HINT, "prompts/list": LIST_CACHE_HINT},
        **guards.server_kwargs(),
    )


def build(settings: AppSettings | None = None) -> Composite:
    """The composite server for `settings` (default: from the environment)."""
    settings = settings or AppSettings()
    keys, reasons = registry.resolve_servers(settings.servers)
    infos = [load(k) for k in keys]
    catalog = [registry.module_tools(k) for k in keys]
    selected = registry.resolve_toolsets(settings.toolsets, catalog)
    policy = tool_policy(settings, registry.toolset_tool_names(selected, catalog))
    tools = {info.key: info.tools(policy) for info in infos}
    mounted = [
        MountedModule(info, [t.name for t in tools[info.key]], policy.writes_allowed(info.key)) for info in infos
    ]
    index = ToolIndex(catalog, [t for m in mounted for t in tools[m.info.key]])
    # Discovery mode serves meta-tools over the index instead of the module tools.
    served = _discovery_tools(index, keys) if settings.discovery else list(index.tools())
    meta = {t.name: bool(t.annotations and t.annotations.read_only_hint) for t in served} if settings.discovery else {}
    instructions = system_prompt(mounted, discovery=settings.discovery)
    runtime = Runtime(infos)
    metrics = ToolMetrics()
    guards = call_guards(settings)
    settings = guards.settings
    server = _new_server(runtime, metrics, instructions, served, guards)
    install_request_selection(server, index, meta, lambda request: auth.identity_for(auth.token_of(request), settings))
    install_lean_results(server)
    skip_idle_tracing(server)
    for m in mounted:
        log.info(
            "mounted %s (%s): %d tools%s",
            m.info.key,
            reasons.get(m.info.key, ""),
            len(m.tools),
            ", writes allowed" if m.writes else "",
        )
    for warning in selection_warnings(settings, catalog, index.names()):
        log.warning(warning)
    metrics.set_tools({**{t: m.info.key for m in mounted for t in m.tools}, **dict.fromkeys(meta, "discovery")})
    _add_prompt(server, mounted, instructions, settings.discovery)
    required = required_modules(settings.required, keys)
    return Composite(
        server,
        runtime,
        mounted,
        settings,
        index,
        reasons,
        required,
        metrics,
        guards.verifier,
        guards.scopes(keys, policy),
        meta,
        guards.audit,
        guards.limits,
        guards.inflight,
    )


def _discovery_tools(index: ToolIndex, keys: list[str]) -> list[Tool]:
    from composite.discovery import discovery_tools  # perf: its models are only built in discovery mode

    return discovery_tools(index, keys, index.has_writes())


def required_modules(value: str, mounted: list[str]) -> list[str]:
    """`--require`: `mounted` (default; `all` means the same), `none`, or a list of mounted modules."""
    v = value.strip().lower()
    if v in ("", "mounted", "all"):
        return list(mounted)
    if v == "none":
        return []
    wanted = registry.normalize(value)
    missing = [m for m in wanted if m not in mounted]
    if missing:
        raise ValueError(f"--require names modules that are not mounted: {', '.join(missing)}")
    return wanted


def _add_prompt(server: MCPServer[Any], mounted: list[MountedModule], instructions: str, discovery: bool) -> None:
    def backend_architect(
        focus: Annotated[
            str | None, Field(description="Optional focus area, e.g. 'query optimisation' or 'caching'")
        ] = None,
        context: Annotated[str | None, Field(description="Optional project context to add")] = None,
    ) -> str:
        """The Backend Architect role: system prompt for schema design, API efficiency and microservices."""
        return system_prompt(mounted, focus, context, discovery=discovery)

    server.prompt(name=PROMPT_NAME, title="Backend Architect (system prompt)")(backend_architect)
    server.resource(
        PROMPT_URI,
        name="backend_architect_system_prompt",
        title="Backend Architect system prompt",
        description="The role's system prompt for the modules mounted in this server.",
        mime_type="text/markdown",
    )(lambda: instructions)


def _transport_security(settings: AppSettings) -> TransportSecuritySettings | None:
    extra = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    if not extra:
        return None  # the SDK's default: DNS-rebinding protection on for loopback binds
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *extra]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def http_app(app: Composite, *, sse: bool = True, streamable: bool = True) -> Starlette:
    """One ASGI app: `/mcp` (streamable HTTP), `/sse` + `/messages/` (legacy SSE), `/healthz`, `/readyz`, `/metrics`."""
    settings = app.settings
    security = _transport_security(settings)
    required = app.required

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": VERSION})

    async def readyz(_: Request) -> JSONResponse:
        checks = await app.runtime.health()
        down = [h.module for h in checks if not h.ok and h.module in required]
        body = {
            "status": "ready" if not down else "not ready",
            "modules": {
                h.module: {
                    "status": h.status,
                    "target": h.target,
                    "detail": h.detail,
                    "latency_ms": h.latency_ms,
                    "required": h.module in required,
                }
                for h in checks
            },
        }
        return JSONResponse(body, status_code=503 if down else 200)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint(app.metrics, app.runtime), methods=["GET"]),
    ]
    middleware: list[Middleware] = []
    if streamable:
        mcp_app = app.server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=settings.stateless,
            json_response=settings.json_response,
            transport_security=security,
            host=settings.host,
            max_sessions=settings.max_sessions,
            session_idle_timeout=settings.session_idle_s,
        )
        routes[:0] = cancel_on_disconnect(mcp_app.routes)  # first: `/mcp` is what nearly every request asks for
        middleware = list(mcp_app.user_middleware)  # bearer authentication, when configured
    if sse:
        sse_app = app.server.sse_app(transport_security=security, host=settings.host)
        routes.extend([r for r in sse_app.routes if not any(_same_path(r, x) for x in routes)])
        middleware = middleware or list(sse_app.user_middleware)
    middleware.append(gate_middleware(app, security))  # after authentication: knows the caller

    routes, middleware = _auth_http(app, routes, middleware)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.runtime.attach())
            if streamable:
                await stack.enter_async_context(app.server.session_manager.run())
            yield

    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def _same_path(a: BaseRoute, b: BaseRoute) -> bool:
    return getattr(a, "path", None) is not None and getattr(a, "path", None) == getattr(b, "path", None)


def _auth_http(
    app: Composite, routes: list[BaseRoute], middleware: list[Middleware]
) -> tuple[list[BaseRoute], list[Middleware]]:
    """Our own RFC 9728 metadata (JWT mode only) and the 403 gate for calls outside the token's scopes."""
    verifier = app.verifier
    if verifier is None:
        return routes, middleware
    routes = [r for r in routes if not str(getattr(r, "path", "")).startswith(auth.METADATA_PATH)]
    metadata_url = None
    if verifier.jwt is not None:
        routes.append(auth.metadata_route(app.settings, app.scopes))
        metadata_url = f"{auth.base_url(app.settings)}{auth.METADATA_PATH}/mcp"
    index, meta = app.index, app.meta

    def needed(name: Any, arguments: dict[str, Any], grants: auth.Grants) -> str | None:
        return index.scope_needed(name, arguments, grants, meta)

    gate = Middleware(auth.ScopeGate, needed=needed, metadata_url=metadata_url)  # after authentication
    return routes, [*middleware, gate]
