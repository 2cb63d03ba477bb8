"""The composite: mounted modules, one shared lifespan, the role prompt, and the central tool filter."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client
from pydantic_settings import BaseSettings

from composite.app import PROMPT_NAME, PROMPT_URI, Runtime, build
from composite.settings import AppSettings
from servers._common import Health

pytestmark = pytest.mark.anyio

ROLE = (
    "You are a Senior Backend Engineer. Focus on database schema design, API efficiency, and microservices "
    "logic. Optimize for high concurrency and low latency."
)


def names(app_settings: AppSettings) -> set[str]:
    return set(build(app_settings).tool_names)


async def test_prompt_resource_and_instructions_carry_the_role_verbatim(database_url: str) -> None:
    app = build(AppSettings(servers="postgres"))
    async with Client(app.server) as c:
        prompts = (await c.list_prompts()).prompts
        assert [p.name for p in prompts] == [PROMPT_NAME]
        assert {a.name for a in prompts[0].arguments or []} == {"focus", "context"}
        got = await c.get_prompt(PROMPT_NAME, {"focus": "query optimisation"})
        text = got.messages[0].content.text  # type: ignore[union-attr]
        assert text.startswith(ROLE)
        assert "`pg_*` (PostgreSQL, read-only, 9 tools)" in text
        assert "Focus area for this session: query optimisation" in text
        res = await c.read_resource(PROMPT_URI)
        assert res.contents[0].text.startswith(ROLE)  # type: ignore[union-attr]
        assert c.instructions is not None and c.instructions.startswith(ROLE)
        assert "redis" not in c.instructions.lower()  # only mounted families are described


async def test_prompt_describes_write_mode_when_writes_are_allowed(database_url: str) -> None:
    app = build(AppSettings(servers="postgres", allow_writes="pg"))
    async with Client(app.server) as c:
        got = await c.get_prompt(PROMPT_NAME, {})
        assert "`pg_*` (PostgreSQL, reads and writes, 13 tools)" in got.messages[0].content.text  # type: ignore[union-attr]


async def test_tools_are_prefixed_and_callable_through_the_composite(database_url: str) -> None:
    app = build(AppSettings(servers="postgres"))
    async with Client(app.server) as c:
        r = await c.call_tool("pg_query", {"sql": "SELECT 41 + 1 AS answer"})
        assert r.structured_content is not None and r.structured_content["rows"] == [{"answer": 42}]


def test_policy_is_read_only_by_default_and_driven_by_annotations() -> None:
    base = AppSettings(servers="postgres")
    assert "pg_execute" not in names(base)
    assert "pg_execute" in names(base.model_copy(update={"allow_writes": "all"}))
    assert "pg_execute" in names(base.model_copy(update={"allow_writes": "postgres"}))
    assert "pg_execute" not in names(base.model_copy(update={"allow_writes": "redis"}))
    no_destructive = base.model_copy(update={"allow_writes": "all", "allow_destructive": False})
    assert "pg_execute" not in names(no_destructive)
    assert names(base.model_copy(update={"tools": "pg_query,pg_t*"})) == {
        "pg_query",
        "pg_tables_list",
        "pg_table_describe",
        "pg_top_queries",
    }
    assert "pg_explain" not in names(base.model_copy(update={"exclude_tools": "*explain"}))


def test_unknown_module_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown module 'mysql'"):
        build(AppSettings(servers="postgres,mysql"))


async def test_runtime_opens_resources_once_for_many_sessions_and_closes_after_the_last() -> None:
    from contextlib import asynccontextmanager
    from typing import Any

    from servers._common import ModuleInfo

    events: list[str] = []

    class Fake:
        async def check(self, timeout: float = 2.0) -> Health:
            return Health("fake", "up", "here", "ok", 0.1)

        async def aclose(self) -> None:
            events.append("aclose")

    @asynccontextmanager
    async def resources() -> Any:
        events.append("open")
        try:
            yield Fake()
        finally:
            events.append("close")

    info = ModuleInfo("fake", "fake_", "Fake", "nothing", BaseSettings, resources, "no.tools", lambda env: None)
    rt = Runtime([info])
    async with rt.attach() as s1:
        async with rt.attach() as s2:
            assert s1 is s2 and events == ["open"]
        assert events == ["open"]
        health = await rt.health()
        assert health[0].ok
    assert events == ["open", "close"]
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(rt.health)
    assert events.count("open") == events.count("close")


async def test_a_down_backend_does_not_stop_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://x:y@127.0.0.1:1/nope")
    app = build(AppSettings(servers="postgres"))
    async with Client(app.server) as c:
        assert len((await c.list_tools()).tools) == 9
        r = await c.call_tool("pg_schemas_list", {})
        assert r.is_error and "unreachable at 127.0.0.1:1/nope" in r.content[0].text  # type: ignore[union-attr]
    health = await app.runtime.health()
    assert health[0].status == "down"
