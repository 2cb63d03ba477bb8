"""Shared building blocks of the tool modules: the tool contract, safety policy, backends, output."""

from servers._common.backend import Backend, BackendUnavailable, Health, NotConfigured, run_sync
from servers._common.errors import raise_tool_error, tool_error
from servers._common.output import (
    Page,
    cap_items,
    json_size,
    redact,
    redact_text,
    to_jsonable,
    truncate_text,
)
from servers._common.tools import (
    ADMIN,
    DESTRUCTIVE,
    READ,
    READ_OPEN,
    WRITE,
    WRITE_IDEMPOTENT,
    ModuleInfo,
    ToolPolicy,
    ToolSpec,
    lifespan_state,
    open_world,
    register_tools,
)

__all__ = [
    "ADMIN",
    "DESTRUCTIVE",
    "READ",
    "READ_OPEN",
    "WRITE",
    "WRITE_IDEMPOTENT",
    "Backend",
    "BackendUnavailable",
    "Health",
    "ModuleInfo",
    "NotConfigured",
    "Page",
    "ToolPolicy",
    "ToolSpec",
    "cap_items",
    "json_size",
    "lifespan_state",
    "open_world",
    "raise_tool_error",
    "redact",
    "redact_text",
    "register_tools",
    "run_sync",
    "to_jsonable",
    "tool_error",
    "truncate_text",
]
