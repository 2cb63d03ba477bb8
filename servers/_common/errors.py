"""One way to turn a backend failure into an error the model can act on."""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError

from servers._common.output import redact_text


def tool_error(
    action: str,
    message: str,
    *,
    code: str | None = None,
    hint: str | None = None,
    detail: str | None = None,
) -> ToolError:
    """`failed to <action>: [<code>] <message>. Detail: ... Hint: ...`, with secrets masked."""
    parts = [f"failed to {action}: "]
    if code:
        parts.append(f"[{code}] ")
    parts.append(message.rstrip("."))
    if detail:
        parts.append(f". Detail: {detail.rstrip('.')}")
    if hint:
        parts.append(f". Hint: {hint.rstrip('.')}")
    return ToolError(redact_text("".join(parts) + "."))
