"""The ASGI gate in front of `/mcp`, `/sse` and `/messages/`: rejections as one JSON line each, call limits
decided before anything runs (429 + Retry-After), and a cap and idle timeout for SSE connections.

Host and Origin are checked with the SDK's own `TransportSecurityMiddleware` rules before the SDK sees the
request, so a bad Host on `/sse` is answered 421 and logged once instead of raising a traceback. Answers
401/403 of the bearer-token layer (bad or missing token, missing scope) are logged once each too.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from composite.audit import AuditLog
from composite.body import read_body
from composite.identity import caller_identity
from composite.limits import ADMITTED, CallLimits, Refusal

log = logging.getLogger("backend_architect_mcp.gate")

LOOPBACK_BINDS = ("127.0.0.1", "localhost", "::1")
SESSION_ID = re.compile(rb"session_id=([0-9a-f]{32})")
AUTH_ERROR = re.compile(r'error="([a-z_]{1,40})"')


def effective_security(security: TransportSecuritySettings | None, host: str) -> TransportSecuritySettings | None:
    """What the SDK's transports enforce: the given settings, or DNS-rebinding protection on loopback binds."""
    if security is None and host in LOOPBACK_BINDS:
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
    return security


@dataclass
class SseConnection:
    last: float
    session: str | None = None


def rejection(scope: Scope, reason: str, status: int, **extra: Any) -> None:
    """The one log line of a rejected request."""
    client = scope.get("client")
    fields = {
        "event": "request_rejected",
        "reason": reason,
        "status": status,
        "method": scope.get("method"),
        "path": str(scope.get("path", ""))[:128],
        "client": client[0] if client else None,
        **extra,
    }
    log.warning("request rejected: %s", reason, extra={"fields": fields})


async def respond(send: Send, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
    data = orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def tool_calls(body: bytes) -> list[Mapping[str, Any]]:
    """The tools/call requests in a JSON-RPC body (one message or a batch); none when it does not parse."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    messages = data if isinstance(data, list) else [data]
    return [m for m in messages if isinstance(m, dict) and m.get("method") == "tools/call"]


class RequestGate:
    """ASGI middleware; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        security: TransportSecuritySettings | None,
        limits: CallLimits | None = None,
        audit: AuditLog | None = None,
        auth_required: bool = False,
        max_sse: int | None = None,
        sse_idle_s: float | None = None,
        mcp_path: str = "/mcp",
        sse_path: str = "/sse",
        messages_path: str = "/messages/",
    ) -> None:
        self.app = app
        self.security = TransportSecurityMiddleware(security) if security else None
        self.limits, self.audit, self.auth_required = limits, audit, auth_required
        self.max_sse, self.sse_idle_s = max_sse, sse_idle_s
        self.mcp_path, self.sse_path, self.messages_path = mcp_path, sse_path, messages_path
        self.sse_open = 0
        self.sse_sessions: dict[str, SseConnection] = {}
        # This gate logs each Host/Origin rejection itself (one line); the SDK's check then always passes.
        logging.getLogger("mcp.server.transport_security").setLevel(logging.ERROR)

    def _guarded(self, path: str) -> bool:
        return path in (self.mcp_path, self.sse_path) or path.startswith(self.messages_path.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if await self._bad_host_or_origin(scope, send):
            return
        send = self._watch_auth(scope, send)
        method, path = scope.get("method"), scope.get("path", "")
        if method == "GET" and path == self.sse_path:
            await self._sse(scope, receive, send)
            return
        if method == "POST" and path != self.sse_path:
            self._touch_sse(scope)
            if self.limits is not None and self._identified(scope):
                await self._limited(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _bad_host_or_origin(self, scope: Scope, send: Send) -> bool:
        if self.security is None:
            return False
        error = await self.security.validate_request(Request(scope), is_post=False)
        if error is None:
            return False
        reason = "invalid_host" if error.status_code == 421 else "invalid_origin"
        headers = dict(Request(scope).headers)
        value = headers.get("host" if reason == "invalid_host" else "origin", "")
        rejection(scope, reason, error.status_code, value=value[:100])
        await respond(send, error.status_code, {"error": reason})
        return True

    def _watch_auth(self, scope: Scope, send: Send) -> Send:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                challenge = dict(message.get("headers", [])).get(b"www-authenticate", b"").decode("latin-1")
                if challenge:
                    m = AUTH_ERROR.search(challenge)
                    rejection(scope, m.group(1) if m else "unauthorized", message["status"])
            await send(message)

        return watched

    def _identified(self, scope: Scope) -> bool:
        """Whether the request has a caller to count against (unauthenticated ones are refused 401 later)."""
        return not self.auth_required or isinstance(scope.get("user"), AuthenticatedUser)

    async def _limited(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, receive = await read_body(receive, DEFAULT_MAX_REQUEST_BODY_SIZE)
        calls = tool_calls(body) if body is not None else []
        if not calls:
            await self.app(scope, receive, send)
            return
        assert self.limits is not None
        subject, _ = caller_identity()
        refusal = await self.limits.admit(subject, len(calls))
        if refusal is not None:
            await self._refuse(scope, send, refusal, calls)
            return
        token = ADMITTED.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            ADMITTED.reset(token)

    async def _refuse(self, scope: Scope, send: Send, refusal: Refusal, calls: list[Mapping[str, Any]]) -> None:
        if self.audit is not None:
            for call in calls:
                self.audit.refused(call, refusal.code)
        rejection(scope, refusal.code, refusal.status, retry_after=refusal.retry_after)
        body = {
            "jsonrpc": "2.0",
            "id": calls[0].get("id"),
            "error": {"code": -32000, "message": f"{refusal.message}; retry in {refusal.retry_after} s"},
        }
        await respond(send, refusal.status, body, {"retry-after": str(refusal.retry_after)})

    def _touch_sse(self, scope: Scope) -> None:
        m = SESSION_ID.search(scope.get("query_string", b""))
        conn = self.sse_sessions.get(m.group(1).decode()) if m else None
        if conn is not None:
            conn.last = time.monotonic()

    async def _sse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.max_sse is not None and self.sse_open >= self.max_sse:
            rejection(scope, "too_many_sessions", 503)
            await respond(send, 503, {"error": "too_many_sessions", "open": self.sse_open}, {"retry-after": "5"})
            return
        conn = SseConnection(time.monotonic())
        state = {"started": False, "done": False}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if conn.session is None and (m := SESSION_ID.search(chunk)):
                    conn.session = m.group(1).decode()
                    self.sse_sessions[conn.session] = conn
                if b"event: message" in chunk:
                    conn.last = time.monotonic()
                state["done"] = not message.get("more_body", False)
            await send(message)

        self.sse_open += 1
        try:
            async with anyio.create_task_group() as tg:
                if self.sse_idle_s:
                    tg.start_soon(self._reap_idle, conn, tg.cancel_scope)
                await self.app(scope, receive, tracked)
                tg.cancel_scope.cancel()
            if state["started"] and not state["done"]:  # closed for idleness: end the stream cleanly
                with anyio.CancelScope(shield=True), _suppress_disconnect():
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.sse_open -= 1
            if conn.session is not None:
                self.sse_sessions.pop(conn.session, None)

    async def _reap_idle(self, conn: SseConnection, scope: anyio.CancelScope) -> None:
        assert self.sse_idle_s is not None
        while True:
            left = conn.last + self.sse_idle_s - time.monotonic()
            if left <= 0:
                log.info(
                    "SSE session idle for %.0f s: closed", self.sse_idle_s, extra={"fields": {"event": "sse_idle"}}
                )
                scope.cancel()
                return
            await anyio.sleep(left)


class _suppress_disconnect:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], (OSError, RuntimeError))  # type: ignore[arg-type]


def server_guards(settings: Any) -> tuple[AuditLog | None, CallLimits | None]:
    """The audit log and call limits `settings` ask for (errors: settings that cannot be applied)."""
    from composite.audit import AuditSink
    from composite.limits import call_limits

    audit = AuditLog(AuditSink(settings.audit_log)) if settings.audit_log else None
    url = settings.rate_limit_redis.get_secret_value() if settings.rate_limit_redis else None
    limits = call_limits(settings.rate_limit, settings.max_concurrent_calls, url, settings.rate_limit_prefix)
    return audit, limits


def gate_middleware(app: Any, security: TransportSecuritySettings | None) -> Any:
    """The `RequestGate` of the composite `app` (a `composite.app.Composite`), as Starlette middleware."""
    from starlette.middleware import Middleware

    s = app.settings
    return Middleware(
        RequestGate,
        security=effective_security(security, s.host),
        limits=app.limits,
        audit=app.audit,
        auth_required=app.server._token_verifier is not None,
        max_sse=s.max_sessions,
        sse_idle_s=s.session_idle_s,
    )
