"""The one accessor of a module's lifespan state: each module binds it as `state_of = StateOf(KEY, TheState)`."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from mcp.server.mcpserver import Context

from servers._common.tools import lifespan_state

S = TypeVar("S")


class StateOf(Generic[S]):
    """`state_of(ctx)`: the `kind` object a module's `resources()` yielded, stored under `key` by the lifespan."""

    def __init__(self, key: str, kind: type[S]) -> None:
        self.key = key
        self.kind = kind

    def __call__(self, ctx: Context[Any, Any]) -> S:
        return cast(S, lifespan_state(ctx, self.key))
