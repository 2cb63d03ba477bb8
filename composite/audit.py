"""The audit log (`--audit-log PATH`, `-` for stderr): one JSON line per tool call.

Each line names when, which request, who (subject and client id, `local` over stdio), which tool (the
inner tool for discovery-mode `tool_call`), a SHA-256 digest of the canonical arguments (never the
arguments themselves, so no password, token or secret value reaches the log), the outcome, the error
code and the duration. Calls refused before they run (rate or concurrency limit) are audited too, with
outcome `refused`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request

from composite.identity import caller_identity
from servers._common.logs import ToolCallObserver
from servers._common.output import redact_text

DISCOVERY_CALLS = ("tool_call", "tool_call_write")
REFUSAL_CODES = frozenset({"rate_limited", "too_many_concurrent_calls", "limiter_unavailable"})
MAX_FIELD = 128
"""Longest tool name or request id written (both come from the client)."""


def arguments_digest(arguments: object) -> str:
    """SHA-256 of the arguments as canonical JSON (sorted keys, no whitespace); `{}` when absent."""
    canonical = orjson.dumps(arguments if arguments is not None else {}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


def _field(value: object) -> str | None:
    if value is None:
        return None
    return redact_text(str(value)[:MAX_FIELD])


def target_of(params: Mapping[str, Any]) -> tuple[object, object, str | None]:
    """(tool, arguments, via) of a tools/call: discovery's `tool_call` names the tool it runs."""
    name, arguments = params.get("name"), params.get("arguments")
    if name in DISCOVERY_CALLS and isinstance(arguments, Mapping):
        return arguments.get("name"), arguments.get("arguments"), str(name)
    return name, arguments, None


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


@dataclass
class Started:
    ts: str
    request_id: str | None
    subject: str
    client_id: str | None
    tool: str | None
    via: str | None
    digest: str
    transport: str


class AuditSink:
    """Appends JSON lines to a file (one `write` each, so concurrent writers never interleave) or stderr."""

    def __init__(self, target: str) -> None:
        self.target = target
        if target == "-":
            self.fd = 2
            return
        try:
            self.fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ValueError(f"--audit-log {target!r} cannot be opened for appending: {exc.strerror}") from exc

    def write(self, record: Mapping[str, Any]) -> None:
        os.write(self.fd, orjson.dumps(record) + b"\n")


class AuditLog(ToolCallObserver):
    """Server middleware writing one audit line per tools/call to `sink`."""

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    def begin(self, ctx: Any, params: Mapping[str, Any]) -> Started:
        transport = "http" if isinstance(getattr(ctx, "request", None), Request) else "stdio"
        return started(ctx.request_id, params, transport)

    def finish(self, begun: Any, name: object, seconds: float, outcome: str, code: str | None) -> None:
        if code in REFUSAL_CODES:
            outcome = "refused"
        self.write(begun, outcome, code, seconds)

    def write(self, s: Started, outcome: str, code: str | None, seconds: float) -> None:
        self.sink.write(
            {
                "ts": s.ts,
                "event": "tool_call",
                "request_id": s.request_id,
                "subject": s.subject,
                "client_id": s.client_id,
                "tool": s.tool,
                "via": s.via,
                "args_sha256": s.digest,
                "outcome": outcome,
                "error_code": code,
                "duration_ms": round(seconds * 1000, 2),
                "transport": s.transport,
            }
        )

    def refused(self, message: Mapping[str, Any], code: str, transport: str = "http") -> None:
        """Audit a tools/call refused before it reached the server (HTTP-level limit)."""
        params = message.get("params")
        begun = started(message.get("id"), params if isinstance(params, Mapping) else {}, transport)
        self.write(begun, "refused", code, 0.0)


def started(request_id: Any, params: Mapping[str, Any], transport: str) -> Started:
    """What the audit line of a call knows when it starts: who, which tool, a digest of the arguments."""
    subject, client_id = caller_identity()
    tool, arguments, via = target_of(params)
    return Started(
        _now(), _field(request_id), subject, client_id, _field(tool), via, arguments_digest(arguments), transport
    )
