"""Fitting the agent's context: configured modules only, toolsets, discovery mode, per-request narrowing."""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from composite import modules as registry
from composite.app import build, required_modules, selection_warnings
from composite.settings import AppSettings
from servers.registry import MODULES
from tests.composite.conftest import start_server, stop_server
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio

BACKEND_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CLUSTER_NODES",
    "REDIS_SENTINELS",
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "DOCKER_HOST",
    "XDG_RUNTIME_DIR",
)


def only_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The process environment without any backend configured (HOME is an empty directory), plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in BACKEND_VARS and not k.startswith(("AWS_", "PG", "BAM_", "REDIS_")) and k != "HOME"
    }
    # This machine's Docker engine listens on the default socket, which counts as configured: probe none.
    return {**env, "HOME": str(tmp), "BAM_DOCKER_SOCKETS": "", **extra}


# --- mount what is configured -------------------------------------------------------------------------------


def test_detection_reads_variables_and_files_only(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "BAM_DOCKER_SOCKETS": ""}
    assert registry.resolve_servers("auto", env)[0] == list(MODULES)  # none configured: all
    assert registry.resolve_servers("", {**env, "PGHOST": "127.0.0.1"}) == (["postgres"], {"postgres": "PGHOST"})
    assert registry.configured_reason("redis", {**env, "REDIS_URL": "redis://127.0.0.1"}) == "REDIS_URL"
    assert registry.configured_reason("kubernetes", env) is None
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\n")
    assert registry.configured_reason("kubernetes", env) == str(tmp_path / ".kube" / "config")
    sock = tmp_path / "docker.sock"
    env["BAM_DOCKER_SOCKETS"] = str(sock)  # instead of the machine's /var/run/docker.sock
    assert registry.configured_reason("docker", env) is None
    sock.write_text("")
    assert registry.configured_reason("docker", env) == str(sock)
    assert registry.configured_reason("docker", {**env, "DOCKER_HOST": "tcp://127.0.0.1:2375"}) == "DOCKER_HOST"
    env["BAM_DOCKER_SOCKETS"] = ""
    assert registry.configured_reason("aws", env) is None
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
        assert registry.configured_reason("aws", {**env, var: "x"}) == var
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "config").write_text("[default]\nregion = us-east-1\n")
    assert registry.configured_reason("aws", env) == f"{tmp_path}/.aws/config"


def test_explicit_servers_win_and_keep_canonical_order() -> None:
    assert registry.resolve_servers("redis,pg")[0] == ["postgres", "redis"]
    assert build(AppSettings(servers="docker,postgres")).tool_names[0].startswith("pg_")


def test_require_defaults_to_the_mounted_modules() -> None:
    assert required_modules("mounted", ["postgres"]) == ["postgres"]
    assert required_modules("all", ["postgres", "redis"]) == ["postgres", "redis"]
    assert required_modules("none", ["postgres"]) == []
    with pytest.raises(ValueError, match="not mounted: redis"):
        required_modules("redis", ["postgres"])


async def test_only_database_url_mounts_only_postgres_over_stdio(database_url: str, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "composite", "serve"],
        env=only_env(tmp_path, DATABASE_URL=database_url, PYTHONPATH=os.getcwd()),
    )
    from mcp.client.stdio import stdio_client

    async with Client(stdio_client(params)) as c:
        names = [t.name for t in (await c.list_tools()).tools]
        assert names and all(n.startswith("pg_") for n in names), names
        assert ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))["rows"] == [{"one": 1}]


async def test_only_database_url_makes_readyz_200(database_url: str, tmp_path: Path) -> None:
    env = only_env(tmp_path, DATABASE_URL=database_url, PYTHONPATH=os.getcwd())
    sp = start_server("--transport", "http", env=env, whole_env=True)
    try:
        async with httpx2.AsyncClient(base_url=sp.base) as h:
            r = await h.get("/readyz")
        assert r.status_code == 200, r.text
        assert list(r.json()["modules"]) == ["postgres"]
        assert '"mounted postgres (DATABASE_URL)' in sp.log()
    finally:
        stop_server(sp)


# --- toolsets and selection warnings --------------------------------------------------------------------------


def test_every_tool_is_in_exactly_one_toolset_and_defaults_exist() -> None:
    for key in MODULES:
        mt = registry.module_tools(key)
        members = [n for ts in mt.toolsets.values() for n in ts]
        assert sorted(members) == sorted(set(members)), f"{key}: a tool is in two toolsets"
        assert set(members) == set(mt.names), f"{key}: toolsets and tools differ"
        assert set(mt.default) <= set(mt.toolsets)


def test_toolset_selection_narrows_and_bad_names_are_clear() -> None:
    names = set(build(AppSettings(servers="postgres,redis", toolsets="postgres.query,redis")).tool_names)
    assert {n for n in names if n.startswith("pg_")} == {"pg_query", "pg_explain"}
    assert "redis_subscribe" in names  # `redis` = every redis toolset
    assert "pg_execute" not in names  # toolsets never bypass the write policy
    all_pg = set(build(AppSettings(servers="postgres", toolsets="all")).tool_names)
    assert set(build(AppSettings(servers="postgres")).tool_names) <= all_pg
    with pytest.raises(ValueError, match="postgres has catalog"):
        build(AppSettings(servers="postgres", toolsets="postgres.nope"))
    with pytest.raises(ValueError, match="unknown toolset 'mysql'"):
        build(AppSettings(servers="postgres", toolsets="mysql"))


def test_globs_that_match_nothing_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="backend_architect_mcp.composite"):
        build(AppSettings(servers="postgres,redis", tools="pg_*,redis_get,pg_execute", exclude_tools="pg_nope*"))
    text = caplog.text
    assert "--tools pattern 'redis_get' matches no tool" in text
    assert "'pg_execute' matches only tools hidden by the write/admin policy" in text
    assert "--exclude-tools pattern 'pg_nope*' matches no tool" in text
    assert "'pg_*'" not in text
    catalog = [registry.module_tools("postgres")]
    assert selection_warnings(AppSettings(tools="pg_query"), catalog, ["pg_query"]) == []


# --- lean definitions, order and cache hints ---------------------------------------------------------------------


async def test_tool_order_is_deterministic_and_lists_carry_cache_hints(database_url: str) -> None:
    a = [t.name for t in await build(AppSettings(servers="redis,postgres")).server.list_tools()]
    b = [t.name for t in await build(AppSettings(servers="postgres,redis")).server.list_tools()]
    assert a == b and a[0].startswith("pg_")
    sp = start_server("--transport", "http", "--servers", "postgres", "--json-response")
    try:
        async with Client(f"{sp.base}/mcp") as c:
            listed = await c.list_tools()
        assert listed.ttl_ms == 3_600_000 and listed.cache_scope == "private"
    finally:
        stop_server(sp)


async def test_results_are_compact_json_text_with_canonical_structured_content(database_url: str) -> None:
    async with Client(build(AppSettings(servers="postgres")).server) as c:
        r = await c.call_tool("pg_query", {"sql": "SELECT 1 AS a, 'x' AS b"})
    text = r.content[0].text  # type: ignore[union-attr]
    assert "\n" not in text and ": " not in text
    assert orjson.loads(text) == r.structured_content


# --- discovery mode ----------------------------------------------------------------------------------------------


def discovery(**kw: Any) -> AppSettings:
    return AppSettings(discovery=True, **kw)


async def test_discovery_model_view_is_small_and_fixed(database_url: str) -> None:
    from bench.bench_tokens import model_view

    app = build(discovery(servers="all", toolsets="all", allow_writes="all", allow_admin="all"))
    async with Client(app.server) as c:
        before = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await c.list_tools()).tools]
        assert [t["name"] for t in before] == ["tools_search", "tools_describe", "tool_call", "tool_call_write"]
        assert sum(model_view(t) for t in before) < 1_500
        await c.call_tool("tool_call", {"name": "pg_query", "arguments": {"sql": "SELECT 1"}})
        after = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in (await c.list_tools()).tools]
        assert after == before


async def test_discovery_search_and_describe(database_url: str) -> None:
    async with Client(build(discovery(servers="postgres,redis", toolsets="all")).server) as c:
        found = ok(await c.call_tool("tools_search", {"query": "slow statements", "module": "postgres"}))
        assert found["tools"][0]["name"] == "pg_top_queries"
        assert all(t["name"].startswith("pg_") and t["access"] == "read" for t in found["tools"])
        assert ok(await c.call_tool("tools_search", {"access": "write"}))["tools"] == []  # read-only server
        d = ok(await c.call_tool("tools_describe", {"names": ["pg_query", "pg_execute", "nope"]}))
        assert [t["name"] for t in d["tools"]] == ["pg_query"] and d["unknown"] == ["pg_execute", "nope"]
        full = {t.name: t for t in await build(AppSettings(servers="postgres")).server.list_tools()}
        assert d["tools"][0]["inputSchema"] == full["pg_query"].input_schema
        assert d["tools"][0]["outputSchema"] == full["pg_query"].output_schema
        assert d["tools"][0]["annotations"]["readOnlyHint"] is True


async def test_discovery_refuses_write_tools_in_read_only_mode_exactly_as_full_mode_hides_them(
    database_url: str,
) -> None:
    async with Client(build(AppSettings(servers="postgres")).server) as full:
        hidden = error_text(await full.call_tool("pg_execute", {"sql": "DELETE FROM x"}))
        bad_args = error_text(await full.call_tool("pg_query", {"sql": "SELECT 1", "limit": -5}))
    async with Client(build(discovery(servers="postgres")).server) as c:
        names = [t.name for t in (await c.list_tools()).tools]
        assert "tool_call_write" not in names
        r = await c.call_tool("tool_call", {"name": "pg_execute", "arguments": {"sql": "DELETE FROM x"}})
        assert error_text(r) == hidden == "Unknown tool: pg_execute"
        assert error_text(await c.call_tool("tool_call_write", {"name": "pg_execute"})) == (
            "Unknown tool: tool_call_write"
        )
        r = await c.call_tool("tool_call", {"name": "pg_query", "arguments": {"sql": "SELECT 1", "limit": -5}})
        assert error_text(r) == bad_args  # the tool's own validation, word for word


async def test_discovery_write_tier_is_split_by_annotation(database_url: str) -> None:
    async with Client(build(discovery(servers="postgres", allow_writes="postgres")).server) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
        assert tools["tool_call"].annotations.read_only_hint is True  # type: ignore[union-attr]
        assert tools["tool_call_write"].annotations.destructive_hint is True  # type: ignore[union-attr]
        r = await c.call_tool("tool_call", {"name": "pg_execute", "arguments": {"sql": "SELECT 1"}})
        assert "call it with tool_call_write" in error_text(r)
        r = await c.call_tool("tool_call_write", {"name": "pg_query", "arguments": {"sql": "SELECT 1"}})
        assert "call it with tool_call" in error_text(r)
        sql = "CREATE TEMP TABLE ctx_t (i int)"
        done = ok(
            await c.call_tool("tool_call_write", {"name": "pg_execute", "arguments": {"sql": sql, "dry_run": True}})
        )
        assert done is not None


async def same_in_both_modes(settings: AppSettings, name: str, args: dict[str, Any], key: Any) -> None:
    """The tool's result through discovery's call equals the direct call's (projected by `key`)."""
    async with Client(build(settings).server) as full:
        direct = ok(await full.call_tool(name, args))
    async with Client(build(settings.model_copy(update={"discovery": True})).server) as c:
        via = ok(await c.call_tool("tool_call", {"name": name, "arguments": args}))
    assert key(via) == key(direct) and key(direct) not in (None, [], "")


async def test_discovery_calls_postgres_like_full_mode(database_url: str) -> None:
    await same_in_both_modes(
        AppSettings(servers="postgres"), "pg_query", {"sql": "SELECT 41 + 1 AS answer"}, lambda r: r["rows"]
    )


async def test_discovery_calls_redis_like_full_mode(redis_url: str) -> None:
    await same_in_both_modes(
        AppSettings(servers="redis"),
        "redis_command",
        {"args": ["STRLEN", "bam:test:context:absent"]},
        lambda r: r["result"],
    )


async def test_discovery_calls_kubernetes_like_full_mode(kubeconfig: str) -> None:
    await same_in_both_modes(
        AppSettings(servers="kubernetes"),
        "k8s_namespaces_list",
        {},
        # other tests create namespaces on the shared cluster meanwhile: compare the ones that always exist
        lambda r: sorted(i["name"] for i in r["namespaces"] if i["name"] in ("default", "kube-system")),
    )


async def test_discovery_calls_aws_like_full_mode(aws_endpoint: str) -> None:
    await same_in_both_modes(AppSettings(servers="aws"), "aws_caller_identity", {}, lambda r: (r["account"], r["arn"]))


async def test_discovery_calls_docker_like_full_mode(docker_host: str) -> None:
    await same_in_both_modes(
        AppSettings(servers="docker"), "docker_engine_info", {}, lambda r: (r["server_version"], r["api_version"])
    )


# --- per-request narrowing over HTTP ---------------------------------------------------------------------------


def messages(exc: BaseException) -> str:
    """The messages of an exception and of everything inside an exception group."""
    if isinstance(exc, BaseExceptionGroup):
        return " | ".join(messages(e) for e in exc.exceptions)
    return str(exc)


async def list_and_call(url: str, headers: dict[str, str], name: str, args: dict[str, Any]) -> tuple[list[str], Any]:
    async with httpx2.AsyncClient(headers=headers) as h, Client(streamable_http_client(url, http_client=h)) as c:
        names = [t.name for t in (await c.list_tools()).tools]
        return names, await c.call_tool(name, args)


async def test_http_request_narrows_but_never_widens(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--allow-writes", "postgres")
    try:
        url = f"{sp.base}/mcp"
        names, r = await list_and_call(url, {"X-BAM-Toolsets": "postgres.catalog"}, "pg_query", {"sql": "SELECT 1"})
        assert set(names) == {"pg_schemas_list", "pg_tables_list", "pg_table_describe"}
        assert error_text(r) == "Unknown tool: pg_query"  # enforced at call time, not only hidden
        names, r = await list_and_call(f"{url}?read_only=true", {}, "pg_execute", {"sql": "SELECT 1"})
        assert "pg_execute" not in names and "pg_query" in names
        assert error_text(r) == "Unknown tool: pg_execute"
        narrow = await list_and_call(url, {"X-BAM-Toolsets": "all"}, "pg_query", {"sql": "SELECT 1"})
        assert set(narrow[0]) == {t for t in narrow[0] if t.startswith("pg_")} and ok(narrow[1])
    finally:
        stop_server(sp)
    sp = start_server("--transport", "http", "--servers", "postgres", "--toolsets", "postgres.catalog")
    try:
        names, r = await list_and_call(f"{sp.base}/mcp", {"X-BAM-Toolsets": "all"}, "pg_query", {"sql": "SELECT 1"})
        assert set(names) == {"pg_schemas_list", "pg_tables_list", "pg_table_describe"}  # cannot widen
        assert error_text(r) == "Unknown tool: pg_query"
    finally:
        stop_server(sp)


async def test_http_narrowing_applies_to_discovery_calls(database_url: str) -> None:
    sp = start_server("--transport", "http", "--servers", "postgres", "--allow-writes", "postgres", "--discovery")
    try:
        url = f"{sp.base}/mcp"
        names, r = await list_and_call(url, {"X-BAM-Read-Only": "true"}, "tool_call_write", {"name": "pg_execute"})
        assert "tool_call_write" not in names and error_text(r) == "Unknown tool: tool_call_write"
        hdr = {"X-BAM-Toolsets": "postgres.catalog"}
        _, r = await list_and_call(url, hdr, "tool_call", {"name": "pg_query", "arguments": {"sql": "SELECT 1"}})
        assert error_text(r) == "Unknown tool: pg_query"
        _, r = await list_and_call(url, hdr, "tools_search", {})
        assert {t["name"] for t in ok(r)["tools"]} == {"pg_schemas_list", "pg_tables_list", "pg_table_describe"}
        async with httpx2.AsyncClient(headers={"X-BAM-Toolsets": "nope"}) as h:
            with pytest.raises(BaseException) as raised:
                async with Client(streamable_http_client(url, http_client=h)) as c:
                    await c.list_tools()
        assert "unknown toolset 'nope'" in messages(raised.value)
    finally:
        stop_server(sp)


async def test_discovery_call_relays_the_tools_progress(aws_endpoint: str) -> None:
    import time
    import uuid

    import boto3

    logs = boto3.client("logs", endpoint_url=aws_endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION"))
    group = f"/bam/ctx-{uuid.uuid4().hex[:8]}/app"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = int(time.time() * 1000)
    events = [{"timestamp": now - 3 + i, "message": f"m{i}"} for i in range(3)]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    args = {"groups": [group], "query": "fields @message", "since_minutes": 10, "limit": 2}
    try:
        async with Client(build(discovery(servers="aws", toolsets="all")).server) as c:
            r = await c.call_tool(
                "tool_call", {"name": "aws_logs_insights_query", "arguments": args}, progress_callback=on_progress
            )
        assert ok(r)["status"] == "Complete"
        assert seen and seen[-1] is not None and seen[-1].startswith("Complete")
    finally:
        logs.delete_log_group(logGroupName=group)


class FakeRequest:
    def __init__(self, headers: dict[str, str], params: dict[str, str]) -> None:
        self.headers = headers
        self.query_params = params


@functools.cache
def narrow_app() -> Any:
    return build(AppSettings(servers="postgres,redis", toolsets="postgres.catalog,redis.keys", allow_writes="all"))


header_text = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(["all", "*", "default", "postgres", "pg", "redis", "k8s", "postgres.query", "redis.keys", ""]),
        max_size=5,
    ).map(",".join),
)


@settings(max_examples=300, deadline=None)
@given(toolsets=header_text, read_only=st.sampled_from(["", "true", "false", "1", "yes", "maybe", "TRUE "]))
def test_generated_narrowing_requests_never_widen(toolsets: str, read_only: str) -> None:
    index = narrow_app().index
    served = {e.name for e in index.visible(None)}
    for headers, params in (
        ({"x-bam-toolsets": toolsets, "x-bam-read-only": read_only}, {}),
        ({}, {"toolsets": toolsets, "read_only": read_only}),
    ):
        try:
            n = index.narrowing(FakeRequest(headers, params))
        except ValueError:
            continue  # refused with a clear message (a JSON-RPC error over HTTP)
        seen = {e.name for e in index.visible(n)}
        assert seen <= served
        if n is not None and n.read_only:
            assert all(index.entries[name].read_only for name in seen)


async def test_libpq_variables_configure_postgres(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(database_url)
    monkeypatch.delenv("DATABASE_URL")
    for var, value in (("PGHOST", u.hostname), ("PGPORT", u.port), ("PGUSER", u.username), ("PGPASSWORD", u.password)):
        if value:
            monkeypatch.setenv(var, str(value))
    monkeypatch.setenv("PGDATABASE", u.path.lstrip("/"))
    assert registry.configured_reason("postgres") == "PGHOST"
    async with Client(build(AppSettings(servers="postgres")).server) as c:
        assert ok(await c.call_tool("pg_query", {"sql": "SELECT current_database() AS db"}))["rows"] == [
            {"db": u.path.lstrip("/")}
        ]
