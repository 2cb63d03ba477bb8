"""One way to turn a backend failure into an error the model can act on."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.exceptions import ToolError

from servers._common.output import redact_text

if TYPE_CHECKING:
    from servers._common.backend import Backend

Translate = Callable[[BaseException, str], ToolError]
"""The one shape of every module's error translator: `translate(exc, action)`."""


class ConnectionLost(ToolError):
    """A translated error meaning the backend could not be reached (`backend_error` names the backend)."""


def tool_error(
    action: str,
    message: str,
    *,
    code: str | None = None,
    hint: str | None = None,
    detail: str | None = None,
) -> ToolError:
    """`failed to <action>: [<code>] <message>. Detail: ... Hint: ...`, with secrets masked."""
    return ToolError(_message(action, message, code, hint, detail))


def connection_lost(action: str, message: str, *, code: str | None = None, hint: str | None = None) -> ToolError:
    """A `tool_error` that `backend_error` replaces with the backend's own unreachable message."""
    return ConnectionLost(_message(action, message, code, hint, None))


def backend_error(backend: Backend[Any], translate: Translate, exc: BaseException, action: str) -> ToolError:
    """`translate(exc, action)`, except that a lost connection is told as the backend's unreachable message."""
    err = translate(exc, action)
    return backend.unavailable(exc) if isinstance(err, ConnectionLost) and err is not exc else err


def _message(action: str, message: str, code: str | None, hint: str | None, detail: str | None) -> str:
    parts = [f"failed to {action}: "]
    if code:
        parts.append(f"[{code}] ")
    parts.append(message.rstrip("."))
    if detail:
        parts.append(f". Detail: {detail.rstrip('.')}")
    if hint:
        parts.append(f". Hint: {hint.rstrip('.')}")
    return redact_text("".join(parts) + ".")
