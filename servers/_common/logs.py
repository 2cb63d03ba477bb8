"""Structured logging to stderr: one JSON object per line. stdout belongs to the stdio transport."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from mcp.shared.exceptions import MCPError

from servers._common.output import redact_text


@functools.lru_cache(maxsize=4)
def _second(epoch_s: int) -> str:
    """The timestamp of a log line to the second: formatted once per second, not once per line."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))


def json_line(created: float, level: str, logger: str, msg: str, fields: Mapping[str, Any] | None = None) -> str:
    """One log event as its JSON line (no newline): time to the millisecond (UTC), level, logger, the message
    with secrets masked, then `fields`."""
    second = int(created)
    event: dict[str, Any] = {
        "ts": f"{_second(second)}.{int((created - second) * 1000):03d}Z",
        "level": level,
        "logger": logger,
        "msg": redact_text(msg),
    }
    if fields:
        event.update(fields)
    return orjson.dumps(event, default=str).decode()


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        extra: dict[str, Any] = dict(fields) if isinstance(fields, dict) else {}
        if record.exc_info:
            extra["exc"] = redact_text(self.formatException(record.exc_info))
        return json_line(record.created, record.levelname.lower(), record.name, record.getMessage(), extra)


def json_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[Any] | None:
    """The one handler a `level` record of `logger` would reach when that is a plain JSON-line stream handler
    (`configure_logging`'s) with no filter on the way; None otherwise (another handler, a filter, a capture),
    so the caller logs the usual way."""
    if logger.filters or logger.disabled:
        return None
    found: list[logging.Handler] = []
    node: logging.Logger | None = logger
    while node is not None:
        found += node.handlers
        node = node.parent if node.propagate else None
    if len(found) != 1:
        return None
    h = found[0]
    if type(h) is not logging.StreamHandler or type(h.formatter) is not JsonLineFormatter or h.filters:
        return None
    return h if h.level <= level else None


def configure_logging(level: str | None = None) -> None:
    """Send every log record to stderr as a JSON line; quiet the chatty HTTP client loggers."""
    level = (level or os.environ.get("BAM_LOG_LEVEL") or "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in (
        "httpx",
        "httpx2",
        "httpcore",
        "urllib3",
        "botocore",
        "boto3",
        "docker",
        "kubernetes",
        "asyncio",
    ):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger(noisy).level))
    logging.getLogger("mcp").setLevel(max(logging.WARNING, root.level))


def call_outcome(result: Any) -> str:
    """`ok` or `tool_error` for the result of a tools/call (the result model or its dict form)."""
    is_error = getattr(result, "is_error", None)
    if is_error is None and isinstance(result, dict):
        is_error = result.get("isError")
    return "tool_error" if is_error else "ok"


ERROR_CODE = re.compile(r"\[([A-Za-z0-9_.:/-]{1,64})\]")
"""The backend's own code in a tool error (`failed to <action>: [<code>] ...`, see `tool_error`)."""


def call_error_code(result: Any) -> str | None:
    """The backend's code named in a failed tools/call result, if any."""
    content = getattr(result, "content", None)
    if content is None and isinstance(result, dict):
        content = result.get("content")
    for block in content or ():
        text = getattr(block, "text", None) if not isinstance(block, dict) else block.get("text")
        if isinstance(text, str) and (m := ERROR_CODE.search(text[:400])):
            return m.group(1)
    return None


class ToolCallObserver:
    """Server middleware base: times each `tools/call` and hands name, seconds and outcome to `observe`.

    `observe` never sees the arguments, so no log line or metric label can carry them; a subclass that
    must identify a call (the audit log) overrides `begin`/`finish`, which see the request.

    With `after_response`, `finish` runs in the event loop's next round instead of before the result
    goes back: the response is written first (a log line or a metric sample is not what the client
    waits for).
    """

    after_response = False

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if getattr(ctx, "method", None) != "tools/call":
            return await call_next(ctx)
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        start = time.perf_counter()
        begun = self.begin(ctx, params)
        outcome = "error"
        code: str | None = "internal_error"
        try:
            result = await call_next(ctx)
            outcome = call_outcome(result)
            code = None if outcome == "ok" else (call_error_code(result) or "tool_error")
            return result
        except MCPError as exc:
            code = str(exc.error.code)
            raise
        except BaseException as exc:
            code = "cancelled" if isinstance(exc, anyio.get_cancelled_exc_class()) else "internal_error"
            raise
        finally:
            args = (begun, params.get("name"), time.perf_counter() - start, outcome, code)
            if self.after_response:
                asyncio.get_running_loop().call_soon(self.finish, *args)
            else:
                self.finish(*args)

    def begin(self, ctx: Any, params: Mapping[str, Any]) -> Any:
        """Called before the tool runs; what it returns is handed to `finish`."""
        return None

    def finish(self, begun: Any, name: object, seconds: float, outcome: str, code: str | None) -> None:
        self.observe(name, seconds, outcome)

    def observe(self, name: object, seconds: float, outcome: str) -> None:
        raise NotImplementedError


CALL_MESSAGE = "tool call"


class ToolCallLog(ToolCallObserver):
    """One log line per tool call (name, duration, outcome); never the arguments.

    The line is the one `logger.info("tool call", extra={"fields": ...})` writes through `configure_logging`'s
    handler, written straight to that handler's stream (no LogRecord, no caller lookup): a call's log line
    costs a fraction of the call. Any other logging set-up (another handler, a filter, a test's capture)
    gets the record the usual way."""

    after_response = True

    def __init__(self) -> None:
        self.log = logging.getLogger("backend_architect_mcp.calls")

    def observe(self, name: object, seconds: float, outcome: str) -> None:
        log = self.log
        if not log.isEnabledFor(logging.INFO):  # the usual serving level (WARNING): build nothing
            return
        fields = {"tool": str(name if name is not None else "?"), "ms": round(seconds * 1000, 2), "outcome": outcome}
        handler = json_handler(log, logging.INFO)
        if handler is None:
            log.info(CALL_MESSAGE, extra={"fields": fields})
            return
        line = json_line(time.time(), "info", log.name, CALL_MESSAGE, fields)
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except Exception:  # as a handler does: the call goes on, logging reports the failure (once)
            handler.handleError(log.makeRecord(log.name, logging.INFO, "", 0, CALL_MESSAGE, (), None))
        finally:
            handler.release()
