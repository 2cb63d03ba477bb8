"""The ASGI gate in front of `/mcp`, `/sse` and `/messages/`: rejections as one JSON line each, call limits
decided before anything runs (429 + Retry-After), and a cap and idle timeout for SSE connections.

Host and Origin are checked with the rules of the SDK's `TransportSecurityMiddleware` (`HostRules`, on the raw
headers) before the SDK sees the request, so a bad Host on `/sse` is answered 421 and logged once instead of
raising a traceback. Answers 401/403 of the bearer-token layer (bad or missing token, missing scope) are
logged once each too. The call limits look into the POSTed message as `composite.body` read it (once per
request, shared with the scope gate and the disconnect watcher).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import anyio
import orjson
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from composite.audit import AuditLog
from composite.body import MAX_BODY, read_body
from composite.identity import caller_identity
from composite.limits import ADMITTED, CallLimits, Refusal
from composite.stdio import invalid_body

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


class HostRules:
    """The SDK's Host/Origin rules (`TransportSecurityMiddleware`), checked on the raw ASGI headers.

    Same verdicts as the SDK's own check, which runs again inside the transport: a Host that is missing or
    not allowed is 421, an Origin that is present and not allowed is 403. An allowed value matches exactly
    or, for an entry `base:*`, starts with `base:`.
    """

    def __init__(self, security: TransportSecuritySettings) -> None:
        self.hosts, self.host_prefixes = _rules(security.allowed_hosts)
        self.origins, self.origin_prefixes = _rules(security.allowed_origins)

    def refusal(self, scope: Scope) -> tuple[str, int, str] | None:
        """`(reason, status, offending value)` for a request the SDK would refuse; None when it passes."""
        host = origin = None
        for key, value in scope.get("headers", ()):
            if key == b"host" and host is None:
                host = value.decode("latin-1")
            elif key == b"origin" and origin is None:
                origin = value.decode("latin-1")
        if not host or not (host in self.hosts or host.startswith(self.host_prefixes)):
            return "invalid_host", 421, host or ""
        if origin and not (origin in self.origins or origin.startswith(self.origin_prefixes)):
            return "invalid_origin", 403, origin
        return None


def _rules(allowed: list[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact values, and the `base:` prefixes of the `base:*` entries."""
    return frozenset(allowed), tuple(a[:-1] for a in allowed if a.endswith(":*"))


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
        self.security = HostRules(security) if security and security.enable_dns_rebinding_protection else None
        self.limits, self.audit, self.auth_required = limits, audit, auth_required
        self.max_sse, self.sse_idle_s = max_sse, sse_idle_s
        self.mcp_path, self.sse_path, self.messages_path = mcp_path, sse_path, messages_path
        self.sse_open = 0
        self.sse_sessions: dict[str, SseConnection] = {}
        self.sse_app = LoggedRejections(app)
        # This gate logs each Host/Origin rejection itself (one line); the SDK's check then always passes.
        logging.getLogger("mcp.server.transport_security").setLevel(logging.ERROR)
        # ... and each rejection of the SSE transport (its warnings would be a second line for the same one).
        logging.getLogger("mcp.server.sse").setLevel(logging.ERROR)

    def _guarded(self, path: str) -> bool:
        return path in (self.mcp_path, self.sse_path) or path.startswith(self.messages_path.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if await self._bad_host_or_origin(scope, send):
            return
        if self.auth_required:  # only the bearer-token layers answer 401/403
            send = self._watch_auth(scope, send)
        method, path = scope.get("method"), scope.get("path", "")
        if method == "GET" and path == self.sse_path:
            await self._sse(scope, receive, send)
            return
        app = self.app
        if path != self.mcp_path:  # the SSE transport: its rejections logged once each, never a traceback
            app = self.sse_app
            if method == "POST" and path != self.sse_path:
                checked = await _checked_message(scope, receive, send)
                if checked is None:
                    return
                receive = checked
        if method == "POST" and path != self.sse_path:
            if self.sse_sessions:
                self._touch_sse(scope)
            if self.limits is not None and self._identified(scope):
                await self._limited(app, scope, receive, send)
                return
        await app(scope, receive, send)

    async def _bad_host_or_origin(self, scope: Scope, send: Send) -> bool:
        if self.security is None:
            return False
        bad = self.security.refusal(scope)
        if bad is None:
            return False
        reason, status, value = bad
        rejection(scope, reason, status, value=value[:100])
        await respond(send, status, {"error": reason})
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

    async def _limited(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        body, receive = await read_body(scope, receive)
        calls = body.tool_calls()
        if not calls:
            await app(scope, receive, send)
            return
        assert self.limits is not None
        subject, _ = caller_identity()
        refusal = await self.limits.admit(subject, len(calls))
        if refusal is not None:
            await self._refuse(scope, send, refusal, calls)
            return
        token = ADMITTED.set(True)
        try:
            await app(scope, receive, send)
        finally:
            ADMITTED.reset(token)

    async def _refuse(self, scope: Scope, send: Send, refusal: Refusal, calls: Sequence[Mapping[str, Any]]) -> None:
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


SSE_REJECTIONS = {404: "unknown_session", 405: "method_not_allowed", 413: "body_too_large"}
"""The reasons of the SDK's own SSE rejections that reach it (`_checked_message` answers the others)."""


class LoggedRejections:
    """The SDK's SSE endpoints, with each client error they answer logged as one `request_rejected` line
    (401/403 are the bearer layer's, logged by `RequestGate._watch_auth`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if 400 <= status < 500 and status not in (401, 403):
                    rejection(scope, SSE_REJECTIONS.get(status, "bad_request"), status)
            await send(message)

        await self.app(scope, receive, logged)


async def _checked_message(scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """A POST to the SSE message endpoint checked before the SDK sees it (the SDK logs a traceback for a
    body it cannot parse): a bad one is answered 4xx and logged once here (None); else a `receive` that
    replays the body. The SDK's own checks (the session exists and is the caller's) come after."""
    refusal = _bad_message_post(Request(scope))
    raw, replay = None, receive
    if refusal is None:
        body, replay = await read_body(scope, receive)
        raw = body.raw
        if raw is None:
            refusal = ("body_too_large", 413, f"the body is larger than {MAX_BODY} bytes")
    if refusal is not None:
        reason, status, message = refusal
        rejection(scope, reason, status)
        await respond(send, status, {"error": reason, "message": message})
        return None
    assert raw is not None
    error = invalid_body(raw)
    if error is not None:
        rejection(scope, "invalid_message", 400, code=error.error.code)
        await respond(send, 400, error.model_dump(mode="json", by_alias=True, exclude_none=True))
        return None
    return replay


def _bad_message_post(request: Request) -> tuple[str, int, str] | None:
    """(reason, status, message) when the headers or the session id of a message POST are wrong."""
    if not request.headers.get("content-type", "").lower().startswith("application/json"):
        return "unsupported_content_type", 415, "Content-Type must be application/json"
    sid = request.query_params.get("session_id")
    if sid is None:
        return "missing_session_id", 400, "the session_id query parameter is required"
    try:
        UUID(hex=sid)
    except ValueError:
        return "invalid_session_id", 400, "session_id is not a session id"
    return None


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
        auth_required=app.verifier is not None,
        max_sse=s.max_sessions,
        sse_idle_s=s.session_idle_s,
    )
