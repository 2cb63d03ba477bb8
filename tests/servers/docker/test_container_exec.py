"""docker_container_exec on the real engine: exit code and streams, byte cap, redaction, and the bounded wait."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from mcp import Client

from servers.docker import build_server
from tests.conftest import ok
from tests.servers.docker.conftest import ADMIN, CUT_SECRET, run_loop

pytestmark = pytest.mark.anyio


async def test_exec_is_bounded_and_redacted(admin: Client, image: str, uid: str) -> None:
    await run_loop(admin, image, uid)
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


async def _timed_exec(c: Client, container: str, command: list[str]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    r = ok(await c.call_tool("docker_container_exec", {"container": container, "command": command}))
    return r, time.monotonic() - started


async def test_exec_deadline_returns_partial_output_without_blocking(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    monkeypatch.setenv("BAM_DOCKER_EXEC_TIMEOUT_S", "1.5")
    async with Client(build_server(policy=ADMIN)) as c:
        await run_loop(c, image, uid)
        name = f"{uid}-loop"
        done: dict[str, float] = {}
        results: dict[str, Any] = {}

        async def slow() -> None:
            results["exec"], _ = await _timed_exec(c, name, ["sh", "-c", "echo before; echo oops >&2; sleep 30"])
            done["exec"] = time.monotonic()

        async def other() -> None:
            await anyio.sleep(0.3)  # while the exec is being read
            results["info"] = ok(await c.call_tool("docker_engine_info", {}))
            done["info"] = time.monotonic()

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(other)
        assert 1.4 <= done["exec"] - started < 10  # the deadline, not `sleep 30` nor the 60 s engine timeout
        assert done["info"] < done["exec"] and results["info"]["api_version"]  # the event loop kept serving
        r = results["exec"]
        assert r["exit_code"] is None and r["stdout"] == "before\n" and r["truncated"] is False
        assert r["stderr"].startswith("oops\n[timed out: stopped reading after 1.5s (BAM_DOCKER_EXEC_TIMEOUT_S)")
        assert "the command was killed" in r["stderr"]

        # silent from the start: `sleep 30` in busybox
        silent, took = await _timed_exec(c, name, ["sleep", "30"])
        assert took < 10 and silent["exit_code"] is None and silent["stdout"] == ""
        assert silent["stderr"].startswith("[timed out: stopped reading after 1.5s")
        assert silent["stderr"].endswith("the command was killed]")
        top = ok(await c.call_tool("docker_container_top", {"container": name}))
        assert not [p for p in top["processes"] if "sleep 30" in str(p)]  # killed, not left running
        # a command that ends in time is unaffected by the deadline
        quick, _ = await _timed_exec(c, name, ["sh", "-c", "sleep 0.2; echo done; exit 4"])
        assert quick["exit_code"] == 4 and quick["stdout"] == "done\n" and quick["stderr"] == ""


async def test_exec_deadline_defaults_to_the_engine_timeout(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    monkeypatch.delenv("BAM_DOCKER_EXEC_TIMEOUT_S", raising=False)
    monkeypatch.setenv("BAM_DOCKER_TIMEOUT_S", "2")
    async with Client(build_server(policy=ADMIN)) as c:
        await run_loop(c, image, uid)
        r, took = await _timed_exec(c, f"{uid}-loop", ["sleep", "30"])
        assert took < 10 and r["exit_code"] is None
        assert "stopped reading after 2s (BAM_DOCKER_TIMEOUT_S)" in r["stderr"]


async def test_exec_cap_cutting_a_secret_line_or_a_character(
    monkeypatch: pytest.MonkeyPatch, cleanup: None, image: str, uid: str
) -> None:
    monkeypatch.setenv("BAM_DOCKER_MAX_LOG_BYTES", "2000")
    async with Client(build_server(policy=ADMIN)) as c:
        await run_loop(c, image, uid)
        name = f"{uid}-loop"
        r, _ = await _timed_exec(c, name, ["sh", "-c", CUT_SECRET])
        assert r["truncated"] is True and r["exit_code"] == 0
        assert "hunter2" not in r["stdout"] and "SWORD" not in r["stdout"]
        assert r["stdout"].splitlines()[0] == "y" * 19 and len(r["stdout"].encode()) <= 2000
        # one long line of 3-byte characters: both the raw read and the byte cap start inside one, which is left
        # out (no U+FFFD); 93000 = 3000 whole lines of 31 bytes
        euro, _ = await _timed_exec(c, name, ["sh", "-c", "yes €€€€€€€€€€ | head -c 93000 | tr -d '\\n'"])
        assert euro["truncated"] is True and "\ufffd" not in euro["stdout"]
        assert set(euro["stdout"]) == {"€"} and 1990 <= len(euro["stdout"].encode()) <= 2000


async def test_cancelled_exec_is_killed(admin: Client, image: str, uid: str) -> None:
    """A client cancel shuts the exec socket down (freeing the thread) and kills the command's process group."""
    await run_loop(admin, image, uid)
    name = f"{uid}-loop"
    started = time.monotonic()
    with anyio.move_on_after(2.0):
        await admin.call_tool("docker_container_exec", {"container": name, "command": ["sh", "-c", "sleep 41; echo x"]})
        raise AssertionError("the exec answered before the cancel")
    assert time.monotonic() - started < 5  # the cancel did not wait for the command or the engine timeout
    top = ok(await admin.call_tool("docker_container_top", {"container": name}))
    assert not [p for p in top["processes"] if "sleep 41" in str(p)]
    again = ok(await admin.call_tool("docker_container_exec", {"container": name, "command": ["echo", "next"]}))
    assert again["stdout"] == "next\n" and again["exit_code"] == 0
