"""Shared building blocks of the tool modules: the tool contract, safety policy, backends, output."""

from servers._common.backend import Backend, BackendUnavailable, Health, NotConfigured, run_sync
from servers._common.errors import tool_error
from servers._common.output import (
    cap_items,
    json_size,
    looks_secret_value,
    redact,
    redact_env,
    redact_output,
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
    "ToolPolicy",
    "ToolSpec",
    "cap_items",
    "json_size",
    "lifespan_state",
    "looks_secret_value",
    "open_world",
    "redact",
    "redact_env",
    "redact_output",
    "redact_text",
    "register_tools",
    "run_sync",
    "to_jsonable",
    "tool_error",
    "truncate_text",
]
