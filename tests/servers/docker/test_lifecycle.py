"""Container writes on the real engine: run (wait, logs, remove), lifecycle, and the safety refusals."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from servers.docker import build_server
from tests.conftest import error_text, ok
from tests.servers.docker.conftest import CUT_SECRET, WRITES, run_loop

pytestmark = pytest.mark.anyio


async def test_run_wait_logs_and_remove(client: Client, image: str, uid: str) -> None:
    r = ok(
        await client.call_tool(
            "docker_container_run",
            {
                "image": image,
                "command": ["sh", "-c", "echo hello; echo DB_PASSWORD=$DB_PASSWORD; exit 3"],
                "name": f"{uid}-once",
                "env": {"DB_PASSWORD": "hunter2-secret"},
                "network_mode": "none",
                "labels": {"bam-test": uid},
                "wait_s": 30,
                "remove": True,
            },
        )
    )
    assert r["exit_code"] == 3 and r["removed"] is True and r["state"] == "exited"
    assert "hello" in r["logs"] and "hunter2" not in r["logs"] and "REDACTED" in r["logs"]
    assert r["labels"]["io.backend-architect-mcp.managed"] == "true" and r["labels"]["bam-test"] == uid
    gone = error_text(await client.call_tool("docker_container_inspect", {"container": f"{uid}-once"}))
    assert "404" in gone


async def test_lifecycle(client: Client, image: str, uid: str) -> None:
    await run_loop(client, image, uid)
    name = f"{uid}-loop"

    async def call(tool: str, **kw: Any) -> dict[str, Any]:
        return ok(await client.call_tool(f"docker_container_{tool}", {"container": name, **kw}))  # type: ignore[no-any-return]

    assert (await call("pause"))["state"] == "paused"
    assert (await call("unpause"))["state"] == "running"
    assert (await call("restart", timeout=0))["state"] == "running"
    stopped = await call("stop", timeout=0)
    assert stopped["state"] == "exited" and stopped["changed"] is True
    again = await call("stop", timeout=0)
    assert again["changed"] is False
    assert (await call("start"))["state"] == "running"
    busy = error_text(await client.call_tool("docker_container_remove", {"container": name}))
    assert "409" in busy
    removed = await call("remove", force=True, volumes=True)
    assert removed["state"] == "removed"


REFUSED = [
    ({"privileged": True}, "BAM_DOCKER_ALLOW_PRIVILEGED"),
    ({"pid_mode": "host"}, "BAM_DOCKER_ALLOW_HOST_PID"),
    ({"ipc_mode": "host"}, "BAM_DOCKER_ALLOW_HOST_IPC"),
    ({"network_mode": "host"}, "BAM_DOCKER_ALLOW_HOST_NETWORK"),
    ({"pid_mode": "container:abc"}, "BAM_DOCKER_ALLOW_CONTAINER_NAMESPACES"),
    ({"cap_add": ["SYS_ADMIN"]}, "BAM_DOCKER_ALLOW_CAP_ADD"),
    ({"mounts": [{"type": "bind", "source": "/", "target": "/host"}]}, "BAM_DOCKER_BIND_ROOTS"),
    ({"mounts": [{"type": "bind", "source": "/etc/../", "target": "/host"}]}, "BAM_DOCKER_BIND_ROOTS"),
    ({"mounts": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]}, "BAM_DOCKER_BIND_ROOTS"),
    ({"mounts": [{"type": "bind", "source": "/var/run", "target": "/r", "read_only": True}]}, "BIND_ROOTS"),
    ({"mounts": [{"type": "bind", "source": "/run/", "target": "/r"}]}, "BAM_DOCKER_BIND_ROOTS"),
]


@pytest.mark.parametrize(("extra", "setting"), REFUSED)
async def test_refusals(client: Client, sdk: Any, image: str, uid: str, extra: dict[str, Any], setting: str) -> None:
    args = {"image": image, "command": ["true"], "name": f"{uid}-bad", "network_mode": "none", **extra}
    text = error_text(await client.call_tool("docker_container_run", args))
    assert "refused" in text and setting in text and "[policy]" in text
    assert sdk.api.containers(all=True, filters={"name": f"{uid}-bad"}) == []


async def test_refusal_lifted_by_setting(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str, tmp_path: Any
) -> None:
    monkeypatch.setenv("BAM_DOCKER_ALLOW_CAP_ADD", "true")
    monkeypatch.setenv("BAM_DOCKER_BIND_ROOTS", str(tmp_path))
    (tmp_path / "data.txt").write_text("from host\n")
    async with Client(build_server(policy=WRITES)) as c:
        r = ok(
            await c.call_tool(
                "docker_container_run",
                {
                    "image": image,
                    "command": ["cat", "/data/data.txt"],
                    "name": f"{uid}-cap",
                    "cap_add": ["NET_ADMIN"],
                    "network_mode": "none",
                    "labels": {"bam-test": uid},
                    "mounts": [
                        {"type": "bind", "source": str(tmp_path), "target": "/data", "read_only": True},
                        {"type": "tmpfs", "target": "/scratch"},
                    ],
                    "wait_s": 30,
                },
            )
        )
        assert r["exit_code"] == 0 and "from host" in r["logs"] and r["removed"] is False
        d = ok(await c.call_tool("docker_container_inspect", {"container": f"{uid}-cap"}))
        assert d["cap_add"] == ["NET_ADMIN"]
        assert {m["destination"]: m["read_only"] for m in d["mounts"]}["/data"] is True
        # the other refusals still hold
        text = error_text(
            await c.call_tool("docker_container_run", {"image": image, "privileged": True, "network_mode": "none"})
        )
        assert "BAM_DOCKER_ALLOW_PRIVILEGED" in text


async def test_run_missing_image_is_not_pulled(client: Client, uid: str) -> None:
    text = error_text(
        await client.call_tool("docker_container_run", {"image": f"{uid}/nothing:1", "network_mode": "none"})
    )
    assert "404" in text and "docker_image_pull" in text


async def test_run_logs_cap_never_shows_a_cut_secret_line(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    monkeypatch.setenv("BAM_DOCKER_MAX_LOG_BYTES", "2000")
    async with Client(build_server(policy=WRITES)) as c:
        args = {"image": image, "command": ["sh", "-c", CUT_SECRET], "name": f"{uid}-cut", "network_mode": "none"}
        r = ok(await c.call_tool("docker_container_run", {**args, "labels": {"bam-test": uid}, "wait_s": 30}))
        assert r["exit_code"] == 0 and r["logs_truncated"] is True
        assert "hunter2" not in r["logs"] and "SWORD" not in r["logs"]
        assert r["logs"].splitlines()[0] == "y" * 19 and len(r["logs"].encode()) <= 2000
        logs = ok(await c.call_tool("docker_container_logs", {"container": f"{uid}-cut", "max_bytes": 2000}))
        assert logs["truncated"] is True and "hunter2" not in logs["text"] and "SWORD" not in logs["text"]
