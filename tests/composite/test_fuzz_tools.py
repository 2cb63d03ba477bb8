"""Every tool, fuzzed through an MCP client session against the real backends in read-only mode.

Arguments are generated from each tool's own inputSchema (tests/fuzz.py), and then made hostile (wrong
types, huge strings, null bytes, unicode, negative and huge numbers, deep nesting, unknown arguments).
Each call must end in a result or in a tool error with a message: never a protocol error, never a crash
(the SDK's bare "Error executing tool X" with the exception logged), never a hang past its timeout.

Bounded for a 2-core machine: a few examples per tool and kind (`BAM_FUZZ_EXAMPLES` raises it), the
slow tools' waits capped by their settings; CI derandomizes (tests/conftest.py).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.types import CallToolResult

from composite.app import build
from composite.settings import AppSettings
from servers.registry import MODULES, load
from tests.conftest import backend_unavailable, error_text
from tests.fuzz import from_schema, out_of_schema

EXAMPLES = int(os.environ.get("BAM_FUZZ_EXAMPLES", "6"))
CALL_TIMEOUT_S = 30.0
"""No call may take longer: the slow tools' own caps are lowered below it (FAST_CAPS)."""
FAST_CAPS = {
    "BAM_REDIS_SUBSCRIBE_MAX_SECONDS": "1",
    "BAM_REDIS_REPORT_MAX_SECONDS": "1",
    "BAM_AWS_INSIGHTS_TIMEOUT_S": "2",
    "BAM_DOCKER_TIMEOUT_S": "20",
    "BAM_K8S_REQUEST_TIMEOUT_S": "10",
}


def _settings() -> AppSettings:
    return AppSettings(servers="all", toolsets="all")  # read-only: no write or admin tool is exposed


def _tool_schemas() -> dict[str, dict[str, Any]]:
    """The exposed tools and their advertised input schemas (building registers tools; nothing connects)."""
    server = build(_settings()).server
    return {t.name: t.parameters for t in server._tool_manager.list_tools()}


SCHEMAS = _tool_schemas()


class _Crashes(logging.Handler):
    """Collects the SDK's "raised an unexpected exception" records (a tool that crashed)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Fuzzer:
    portal: BlockingPortal
    client: Client
    crashes: _Crashes
    calls: dict[str, int] = field(default_factory=dict)

    def call(self, name: str, args: dict[str, Any]) -> CallToolResult:
        async def go() -> CallToolResult:
            with anyio.fail_after(CALL_TIMEOUT_S):  # a hang past the timeout fails the test here
                return await self.client.call_tool(name, args)

        before = len(self.crashes.records)
        result: CallToolResult = self.portal.call(go)  # a JSON-RPC error (e.g. -32603) raises here
        self.calls[name] = self.calls.get(name, 0) + 1
        crashed = self.crashes.records[before:]
        assert not crashed, f"{name} crashed on {_short(args)}: {crashed[0].getMessage()} {crashed[0].exc_info}"
        if result.is_error:
            text = error_text(result)
            prefix = f"Error executing tool {name}: "
            assert text.startswith(prefix) and len(text) > len(prefix) + 3, f"{name}: unclear error {text!r}"
            assert "Traceback" not in text
        else:
            assert result.structured_content is not None or result.content, f"{name}: empty result"
        return result


def _require_docker_engine() -> None:
    import docker

    try:
        client = docker.from_env()
        client.ping()
        client.close()
    except Exception as exc:
        backend_unavailable("Docker engine (DOCKER_HOST)", exc)


def _short(args: dict[str, Any]) -> str:
    return repr(args)[:300]


@pytest.fixture(scope="module")
def fuzzer(database_url: str, redis_url: str, aws_endpoint: str, kubeconfig: str) -> Iterator[Fuzzer]:
    _require_docker_engine()  # the engine only: the fuzz needs no test image
    crashes = _Crashes()
    logging.getLogger("mcp").addHandler(crashes)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in FAST_CAPS.items():
            mp.setenv(k, v)
        with (
            start_blocking_portal("asyncio") as portal,
            portal.wrap_async_context_manager(Client(build(_settings()).server)) as client,
        ):
            yield Fuzzer(portal, client, crashes)
    logging.getLogger("mcp").removeHandler(crashes)


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_schema_valid_arguments(fuzzer: Fuzzer, tool: str, data: st.DataObject) -> None:
    args = data.draw(from_schema(SCHEMAS[tool]), label="arguments")
    fuzzer.call(tool, args)


@pytest.mark.parametrize("tool", sorted(SCHEMAS))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_out_of_schema_arguments(fuzzer: Fuzzer, tool: str, data: st.DataObject) -> None:
    args = data.draw(out_of_schema(SCHEMAS[tool]), label="arguments")
    fuzzer.call(tool, args)


def test_every_tool_is_fuzzed() -> None:
    assert len(SCHEMAS) >= 60, sorted(SCHEMAS)  # all five modules are mounted with every toolset
    assert {n.split("_", 1)[0] + "_" for n in SCHEMAS} == {load(m).prefix for m in MODULES}
