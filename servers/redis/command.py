"""The raw-command tool: any other command, classified by Redis's own COMMAND INFO metadata as read,
write, admin or session, in three variants (read-only, read/write, admin) that `register` chooses from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import redact, tool_error
from servers.redis.base import Collector, Node, state
from servers.redis.client import CLASS_RANK, CommandClass, plain, translate


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


def _cap_reply(value: Any, max_bytes: int, max_items: int) -> tuple[Any, bool]:
    if isinstance(value, list):
        col = Collector(max_items, max_bytes)
        for v in value:
            if not col.add(v):
                break
        return col.items, len(col.items) < len(value)
    if isinstance(value, dict):
        col = Collector(max_items, max_bytes)
        for k, v in value.items():
            if not col.add([k, v]):
                break
        return dict(col.items), len(col.items) < len(value)
    if isinstance(value, str) and len(value.encode()) > max_bytes:
        return value.encode()[:max_bytes].decode(errors="ignore"), True
    return value, False


def make_command_tool(allowed: CommandClass) -> Callable[..., Awaitable[CommandResult]]:
    """The raw-command tool, allowing commands up to `allowed` (read < write < admin)."""
    rank = CLASS_RANK[allowed]

    async def redis_command(
        ctx: Context[Any, Any],
        args: Annotated[
            list[str],
            Field(min_length=1, description="Command and arguments, e.g. ['ZRANGE', 'board', '0', '9', 'WITHSCORES']"),
        ],
        node: Node = None,
    ) -> CommandResult:
        r = state(ctx)
        name = args[0].strip()
        try:
            meta = await r.command_meta(name)
            if meta is not None and meta.reason.startswith("container:") and len(args) > 1:
                meta = await r.command_meta(name, args[1])
        except Exception as exc:
            raise translate(exc, "look up the command", r) from exc
        if meta is None:
            raise tool_error(
                "run the command",
                f"unknown command {' '.join(args[:2])!r} on this server",
                code="ERR",
                hint="check the name (COMMAND DOCS); module commands need the module loaded",
            )
        if meta.cls == "session":
            raise tool_error(
                "run the command",
                f"refused: {meta.name.upper()} changes or blocks the connection state ({meta.reason})",
                code="REFUSED",
                hint="use redis_subscribe for pub/sub, redis_stream_range for streams; transactions, blocking "
                "and connection commands cannot run on the shared connection pool",
            )
        if CLASS_RANK[meta.cls] > rank:
            raise tool_error(
                "run the command",
                f"refused: {meta.name.upper()} is a {meta.cls} command per Redis's command metadata ({meta.reason})",
                code="REFUSED",
                hint=f"this needs {_NEEDS[meta.cls]}",
            )
        notes: list[str] = []
        try:
            client = await r.client()
            target = await r.pick_node(node) if node else None
            if target is not None:
                reply = await client.execute_command(*args, target_nodes=target)
            else:
                try:
                    reply = await client.execute_command(*args)
                except Exception as exc:  # a keyless command in a cluster: run it on one node
                    if "No way to dispatch" not in str(exc):
                        raise
                    target = await r.pick_node(None)
                    reply = await client.execute_command(*args, target_nodes=target)
                    notes.append(f"keyless command ran on node {target.name}; pass `node` to choose another")
        except Exception as exc:
            raise translate(exc, f"run {meta.name.upper()}", r) from exc
        value, cut = _cap_reply(plain(reply), r.settings.max_bytes, r.settings.max_items_limit)
        if cut:
            notes.append("reply cut at the size caps")
        return CommandResult(
            command=meta.name,
            classification=meta.cls,  # type: ignore[arg-type]
            flags=list(meta.flags),
            acl_categories=list(meta.acl_categories),
            result=redact(value) if meta.cls == "admin" else value,
            truncated=cut,
            notes=notes,
        )

    what = {
        "read": "read-only commands only (those Redis flags `readonly` and not @admin/@dangerous)",
        "write": "read and write commands (not @admin/@dangerous ones)",
        "admin": "any command, including @admin/@dangerous ones (CONFIG SET, FLUSHALL, ...)",
    }[allowed]
    redis_command.__doc__ = (
        "Run any other Redis command, classified by Redis's own COMMAND INFO metadata (flags and ACL "
        f"categories). This server allows {what}. Transactions, blocking and subscribe commands are refused."
    )
    return redis_command
