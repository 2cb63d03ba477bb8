"""`backend-architect-mcp config CLIENT`: the exact snippet (or command) that adds this server to an MCP client.

Built from the current settings: the selected modules and safety flags become `serve` flags; the backend
variables of those modules that are set in the environment become the server's environment. A value is
never printed when it is secret (secret-named variable, password in a URL, token-like value): it becomes
the client's own placeholder: `<NAME>` for Claude Desktop (no interpolation), `${env:NAME}` for Cursor,
`${input:NAME}` with a password prompt for VS Code, `"$NAME"` expanded by the user's shell for Claude Code.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from composite import modules as registry
from composite.settings import AppSettings
from servers._common.output import is_secret_key, looks_secret_value, redact_text
from servers._common.version import VERSION
from servers.registry import MODULES, load

CLIENTS = ("claude-desktop", "claude-code", "vscode", "cursor")
LAUNCHERS = ("uvx", "python", "docker")
IMAGE = "backend-architect-mcp"


def add_parser(sub: Any, add_selection: Any) -> None:
    """The `config` subcommand (with the same module/safety flags as `serve`)."""
    p = sub.add_parser("config", help="print the configuration snippet or command for an MCP client")
    p.add_argument("client", choices=CLIENTS, help="the MCP client to configure")
    p.add_argument("--name", default="backend-architect", help="server name in the client (default %(default)s)")
    p.add_argument(
        "--launcher",
        choices=LAUNCHERS,
        default="uvx",
        help="how the client starts the server: uvx (default), python (this interpreter), docker (the image)",
    )
    p.add_argument("--from", dest="source", help="uvx package spec or path (default backend-architect-mcp@VERSION)")
    p.add_argument("--url", help="connect to a running HTTP server (e.g. http://127.0.0.1:8000/mcp) instead")
    add_selection(p)


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    secret: bool


@dataclass(frozen=True)
class Launch:
    command: str
    args: list[str]
    env: list[EnvVar]


def is_secret(name: str, value: str) -> bool:
    """Secret-named variables, URLs with a password, values that look like tokens or keys."""
    return is_secret_key(name) or redact_text(value) != value or looks_secret_value(value)


_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def server_env(modules: list[str], environ: Mapping[str, str]) -> list[EnvVar]:
    """The set variables the selected modules read, in a stable order (only plain names: they reach a shell)."""
    out: list[EnvVar] = []
    for m in modules:
        info = load(m)  # its variables: `BAM_<MODULE>_*` plus the ecosystem's own names
        own = sorted(k for k in environ if k.startswith(info.env_prefix) and _ENV_NAME.fullmatch(k))
        keys = [n for n in info.client_env if environ.get(n)] + own
        out += [EnvVar(k, environ[k], is_secret(k, environ[k])) for k in dict.fromkeys(keys)]
    return out


def serve_flags(settings: AppSettings, modules: list[str]) -> list[str]:
    """`serve` flags reproducing the current module selection and safety policy."""
    flags = ["serve"]
    if modules != list(MODULES):
        flags += ["--servers", ",".join(modules)]
    for flag, value in (
        ("--allow-writes", settings.allow_writes),
        ("--allow-admin", settings.allow_admin),
        ("--tools", settings.tools),
        ("--exclude-tools", settings.exclude_tools),
    ):
        if value.strip():
            flags += [flag, registry.normalize_policy_modules(value) if flag.startswith("--allow") else value]
    if not settings.allow_destructive:
        flags.append("--no-destructive")
    return flags


def launch(args: argparse.Namespace, settings: AppSettings, environ: Mapping[str, str]) -> Launch:
    modules = registry.normalize(settings.servers)
    env = server_env(modules, environ)
    flags = serve_flags(settings, modules)
    if args.launcher == "python":
        return Launch(sys.executable, ["-m", "composite", *flags], env)
    if args.launcher == "docker":
        passed = [a for v in env for a in ("-e", v.name)]  # docker copies each value from the client's env block
        image = f"{IMAGE}:{VERSION}" if "+" not in VERSION else f"{IMAGE}:latest"
        return Launch("docker", ["run", "-i", "--rm", *passed, image, *flags], env)
    source = args.source or (f"backend-architect-mcp@{VERSION}" if "+" not in VERSION else "backend-architect-mcp")
    head = [source] if args.source is None else ["--from", source, "backend-architect-mcp"]
    return Launch("uvx", [*head, *flags], env)


def _input_id(name: str) -> str:
    return name.lower().replace("_", "-")


def _placeholder(client: str, v: EnvVar) -> str:
    if not v.secret:
        return v.value
    return {
        "claude-desktop": f"<{v.name}>",
        "cursor": f"${{env:{v.name}}}",
        "vscode": f"${{input:{_input_id(v.name)}}}",
    }[client]


def _auth_header(client: str, settings: AppSettings) -> dict[str, str]:
    if settings.auth_tokens is None:
        return {}
    token = {"cursor": "${env:BAM_AUTH_TOKEN}", "vscode": "${input:bam-auth-token}"}[client]
    return {"Authorization": f"Bearer {token}"}


def json_config(client: str, args: argparse.Namespace, settings: AppSettings, environ: Mapping[str, str]) -> Any:
    """`mcpServers` (Claude Desktop, Cursor) or `servers` + `inputs` (VS Code)."""
    inputs: list[dict[str, Any]] = []
    if args.url:
        if client == "claude-desktop":
            raise ValueError("Claude Desktop adds remote servers under Settings > Connectors, not in its JSON file")
        entry: dict[str, Any] = {"url": args.url}
        headers = _auth_header(client, settings)
        if headers:
            entry["headers"] = headers
        if client == "vscode":
            entry = {"type": "http", **entry}
            if headers:
                inputs.append(_prompt("bam-auth-token", "backend-architect-mcp bearer token"))
    else:
        run = launch(args, settings, environ)
        entry = {"command": run.command, "args": run.args, "env": {v.name: _placeholder(client, v) for v in run.env}}
        if client == "vscode":
            entry = {"type": "stdio", **entry}
            inputs += [_prompt(_input_id(v.name), v.name) for v in run.env if v.secret]
    if client == "vscode":
        return {"inputs": inputs, "servers": {args.name: entry}}
    return {"mcpServers": {args.name: entry}}


def _prompt(input_id: str, description: str) -> dict[str, Any]:
    return {"type": "promptString", "id": input_id, "description": description, "password": True}


def claude_code_command(args: argparse.Namespace, settings: AppSettings, environ: Mapping[str, str]) -> str:
    """`claude mcp add ...`: options before the name, the server command after `--`; secrets as "$NAME"."""
    if args.url:
        parts = ["claude", "mcp", "add", "--transport", "http", shlex.quote(args.name), shlex.quote(args.url)]
        if settings.auth_tokens is not None:
            parts += ["--header", '"Authorization: Bearer $BAM_AUTH_TOKEN"']
        return " ".join(parts)
    run = launch(args, settings, environ)
    parts = ["claude", "mcp", "add", "--transport", "stdio"]
    for v in run.env:
        value = f'"${v.name}"' if v.secret else shlex.quote(v.value)
        parts += ["--env", f"{v.name}={value}"]
    parts += [shlex.quote(args.name), "--", shlex.quote(run.command), *(shlex.quote(a) for a in run.args)]
    return " ".join(parts)


def render(args: argparse.Namespace, settings: AppSettings, environ: Mapping[str, str] | None = None) -> str:
    """The text `config CLIENT` prints."""
    env = os.environ if environ is None else environ
    if args.client == "claude-code":
        return claude_code_command(args, settings, env) + "\n"
    data = json_config(args.client, args, settings, env)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
