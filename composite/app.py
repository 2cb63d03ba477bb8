"""Build the composite server: mount the enabled modules, one shared lifespan, the role prompt, HTTP app."""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from composite import modules as registry
from composite.settings import AppSettings
from composite.toolcache import register_module
from servers._common import Health, ModuleInfo, ToolPolicy
from servers._common.logs import ToolCallLog
from servers._common.version import VERSION

log = logging.getLogger("backend_architect_mcp.composite")

PROMPT_NAME = "backend_architect"
PROMPT_URI = "prompt://backend-architect/system"


def role_text() -> str:
    """The role's system prompt, from the packaged markdown file."""
    return importlib_resources.files("composite").joinpath("prompts/backend_architect.md").read_text().strip()


class StaticTokenVerifier:
    """Accepts the bearer tokens given in `--auth-tokens` (compared in constant time)."""

    def __init__(self, tokens: str) -> None:
        self._tokens = [t.strip() for t in tokens.split(",") if t.strip()]
        if not self._tokens:
            raise ValueError("BAM_AUTH_TOKENS is set but holds no token")

    async def verify_token(self, token: str) -> Any:
        from mcp.server.auth.provider import AccessToken

        for i, known in enumerate(self._tokens):
            if hmac.compare_digest(token.encode(), known.encode()):
                return AccessToken(token=token, client_id=f"static-token-{i + 1}", scopes=[])
        return None


@dataclass
class MountedModule:
    info: ModuleInfo
    tools: list[str]
    writes: bool


@dataclass
class Runtime:
    """Opens every module's resources once, however many sessions or transports attach to it."""

    modules: list[ModuleInfo]
    state: dict[str, Any] = field(default_factory=dict)
    _refs: int = 0
    _stack: AsyncExitStack | None = None
    _lock: anyio.Lock = field(default_factory=anyio.Lock)

    @asynccontextmanager
    async def attach(self) -> AsyncIterator[dict[str, Any]]:
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


def system_prompt(mounted: list[MountedModule], focus: str | None = None, context: str | None = None) -> str:
    parts = [role_text(), describe_mounted(mounted)]
    if focus:
        parts.append(f"Focus area for this session: {focus.strip()}")
    if context:
        parts.append(f"Context from the user: {context.strip()}")
    return "\n\n".join(parts)


def build(settings: AppSettings | None = None) -> Composite:
    """The composite server for `settings` (default: from the environment)."""
    settings = settings or AppSettings()
    infos = [registry.load(name) for name in registry.normalize(settings.servers)]
    policy: ToolPolicy = settings.model_copy(
        update={
            "allow_writes": registry.normalize_policy_modules(settings.allow_writes),
            "allow_admin": registry.normalize_policy_modules(settings.allow_admin),
        }
    ).policy()
    runtime = Runtime(infos)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[dict[str, Any]]:
        async with runtime.attach() as state:
            yield state

    auth_kwargs: dict[str, Any] = {}
    if settings.auth_tokens is not None:
        from mcp.server.auth.settings import AuthSettings

        base = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
        auth_kwargs = {
            "token_verifier": StaticTokenVerifier(settings.auth_tokens.get_secret_value()),
            "auth": AuthSettings(
                issuer_url=base,  # type: ignore[arg-type]
                resource_server_url=f"{base}/mcp",  # type: ignore[arg-type]
                validate_token_resource=False,
            ),
        }

    server: MCPServer[Any] = MCPServer(
        "backend-architect-mcp",
        title="Backend Architect",
        description="PostgreSQL, Redis, Kubernetes, AWS and Docker tools for backend engineering.",
        version=VERSION,
        lifespan=lifespan,
        log_level="WARNING",
        middleware=[ToolCallLog()],
        **auth_kwargs,
    )
    mounted = [
        MountedModule(info, register_module(server, info, policy), policy.writes_allowed(info.key)) for info in infos
    ]
    instructions = system_prompt(mounted)
    server._lowlevel_server.instructions = instructions  # set after registration: it lists what is mounted

    def backend_architect(
        focus: Annotated[
            str | None, Field(description="Optional focus area, e.g. 'query optimisation' or 'caching'")
        ] = None,
        context: Annotated[str | None, Field(description="Optional project context to add")] = None,
    ) -> str:
        """The Backend Architect role: system prompt for schema design, API efficiency and microservices."""
        return system_prompt(mounted, focus, context)

    server.prompt(name=PROMPT_NAME, title="Backend Architect (system prompt)")(backend_architect)
    server.resource(
        PROMPT_URI,
        name="backend_architect_system_prompt",
        title="Backend Architect system prompt",
        description="The role's system prompt for the modules mounted in this server.",
        mime_type="text/markdown",
    )(lambda: instructions)
    return Composite(server, runtime, mounted, settings)


def _transport_security(settings: AppSettings) -> TransportSecuritySettings | None:
    extra = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    if not extra:
        return None  # the SDK's default: DNS-rebinding protection on for loopback binds
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", *extra]
    origins = [f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def http_app(app: Composite, *, sse: bool = True, streamable: bool = True) -> Starlette:
    """One ASGI app: `/mcp` (streamable HTTP), `/sse` + `/messages/` (legacy SSE), `/healthz`, `/readyz`."""
    settings = app.settings
    security = _transport_security(settings)
    required = (
        registry.normalize(None if settings.required == "all" else settings.required)
        if (settings.required.strip().lower() not in ("", "none"))
        else []
    )

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
    ]
    middleware: list[Middleware] = []
    if streamable:
        mcp_app = app.server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=settings.stateless,
            json_response=settings.json_response,
            transport_security=security,
            host=settings.host,
        )
        routes.extend(mcp_app.routes)
        middleware = list(mcp_app.user_middleware)  # bearer authentication, when configured
    if sse:
        sse_app = app.server.sse_app(transport_security=security, host=settings.host)
        routes.extend([r for r in sse_app.routes if not any(_same_path(r, x) for x in routes)])
        middleware = middleware or list(sse_app.user_middleware)

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
