"""The raw-command tool: any other command, classified by Redis's own COMMAND INFO metadata as read,
write, admin or session, in three variants (read-only, read/write, admin) that `register` chooses from."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, redact_output, tool_error
from servers._common.output import REDACTED, is_secret_key
from servers.redis.base import Node, json_item, state_of
from servers.redis.client import CLASS_RANK, CommandClass, CommandMeta, Redis, plain


class CommandResult(BaseModel):
    command: str = Field(description="Command (and subcommand) as classified")
    classification: Literal["read", "write", "admin"]
    flags: list[str] = Field(description="COMMAND INFO flags")
    acl_categories: list[str] = Field(description="COMMAND INFO ACL categories")
    result: Any = Field(description="The reply (bytes as text or {base64}); capped")
    truncated: bool
    notes: list[str] = Field(default_factory=list)


_NEEDS = {
    "write": "writes allowed for redis (--allow-writes redis / BAM_ALLOW_WRITES=redis)",
    "admin": "admin allowed for redis (--allow-admin redis plus --allow-writes redis)",
}
_SESSION_HINTS = {
    "subscription": "use redis_subscribe (a bounded listen on its own connection)",
    "@transaction": "a transaction cannot span tool calls on a shared pool; send single commands instead",
    "@blocking": "use the non-blocking form: XREAD/XREADGROUP without BLOCK, LPOP/RPOP/LMPOP instead of "
    "BLPOP/BRPOP/BLMPOP, or redis_stream_range",
    "@connection": "the db, user, protocol and reply mode of the pooled connections come from REDIS_URL; "
    "point REDIS_URL at another db or ACL user instead",
    "takeover": "MONITOR, SCRIPT DEBUG and replication commands are not offered; see traffic with "
    "redis_slowlog, redis_clients_list and redis_latency",
}
_ACL_HASH = re.compile(r"#[0-9a-fA-F]{64}")
"""A password hash in ACL LIST / ACL GETUSER rules."""


def mask_reply(value: Any) -> Any:
    """Secrets masked in a reply about the server (not stored data): values under secret-looking names
    (CONFIG GET requirepass/masterauth, ACL GETUSER passwords), ACL password hashes, and `name=secret` or
    token-shaped text (CLIENT LIST names, ACL LOG). Numbers and booleans are never masked."""
    if isinstance(value, dict):
        return {k: _mask_named(str(k), v) for k, v in value.items()}
    if isinstance(value, list):  # RESP2 maps are flat name/value lists
        named = [i + 1 for i, v in enumerate(value[:-1]) if isinstance(v, str) and is_secret_key(v)]
        return [_mask_named(value[i - 1], v) if i in named else mask_reply(v) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _ACL_HASH.sub("#" + REDACTED, redact_output(value))
    return value


def _mask_named(name: str, value: Any) -> Any:
    if is_secret_key(name) and isinstance(value, str) and value:
        return REDACTED
    if is_secret_key(name) and isinstance(value, list):
        return [REDACTED if isinstance(v, str) and v else mask_reply(v) for v in value]
    return mask_reply(value)


def _cap_reply(value: Any, max_bytes: int, max_items: int) -> tuple[Any, bool]:
    if isinstance(value, list):
        return cap_items(value, max_items=max_items, max_bytes=max_bytes, size=json_item)
    if isinstance(value, dict):
        pairs, cut = cap_items(
            ([k, v] for k, v in value.items()), max_items=max_items, max_bytes=max_bytes, size=json_item
        )
        return dict(pairs), cut
    if isinstance(value, str) and len(value.encode()) > max_bytes:
        return value.encode()[:max_bytes].decode(errors="ignore"), True
    return value, False


async def _classified(r: Redis, args: list[str], rank: int) -> CommandMeta:
    """Redis's metadata for `args`, or a refusal: unknown, connection state, or above the allowed class."""
    try:
        meta = await r.resolve(args)
    except Exception as exc:
        raise r.translate(exc, "look up the command") from exc
    if meta is None:
        raise tool_error(
            "run the command",
            f"unknown command {' '.join(args[:2])!r} on this server",
            code="ERR",
            hint="check the name (COMMAND DOCS); module commands need the module loaded",
        )
    if meta.container and len(args) < 2:
        raise tool_error(
            "run the command", f"{meta.name.upper()} needs a subcommand", hint=f"COMMAND DOCS {meta.name} lists them"
        )
    if meta.cls == "session":
        raise tool_error(
            "run the command",
            f"refused: {meta.name.upper()} changes, holds or takes over the connection it runs on ({meta.reason}); "
            "such commands never run on the shared connection pool",
            code="REFUSED",
            hint=_SESSION_HINTS[meta.reason],
        )
    if CLASS_RANK[meta.cls] > rank:
        raise tool_error(
            "run the command",
            f"refused: {meta.name.upper()} is {'an' if meta.cls == 'admin' else 'a'} {meta.cls} command per Redis's "
            f"command metadata ({meta.reason})",
            code="REFUSED",
            hint=f"this needs {_NEEDS[meta.cls]}",
        )
    return meta


async def _run(r: Redis, meta: CommandMeta, args: list[str], node: str | None) -> tuple[Any, list[str]]:
    """Run the command exactly as classified (Redis's own spelling of the (sub)command, then the arguments)
    and return Redis's reply unreshaped; in a cluster, key commands are routed by slot, others go to `node`."""
    parts = meta.name.upper().split("|")
    sent = [*parts, *args[len(parts) :]]
    notes: list[str] = []
    try:
        cluster = await r.is_cluster()
        target = await r.pick_node(node) if node or (cluster and not meta.keys) else None
        if target is not None and not node:
            notes.append(f"keyless command ran on node {target.name}; pass `node` to choose another")
        if cluster and target is None:
            return await (await r.client()).execute_command(*sent), notes
        return await r.node_command(target, *sent), notes
    except Exception as exc:
        raise r.translate(exc, f"run {meta.name.upper()}") from exc


def make_command_tool(allowed: CommandClass) -> Callable[..., Awaitable[CommandResult]]:
    """The raw-command tool, allowing commands up to `allowed` (read < write < admin)."""
    rank = CLASS_RANK[allowed]

    async def redis_command(
        ctx: Context[Any, Any],
        args: Annotated[
            list[str],
            Field(min_length=1, description="Command and arguments, e.g. ['GET', 'k']"),
        ],
        node: Node = None,
    ) -> CommandResult:
        r = state_of(ctx)
        meta = await _classified(r, args, rank)
        reply, notes = await _run(r, meta, args, node)
        value, cut = _cap_reply(plain(reply), r.settings.max_bytes, r.settings.max_items_limit)
        if cut:
            notes.append("reply cut at the size caps")
        stored_data = meta.keys and meta.cls != "admin"
        return CommandResult(
            command=meta.name,
            classification=meta.cls,  # type: ignore[arg-type]
            flags=list(meta.flags),
            acl_categories=list(meta.acl_categories),
            result=value if stored_data or meta.name.startswith("command|") else mask_reply(value),
            truncated=cut,
            notes=notes,
        )

    what = {
        "read": "read-only commands only",
        "write": "read and write commands (not admin, @dangerous or scripting ones)",
        "admin": "any command, including admin, @dangerous and scripting ones (CONFIG SET, EVAL, FCALL, ...)",
    }[allowed]
    redis_command.__doc__ = (
        f"Run a Redis command no other tool covers; allowed here: {what}. Connection-state commands "
        "(MULTI, SUBSCRIBE, MONITOR, SELECT, blocking forms) are refused."
    )
    return redis_command
