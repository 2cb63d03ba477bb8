"""The command-line interface: `tools`, `doctor`, flags and their environment variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from composite.cli import parser, settings_from_args


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "composite", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_tools_json_lists_annotations_and_schemas() -> None:
    out = run("tools", "--json", "--servers", "postgres", "--allow-writes", "postgres")
    assert out.returncode == 0, out.stderr
    tools = {t["name"]: t for t in json.loads(out.stdout)}
    assert tools["pg_execute"]["annotations"]["destructiveHint"] is True
    assert tools["pg_query"]["annotations"] == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,
        "openWorldHint": False,
    }
    assert "sql" in tools["pg_query"]["inputSchema"]["properties"]
    assert "truncated" in tools["pg_query"]["outputSchema"]["required"]
    assert tools["pg_execute"]["outputSchema"]["properties"]["committed"]["type"] == "boolean"


def test_tools_table_respects_env_policy_and_logs_only_to_stderr() -> None:
    out = run("tools", env={"BAM_SERVERS": "postgres", "BAM_EXCLUDE_TOOLS": "pg_explain"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == "8 tools" and not any("pg_explain" in line for line in lines)
    for line in out.stderr.strip().splitlines():
        json.loads(line)  # structured, one JSON object per line


def test_doctor_exit_status_follows_backend_health(database_url: str) -> None:
    good = run("doctor", "--servers", "postgres")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "postgres" in good.stdout and " up " in good.stdout
    bad = run("doctor", "--servers", "postgres", env={"DATABASE_URL": "postgresql://a:hunter2@127.0.0.1:1/x"})
    assert bad.returncode == 1
    assert "down" in bad.stdout and "127.0.0.1:1/x" in bad.stdout
    assert "hunter2" not in bad.stdout + bad.stderr


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAM_TRANSPORT", "sse")
    monkeypatch.setenv("BAM_PORT", "9000")
    monkeypatch.setenv("BAM_ALLOW_WRITES", "redis")
    s = settings_from_args(parser().parse_args(["serve", "--port", "9100", "--allow-writes"]))
    assert (s.transport, s.port, s.allow_writes) == ("sse", 9100, "all")
    s = settings_from_args(parser().parse_args(["serve", "--stateless", "--no-destructive", "--servers", "pg"]))
    assert s.stateless and not s.allow_destructive and s.servers == "pg"


def test_bad_input_is_a_clear_error() -> None:
    out = run("tools", "--servers", "nosuch")
    assert out.returncode == 2 and "unknown module 'nosuch'" in out.stderr
    out = run("serve", "--transport", "carrier-pigeon")
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_exposed_http_without_auth_is_warned_about() -> None:
    from pydantic import SecretStr

    from composite.cli import exposure_warning
    from composite.settings import AppSettings

    assert exposure_warning(AppSettings(transport="http", host="127.0.0.1")) is None
    assert exposure_warning(AppSettings(transport="http", host="localhost")) is None
    assert exposure_warning(AppSettings(transport="stdio", host="0.0.0.0")) is None
    text = exposure_warning(AppSettings(transport="sse", host="0.0.0.0"))
    assert text is not None and "BAM_AUTH_TOKENS" in text
    assert exposure_warning(AppSettings(transport="http", host="0.0.0.0", auth_tokens=SecretStr("t"))) is None
