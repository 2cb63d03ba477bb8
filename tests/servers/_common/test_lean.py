"""Lean tool definitions: descriptions without indentation, schemas without what tells the model nothing."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from servers._common.tools import (
    READ,
    CompactResults,
    ToolSpec,
    lean_description,
    lean_schema,
    make_policy,
    register_tools,
)

pytestmark = pytest.mark.anyio


class Out(BaseModel):
    title: str | None = Field(description="A field that is called title")
    rows: list[dict[str, Any]]


def sample(
    title: Annotated[str, Field(description="A parameter called title")],
    limit: Annotated[int | None, Field(ge=1, description="Items per page (default 50, capped by the server)")] = None,
    mode: Annotated[str, Field(description="user (default), system or all")] = "user",
) -> Out:
    """Read things.

    Indented second paragraph
    wrapped over two lines.
    """
    return Out(title=title, rows=[{"a": 1, "b": [1, 2]}])


def walk(schema: Any, keys: list[str]) -> None:
    if isinstance(schema, dict):
        for k, v in schema.items():
            keys.append(k)
            if k == "properties":
                for sub in v.values():
                    walk(sub, keys)
            else:
                walk(v, keys)
    elif isinstance(schema, list):
        for v in schema:
            walk(v, keys)


def server() -> MCPServer[Any]:
    s: MCPServer[Any] = MCPServer("t", middleware=[CompactResults()])
    register_tools(s, [ToolSpec(sample, "sample", "Sample", READ)], module="m", prefix="m_", policy=make_policy())
    return s


async def test_registered_definition_is_lean() -> None:
    (tool,) = await server().list_tools()
    assert tool.description == "Read things.\n\nIndented second paragraph wrapped over two lines."
    props = tool.input_schema["properties"]
    assert set(props) == {"title", "limit", "mode"}  # a property named `title` survives
    keys: list[str] = []
    walk({k: v for k, v in tool.input_schema.items() if k != "properties"}, keys)
    for p in props.values():
        walk(p, keys)
    assert "title" not in keys and "anyOf" not in keys and "default" in keys
    assert props["limit"] == {"type": "integer", "minimum": 1, "description": "Items per page"}
    assert props["mode"]["description"] == "user, system or all"
    out = tool.output_schema
    assert out is not None and "title" in out["properties"] and "title" not in out
    assert out["properties"]["title"]["type"] == ["string", "null"]  # a result field may be null


async def test_text_content_is_compact_json_and_structured_content_canonical() -> None:
    async with Client(server()) as c:
        r = await c.call_tool("m_sample", {"title": "x"})
    assert r.structured_content == {"title": "x", "rows": [{"a": 1, "b": [1, 2]}]}
    assert r.content[0].text == '{"title":"x","rows":[{"a":1,"b":[1,2]}]}'  # type: ignore[union-attr]


def test_lean_description_of_plain_and_listed_text() -> None:
    assert lean_description("One line.") == "One line."
    assert lean_description("Head.\n\n    - a\n    - b\n") == "Head.\n\n- a\n- b"


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
schemas = st.recursive(
    st.dictionaries(st.sampled_from(["type", "title", "default", "description", "enum"]), json_leaf, max_size=4),
    lambda inner: st.dictionaries(
        st.sampled_from(["properties", "anyOf", "items", "title", "$defs"]),
        st.one_of(inner, st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
        max_size=3,
    ),
    max_leaves=20,
)


@given(schemas)
def test_lean_schema_is_idempotent_and_never_adds_keys(schema: dict[str, Any]) -> None:
    for inputs in (True, False):
        once = lean_schema(schema, inputs=inputs)
        assert lean_schema(once, inputs=inputs) == once
        assert len(str(once)) <= len(str(schema)) + 2 * str(schema).count("anyOf") * 10
