"""Shared pieces of the aws tools: parameter groups (`@grouped`) and result models filled by `from_aws`."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import pytest
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers.aws.client import Target
from servers.aws.common import From, Listing, On, ShortListing, from_aws, grouped

pytestmark = pytest.mark.anyio


@grouped
async def _listing(ctx: Context[Any, Any], prefix: str | None = None, *, ask: Listing) -> tuple[Any, ...]:
    return ctx, prefix, ask


@grouped
async def _short(ctx: Context[Any, Any], *, ask: ShortListing) -> ShortListing:
    return ask


async def test_the_fields_stand_in_place_of_the_group_and_the_tool_gets_the_group() -> None:
    sig = inspect.signature(_listing)
    assert list(sig.parameters) == ["ctx", "prefix", "max_items", "next_token", "region", "profile", "role_arn"]
    assert all(sig.parameters[n].default is None for n in ("max_items", "next_token", "region"))
    ctx, prefix, ask = await _listing("ctx", region="eu-west-1", max_items=3, role_arn="")
    assert (ctx, prefix) == ("ctx", None)
    assert ask == Listing(max_items=3, region="eu-west-1", role_arn="")
    assert ask.where == Target(region="eu-west-1")  # "" means the default, as omitting it does


async def test_a_group_may_narrow_a_field_of_the_group_it_extends() -> None:
    limit = inspect.signature(_short).parameters["max_items"].annotation
    assert "le=100" in repr(limit)
    ask = await _short(ctx=None, max_items=5, profile="p")
    assert ask == ShortListing(max_items=5, profile="p")
    assert ask.size(None) == 5  # type: ignore[arg-type]
    assert (await _short(ctx=None)).size(None) == 20  # type: ignore[arg-type]


async def _plain(ctx: Context[Any, Any]) -> None:
    return None


async def _overlapping(ctx: Context[Any, Any], *, ask: Listing, on: On) -> None:
    return None


def test_a_tool_without_a_group_or_with_clashing_groups_is_refused() -> None:
    with pytest.raises(TypeError, match="no parameter typed as a `Params` group"):
        grouped(_plain)
    with pytest.raises(ValueError, match="duplicate parameter name"):
        grouped(_overlapping)


class _Thing(BaseModel):
    id: Annotated[str, From("Id")]
    state: Annotated[str | None, From("State", "Name")]
    size: Annotated[int | None, From("Size", then=int)]
    tags: Annotated[list[str], From("Tags")] = Field(default_factory=list)
    note: str


def test_from_aws_follows_paths_converts_values_and_keeps_defaults() -> None:
    t = from_aws(_Thing, {"Id": "a", "State": {"Name": "up"}, "Size": "3", "Tags": ["x"]}, note="n")
    assert t == _Thing(id="a", state="up", size=3, tags=["x"], note="n")
    bare = from_aws(_Thing, {"Id": "b", "State": None}, note="m", size=7)  # given values win over the answer
    assert bare == _Thing(id="b", state=None, size=7, tags=[], note="m")
