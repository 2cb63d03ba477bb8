"""Container reads on the real engine: list, inspect (env masked), logs (line and byte caps), stats, top, diff."""

from __future__ import annotations

import anyio
import pytest
from mcp import Client

from tests.conftest import error_text, ok
from tests.servers.docker.conftest import run_loop

pytestmark = pytest.mark.anyio


async def test_inspect_limits_labels_and_redacted_env(client: Client, image: str, uid: str) -> None:
    await run_loop(
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
    await run_loop(client, image, uid)
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


async def test_logs_byte_cap_with_multibyte_characters(client: Client, image: str, uid: str) -> None:
    lines = "; ".join(f'echo "línea-{i}-äöü-✓"' for i in range(1, 61))
    base = {"network_mode": "none", "labels": {"bam-test": uid}, "wait_s": 30}
    ok(
        await client.call_tool(
            "docker_container_run", {**base, "image": image, "name": f"{uid}-ml", "command": ["sh", "-c", lines]}
        )
    )
    ok(
        await client.call_tool(
            "docker_container_run", {**base, "image": image, "name": f"{uid}-long", "command": ["echo", "é" * 1000]}
        )
    )

    many = ok(await client.call_tool("docker_container_logs", {"container": f"{uid}-ml", "max_bytes": 257}))
    got = many["text"].splitlines()
    assert many["truncated"] is True and len(many["text"].encode()) <= 257 and "\ufffd" not in many["text"]
    assert got == [f"línea-{i}-äöü-✓" for i in range(61 - len(got), 61)] and many["lines"] == len(got) >= 10
    # one line longer than the cap: 257 bytes of 2-byte characters start inside one, which is left out
    long = ok(await client.call_tool("docker_container_logs", {"container": f"{uid}-long", "max_bytes": 257}))
    assert long["truncated"] is True and long["text"] == "é" * 128 and long["lines"] == 1
