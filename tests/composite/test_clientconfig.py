"""`backend-architect-mcp config CLIENT`: each output checked against the client's documented format, secrets
never printed, and a generated stdio entry actually starts a working server."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters

from composite import clientconfig
from composite.cli import parser, settings_from_args
from servers.registry import MODULES
from tests.conftest import ok

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-Pa55word-4d8f1c"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENV = {
    "DATABASE_URL": f"postgresql://app:{SECRET}@127.0.0.1:5432/app",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "AWS_REGION": "eu-west-1",
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "BAM_PG_STATEMENT_TIMEOUT_MS": "5000",
}

# The documented shapes (Claude Desktop `claude_desktop_config.json`, Cursor `mcp.json`: `mcpServers` with
# command/args/env or url/headers; VS Code `.vscode/mcp.json`: `servers` entries with `type`, plus `inputs`).
STDIO_ENTRY: dict[str, Any] = {
    "type": "object",
    "required": ["command", "args"],
    "properties": {
        "command": {"type": "string", "minLength": 1},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
REMOTE_ENTRY: dict[str, Any] = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}
MCP_SERVERS = {
    "type": "object",
    "required": ["mcpServers"],
    "properties": {"mcpServers": {"type": "object", "additionalProperties": {"anyOf": [STDIO_ENTRY, REMOTE_ENTRY]}}},
    "additionalProperties": False,
}
VSCODE_INPUT = {
    "type": "object",
    "required": ["type", "id", "description"],
    "properties": {
        "type": {"enum": ["promptString", "pickString", "command"]},
        "id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
        "description": {"type": "string"},
        "password": {"type": "boolean"},
    },
}
VSCODE = {
    "type": "object",
    "required": ["servers"],
    "properties": {
        "inputs": {"type": "array", "items": VSCODE_INPUT},
        "servers": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    {
                        **STDIO_ENTRY,
                        "required": ["type", "command"],
                        "properties": {**STDIO_ENTRY["properties"], "type": {"const": "stdio"}},
                    },
                    {
                        **REMOTE_ENTRY,
                        "required": ["type", "url"],
                        "properties": {**REMOTE_ENTRY["properties"], "type": {"enum": ["http", "sse"]}},
                    },
                ]
            },
        },
    },
    "additionalProperties": False,
}


def config(*args: str, env: dict[str, str] | None = None) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BAM_", "AWS_", "REDIS_", "DATABASE_"))}
    out = subprocess.run(
        [sys.executable, "-m", "composite", "config", *args],
        capture_output=True,
        text=True,
        env={**base, **(ENV if env is None else env)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert SECRET not in out.stdout + out.stderr and AWS_SECRET not in out.stdout + out.stderr
    return out.stdout


@pytest.mark.parametrize("client", ["claude-desktop", "cursor"])
def test_mcp_servers_format(client: str) -> None:
    data = json.loads(config(client, "--servers", "pg,redis,aws", "--allow-writes", "pg"))
    jsonschema.validate(data, MCP_SERVERS)
    entry = data["mcpServers"]["backend-architect"]
    assert entry["command"] == "uvx"
    assert entry["args"][0].startswith("backend-architect-mcp@")
    assert entry["args"][1:] == ["serve", "--servers", "postgres,redis,aws", "--allow-writes", "postgres"]
    placeholder = {"claude-desktop": "<{}>", "cursor": "${{env:{}}}"}[client]
    assert entry["env"] == {
        "DATABASE_URL": placeholder.format("DATABASE_URL"),
        "BAM_PG_STATEMENT_TIMEOUT_MS": "5000",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "AWS_REGION": "eu-west-1",
        "AWS_SECRET_ACCESS_KEY": placeholder.format("AWS_SECRET_ACCESS_KEY"),
    }


def test_vscode_format_prompts_for_secrets() -> None:
    data = json.loads(config("vscode", "--servers", "postgres"))
    jsonschema.validate(data, VSCODE)
    entry = data["servers"]["backend-architect"]
    assert entry["type"] == "stdio" and entry["command"] == "uvx"
    assert entry["env"]["DATABASE_URL"] == "${input:database-url}"
    assert data["inputs"] == [
        {"type": "promptString", "id": "database-url", "description": "DATABASE_URL", "password": True}
    ]


def test_claude_code_command() -> None:
    line = config("claude-code", "--servers", "postgres,aws", "--no-destructive").strip()
    argv = shlex.split(line)
    # `claude mcp add [options] <name> -- <command> [args...]`: options before the name, env as KEY=value
    assert argv[:5] == ["claude", "mcp", "add", "--transport", "stdio"]
    sep = argv.index("--")
    name, options = argv[sep - 1], argv[5 : sep - 1]
    assert name == "backend-architect"
    envs = dict(options[i + 1].split("=", 1) for i in range(0, len(options), 2) if options[i] == "--env")
    assert all(options[i] == "--env" for i in range(0, len(options), 2))
    assert envs["AWS_REGION"] == "eu-west-1"
    assert envs["DATABASE_URL"] == "$DATABASE_URL"  # expanded by the user's shell, never printed
    assert envs["AWS_SECRET_ACCESS_KEY"] == "$AWS_SECRET_ACCESS_KEY"
    assert '--env DATABASE_URL="$DATABASE_URL"' in line
    assert argv[sep + 1] == "uvx" and argv[sep + 3 :] == ["serve", "--servers", "postgres,aws", "--no-destructive"]


def test_remote_http_entries() -> None:
    url = "http://127.0.0.1:8000/mcp"
    with_token = {**ENV, "BAM_AUTH_TOKENS": SECRET}
    cursor = json.loads(config("cursor", "--url", url, env=with_token))
    jsonschema.validate(cursor, MCP_SERVERS)
    assert cursor["mcpServers"]["backend-architect"] == {
        "url": url,
        "headers": {"Authorization": "Bearer ${env:BAM_AUTH_TOKEN}"},
    }
    vscode = json.loads(config("vscode", "--url", url, env=with_token))
    jsonschema.validate(vscode, VSCODE)
    assert vscode["servers"]["backend-architect"]["type"] == "http"
    assert shlex.split(config("claude-code", "--url", url, env=with_token)) == [
        "claude", "mcp", "add", "--transport", "http", "backend-architect", url,
        "--header", "Authorization: Bearer $BAM_AUTH_TOKEN",
    ]  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-m", "composite", "config", "claude-desktop", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "Connectors" in out.stderr


async def test_generated_entry_starts_a_working_server(database_url: str) -> None:
    """The `python` launcher's Claude Desktop entry, with its placeholder filled in, serves the tools."""
    env = {"DATABASE_URL": database_url}
    entry: dict[str, Any] = json.loads(config("claude-desktop", "--launcher", "python", "--servers", "pg", env=env))[
        "mcpServers"
    ]["backend-architect"]
    assert entry["env"] == {"DATABASE_URL": "<DATABASE_URL>"}
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env={**os.environ, **env})
    async with Client(params) as c:
        assert ok(await c.call_tool("pg_query", {"sql": "SELECT 1 AS one"}))["rows"] == [{"one": 1}]


def test_version_on_every_entry_point() -> None:
    from servers._common.version import VERSION

    for cmd in (
        ["-m", "composite"],
        *(["-m", f"servers.{m}"] for m in MODULES),
    ):
        out = subprocess.run([sys.executable, *cmd, "--version"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip().endswith(VERSION), (cmd, out.stdout, out.stderr)


# -- hostile values: whatever the environment holds, the output stays well-formed and never leaks it -----------

ENV_VALUES = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=80)
SHELLISH = st.sampled_from(["$(id)", "`id`", "a'b", 'a"b', "x;rm -rf ~", "a\nb", "--help", "-- x", "${HOME}", "\\"])


def _render(client: str, environ: dict[str, str]) -> str:
    args = parser().parse_args(["config", client, "--servers", "redis"])
    return clientconfig.render(args, settings_from_args(args), environ)


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(ENV_VALUES, SHELLISH, SHELLISH.map(lambda v: f"redis://u:{v}@h:6379/0")))
def test_claude_code_command_carries_any_value_exactly_or_as_a_reference(value: str) -> None:
    line = _render("claude-code", {"REDIS_URL": value})
    argv = shlex.split(line)
    env = argv[argv.index("--env") + 1]
    if clientconfig.is_secret("REDIS_URL", value):
        assert env == "REDIS_URL=$REDIS_URL" and '--env REDIS_URL="$REDIS_URL"' in line
    else:
        assert env == f"REDIS_URL={value}"  # one argument, byte for byte: nothing the shell would run
    assert argv[argv.index("--") + 1 :] == ["uvx", argv[argv.index("--") + 2], "serve", "--servers", "redis"]


@settings(max_examples=150, deadline=None)
@given(value=st.one_of(ENV_VALUES, SHELLISH), client=st.sampled_from(["claude-desktop", "cursor", "vscode"]))
def test_json_configs_carry_any_value_exactly_or_as_a_placeholder(value: str, client: str) -> None:
    data = json.loads(_render(client, {"REDIS_URL": value}))
    entry = (data.get("mcpServers") or data["servers"])["backend-architect"]
    got = entry["env"]["REDIS_URL"]
    assert got == value if not clientconfig.is_secret("REDIS_URL", value) else value not in got


@given(name=st.text(min_size=1, max_size=20))
def test_only_plain_variable_names_reach_the_output(name: str) -> None:
    line = _render("claude-code", {f"BAM_REDIS_{name}": "1"})
    plain = all(c.isascii() and (c.isupper() or c.isdigit() or c == "_") for c in name)
    assert (f"--env BAM_REDIS_{name}=1" in line) == plain
