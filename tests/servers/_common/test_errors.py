"""The one translator shape: `translate(exc, action)`; a lost connection is told as the backend's own message."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from servers._common.backend import Backend
from servers._common.errors import ConnectionLost, backend_error, connection_lost, tool_error


async def _never() -> Any:
    raise AssertionError("not connected in this test")


async def _probe(_: Any) -> None:
    return None


def _backend() -> Backend[Any]:
    return Backend(
        module="demo", title="Demo DB", target="127.0.0.1:1", env_hint="DEMO_URL", connect=_never, probe=_probe
    )


def _translate(exc: BaseException, action: str) -> ToolError:
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, OSError):
        return connection_lost(action, f"{type(exc).__name__}: {exc}", hint="retry")
    return tool_error(action, str(exc), code="E1")


def test_a_lost_connection_names_the_backend_and_its_variable() -> None:
    err = backend_error(_backend(), _translate, ConnectionRefusedError("refused"), "read the rows")
    assert not isinstance(err, ConnectionLost)
    assert "Demo DB is unreachable at 127.0.0.1:1" in str(err) and "DEMO_URL" in str(err)


def test_other_errors_and_tool_errors_pass_unchanged() -> None:
    err = backend_error(_backend(), _translate, ValueError("bad value"), "read the rows")
    assert str(err) == "failed to read the rows: [E1] bad value."
    own = ToolError("failed to x: already told.")
    assert backend_error(_backend(), _translate, own, "x") is own
    lost = connection_lost("read", "OSError: gone", hint="retry")
    assert isinstance(lost, ConnectionLost) and str(lost) == "failed to read: OSError: gone. Hint: retry."
    assert backend_error(_backend(), _translate, lost, "read") is lost  # already translated once: kept
