"""Read-only mode, engine tools, and an engine that is down (then comes back)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from mcp import Client

from servers.docker import MODULE, build_server
from servers.docker.tools import CATALOG
from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_read_only_by_default_exposes_only_read_tools(ro: Client) -> None:
    names = {t.name for t in (await ro.list_tools()).tools}
    reads = {f"docker_{s.name}" for s in CATALOG.tools if not s.is_write}
    assert names == reads
    assert "docker_container_run" not in names and "docker_container_exec" not in names
    for t in (await ro.list_tools()).tools:
        assert t.annotations is not None and t.annotations.read_only_hint is True
        assert t.output_schema is not None, t.name
        assert len(t.name) < 64 and t.description


async def test_exec_needs_admin(client: Client, admin: Client) -> None:
    writes = {t.name for t in (await client.list_tools()).tools}
    assert "docker_container_run" in writes and "docker_container_exec" not in writes
    tools = {t.name: t for t in (await admin.list_tools()).tools}
    assert len(tools) == len(CATALOG.tools)
    exec_tool = tools["docker_container_exec"]
    assert exec_tool.annotations is not None and exec_tool.annotations.destructive_hint is True
    pull = tools["docker_image_pull"]
    assert pull.annotations is not None and pull.annotations.open_world_hint is True


async def test_engine_info_and_df(ro: Client) -> None:
    info = ok(await ro.call_tool("docker_engine_info", {}))
    assert info["api_version"] and info["server_version"]
    assert info["storage_driver"] and info["cpus"] >= 1
    df = ok(await ro.call_tool("docker_engine_df", {"top": 1}))
    kinds = {c["kind"]: c for c in df["categories"]}
    assert set(kinds) == {"images", "containers", "volumes", "build_cache"}
    assert kinds["images"]["count"] >= 1 and kinds["images"]["size_bytes"] > 0
    assert len(df["largest"]) == 1
    assert df["truncated"] is (sum(c["count"] for c in df["categories"] if c["kind"] != "build_cache") > 1)


async def test_lists_of_the_real_engine(ro: Client, image: str) -> None:
    imgs = ok(await ro.call_tool("docker_images_list", {"reference": image.split(":")[0]}))
    assert any(image in i["tags"] for i in imgs["images"])
    nets = ok(await ro.call_tool("docker_networks_list", {}))
    names = {n["name"] for n in nets["networks"]}
    assert {"host", "none"} <= names
    one = ok(await ro.call_tool("docker_networks_list", {"limit": 1}))
    assert one["count"] == 1 and one["truncated"] is True and one["next_offset"] == 1
    rest = ok(await ro.call_tool("docker_networks_list", {"limit": 1, "offset": 1}))
    assert rest["networks"][0]["name"] != one["networks"][0]["name"]
    host = ok(await ro.call_tool("docker_network_inspect", {"network": "host"}))
    assert host["driver"] == "host" and host["truncated"] is False
    vols = ok(await ro.call_tool("docker_volumes_list", {}))
    assert vols["truncated"] is False and vols["count"] == len(vols["volumes"])
    cons = ok(await ro.call_tool("docker_containers_list", {"status": ["running"]}))
    assert all(c["state"] == "running" for c in cons["containers"])


async def test_missing_object_errors_carry_engine_code_and_hint(ro: Client, uid: str) -> None:
    text = error_text(await ro.call_tool("docker_container_inspect", {"container": uid}))
    assert "404" in text and "NotFound" in text and "Hint:" in text
    text = error_text(await ro.call_tool("docker_image_inspect", {"image": f"{uid}:nope"}))
    assert "404" in text and "docker_image_pull" in text


async def test_engine_down_then_back(monkeypatch: pytest.MonkeyPatch, docker_host: str, uid: str) -> None:
    sock = f"/tmp/{uid}.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    server = build_server()
    async with Client(server) as c:
        text = error_text(await c.call_tool("docker_engine_info", {}))
        assert sock in text and "DOCKER_HOST" in text and "unreachable" in text
        real = docker_host.removeprefix("unix://")
        os.symlink(real, sock)
        try:
            info = ok(await c.call_tool("docker_engine_info", {}))
            assert info["api_version"]
        finally:
            os.unlink(sock)


async def test_health_check_states(monkeypatch: pytest.MonkeyPatch, docker_host: str, uid: str) -> None:
    async with MODULE.resources() as res:
        health: Any = await res.check(5.0)
        assert health.ok and health.module == "docker" and health.latency_ms is not None
    monkeypatch.setenv("DOCKER_HOST", f"unix:///tmp/{uid}-missing.sock")
    async with MODULE.resources() as res:
        health = await res.check(5.0)
        assert health.status == "down" and f"{uid}-missing.sock" in health.target


async def test_standalone_stdio_server(docker_host: str) -> None:
    import sys

    from mcp import StdioServerParameters

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "servers.docker"], cwd=root, env={**os.environ, "BAM_ALLOW_WRITES": ""}
    )
    async with Client(params) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "docker_engine_info" in names and "docker_container_run" not in names
        assert ok(await c.call_tool("docker_engine_info", {}))["api_version"]
