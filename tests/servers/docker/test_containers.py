"""Containers on the real engine: run, inspect, logs, stats, top, diff, lifecycle, exec, and refusals."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client

from servers.docker import build_server
from tests.conftest import error_text, ok
from tests.servers.docker.conftest import WRITES

pytestmark = pytest.mark.anyio

LOOP = "echo start > /tmp/created; i=0; while true; do echo line$i-padding-padding-padding-padding; i=$((i+1)); sleep 0.05; done"


async def _run_loop(c: Client, image: str, uid: str, **extra: Any) -> dict[str, Any]:
    args = {
        "image": image,
        "command": ["sh", "-c", LOOP],
        "name": f"{uid}-loop",
        "network_mode": "none",
        "labels": {"bam-test": uid},
        **extra,
    }
    return ok(await c.call_tool("docker_container_run", args))  # type: ignore[no-any-return]


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


async def test_inspect_limits_labels_and_redacted_env(client: Client, image: str, uid: str) -> None:
    await _run_loop(
        client,
        image,
        uid,
        env={"API_TOKEN": "tok-very-secret", "PLAIN": "visible", "OPAQUE": "Zx9kQ2mP7vR4tY8wB3nL6hJ1sD5fG0aC"},
        memory="64m",
        cpus=0.5,
        pids_limit=50,
        cap_drop=["NET_RAW"],
    )
    d = ok(await client.call_tool("docker_container_inspect", {"container": f"{uid}-loop", "full": True}))
    assert d["state"]["Running"] is True and d["network_mode"] == "none"
    env = dict(e.split("=", 1) for e in d["env"])
    assert env["PLAIN"] == "visible"
    assert env["API_TOKEN"] == "***REDACTED***" and env["OPAQUE"] == "***REDACTED***"
    assert d["memory_limit_bytes"] == 64 * 1024 * 1024 and d["nano_cpus"] == 500_000_000 and d["pids_limit"] == 50
    assert d["labels"]["io.backend-architect-mcp.managed"] == "true"
    assert d["labels"]["io.backend-architect-mcp.tool"] == "container_run"
    assert d["privileged"] is False and d["truncated"] is False
    assert "tok-very-secret" not in str(d["raw"]) and d["raw"]["HostConfig"]["CapDrop"] == ["NET_RAW"]

    lst = ok(await client.call_tool("docker_containers_list", {"label": [f"bam-test={uid}"], "status": ["running"]}))
    assert [c["name"] for c in lst["containers"]] == [f"{uid}-loop"]
    assert lst["containers"][0]["managed"] is True and lst["containers"][0]["networks"] == ["none"]
    by_name = ok(await client.call_tool("docker_containers_list", {"name": uid, "managed_only": True}))
    assert by_name["total"] == 1
    exited = ok(await client.call_tool("docker_containers_list", {"name": uid, "status": ["exited"]}))
    assert exited["total"] == 0


async def test_logs_stats_top_diff(client: Client, image: str, uid: str) -> None:
    await _run_loop(client, image, uid)
    name = f"{uid}-loop"
    await anyio.sleep(0.6)
    logs = ok(await client.call_tool("docker_container_logs", {"container": name, "tail": 3}))
    lines = logs["text"].splitlines()
    assert logs["lines"] == 3 and len(lines) == 3 and all(x.startswith("line") for x in lines)
    assert logs["truncated"] is True and logs["hint"]
    ts = ok(await client.call_tool("docker_container_logs", {"container": name, "tail": 2, "timestamps": True}))
    assert all(line[:4].isdigit() and "Z line" in line for line in ts["text"].splitlines())
    small = ok(await client.call_tool("docker_container_logs", {"container": name, "tail": 5000, "max_bytes": 256}))
    assert small["truncated"] is True and len(small["text"].encode()) <= 256
    assert small["text"].splitlines()[0].startswith("line")  # no partial first line
    recent = ok(await client.call_tool("docker_container_logs", {"container": name, "since": "1h", "stream": "stdout"}))
    assert "line0" in recent["text"] or recent["truncated"]
    future = ok(await client.call_tool("docker_container_logs", {"container": name, "since": "2099-01-01T00:00:00Z"}))
    assert future["text"] == "" and future["truncated"] is False
    bad = error_text(await client.call_tool("docker_container_logs", {"container": name, "since": "yesterday"}))
    assert "10m" in bad

    st = ok(await client.call_tool("docker_container_stats", {"container": name}))
    assert st["running"] is True and st["memory_usage_bytes"] > 0 and st["pids"] >= 1
    assert st["cpu_percent"] is None or st["cpu_percent"] >= 0

    top = ok(await client.call_tool("docker_container_top", {"container": name}))
    assert "PID" in top["titles"] and top["count"] >= 1 and top["truncated"] is False
    assert any("while true" in " ".join(p) or "sh" in " ".join(p) for p in top["processes"])
    one = ok(await client.call_tool("docker_container_top", {"container": name, "limit": 1}))
    assert one["count"] == 1

    diff = ok(await client.call_tool("docker_container_diff", {"container": name}))
    changes = {c["path"]: c["kind"] for c in diff["changes"]}
    assert changes.get("/tmp/created") == "added" and diff["truncated"] is False
    page = ok(await client.call_tool("docker_container_diff", {"container": name, "limit": 1}))
    assert page["count"] == 1 and page["truncated"] is True and page["next_offset"] == 1


async def test_lifecycle(client: Client, image: str, uid: str) -> None:
    await _run_loop(client, image, uid)
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


async def test_exec_is_bounded_and_redacted(admin: Client, image: str, uid: str) -> None:
    await _run_loop(admin, image, uid)
    r = ok(
        await admin.call_tool(
            "docker_container_exec",
            {
                "container": f"{uid}-loop",
                "command": ["sh", "-c", "cat /tmp/created; env; echo oops >&2; exit 7"],
                "env": {"MY_SECRET_KEY": "abc123-hidden"},
                "working_dir": "/tmp",
            },
        )
    )
    assert r["exit_code"] == 7 and "start" in r["stdout"] and r["stderr"].strip() == "oops"
    assert "abc123-hidden" not in r["stdout"] and "MY_SECRET_KEY=***REDACTED***" in r["stdout"]
    big = ok(
        await admin.call_tool(
            "docker_container_exec", {"container": f"{uid}-loop", "command": ["sh", "-c", "yes x | head -c 200000"]}
        )
    )
    assert big["truncated"] is True and len(big["stdout"].encode()) <= 64_000 and big["exit_code"] == 0


REFUSED = [
    ({"privileged": True}, "BAM_DOCKER_ALLOW_PRIVILEGED"),
    ({"pid_mode": "host"}, "BAM_DOCKER_ALLOW_HOST_PID"),
    ({"ipc_mode": "host"}, "BAM_DOCKER_ALLOW_HOST_IPC"),
    ({"cap_add": ["SYS_ADMIN"]}, "BAM_DOCKER_ALLOW_CAP_ADD"),
    ({"mounts": [{"type": "bind", "source": "/", "target": "/host"}]}, "BAM_DOCKER_ALLOW_ROOT_MOUNT"),
    ({"mounts": [{"type": "bind", "source": "/etc/../", "target": "/host"}]}, "BAM_DOCKER_ALLOW_ROOT_MOUNT"),
    (
        {"mounts": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/s"}]},
        "BAM_DOCKER_ALLOW_SOCKET_MOUNT",
    ),
    ({"mounts": [{"type": "bind", "source": "/var/run", "target": "/r", "read_only": True}]}, "SOCKET_MOUNT"),
    ({"mounts": [{"type": "bind", "source": "/run/", "target": "/r"}]}, "BAM_DOCKER_ALLOW_SOCKET_MOUNT"),
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
