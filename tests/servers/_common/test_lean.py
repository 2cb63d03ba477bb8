"""Lean tool definitions: descriptions without indentation, schemas without what tells the model nothing."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from servers._common.tools import (
    READ,
    ToolSpec,
    inline_defs,
    install_lean_results,
    lean_description,
    lean_schema,
    make_tools,
    structured_result,
    wire_result,
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


class Mount(BaseModel):
    target: str


def named(
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$", max_length=255)],
    keys: Annotated[list[str], Field(min_length=1)],
    mount: Mount | None = None,
) -> dict[str, Any]:
    """Use a name."""
    return {"name": name, "keys": len(keys), "target": mount.target if mount else None}


def server() -> MCPServer[Any]:
    specs = [ToolSpec(sample, "sample", "Sample", READ), ToolSpec(named, "named", "Named", READ)]
    s: MCPServer[Any] = MCPServer("t", tools=make_tools(specs, module="m", prefix="m_"))
    install_lean_results(s)
    return s


async def test_registered_definition_is_lean() -> None:
    tool = next(t for t in await server().list_tools() if t.name == "m_sample")
    assert tool.description == "Read things.\n\nIndented second paragraph wrapped over two lines."
    props = tool.input_schema["properties"]
    assert set(props) == {"title", "limit", "mode"}  # a property named `title` survives
    keys: list[str] = []
    walk({k: v for k, v in tool.input_schema.items() if k != "properties"}, keys)
    for p in props.values():
        walk(p, keys)
    assert "title" not in keys and "anyOf" not in keys and "default" in keys
    assert props["limit"] == {"type": "integer", "description": "Items per page"}  # `minimum: 1` goes without saying
    assert props["mode"]["description"] == "user, system or all"
    out = tool.output_schema
    assert out is not None and "title" in out["properties"] and "title" not in out
    assert out["properties"]["title"]["type"] == ["string", "null"]  # a result field may be null


async def test_text_content_is_compact_json_and_structured_content_canonical() -> None:
    async with Client(server()) as c:
        r = await c.call_tool("m_sample", {"title": "x"})
    assert r.structured_content == {"title": "x", "rows": [{"a": 1, "b": [1, 2]}]}
    assert r.content[0].text == '{"title":"x","rows":[{"a":1,"b":[1,2]}]}'  # type: ignore[union-attr]


def test_input_schema_drops_what_a_model_assumes_and_keeps_real_bounds() -> None:
    image = "^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
    props = {
        "flag": {"type": "boolean", "default": False, "description": "d"},
        "on": {"type": "boolean", "default": True, "description": "d"},
        "offset": {"type": "integer", "default": 0, "minimum": 0, "description": "d"},
        "limit": {"type": "integer", "default": 200, "minimum": 1, "maximum": 1000, "description": "d"},
        "bytes": {"type": "integer", "minimum": 256, "description": "d"},
        "wait": {"type": "number", "exclusiveMinimum": 0, "maximum": 60, "description": "d"},
        "tail": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 9}, {"type": "null"}], "default": 5},
        "image": {"type": "string", "pattern": image, "maxLength": 512, "description": "d"},
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]*$", "maxLength": 64, "description": "d"},
        "key": {"type": "string", "minLength": 1},
        "keys": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "params": {"type": "array", "items": {}, "description": "d"},
        "doc": {"type": "object", "additionalProperties": True, "description": "d"},
    }
    out = lean_schema({"type": "object", "properties": props}, inputs=True)
    assert out["type"] == "object"
    p = out["properties"]
    assert p["flag"] == {"type": "boolean", "description": "d"}
    assert p["on"]["default"] is True  # a non-obvious default stays
    assert p["offset"] == {"type": "integer", "description": "d"}
    assert p["limit"] == {"type": "integer", "default": 200, "maximum": 1000, "description": "d"}
    assert p["bytes"]["minimum"] == 256 and p["wait"] == {"type": "number", "maximum": 60, "description": "d"}
    assert p["tail"] == {"type": ["integer", "null"], "maximum": 9, "default": 5}  # null still says "all"
    assert p["image"] == {"type": "string", "description": "d"}  # a grammar and a cap no real reference reaches
    assert p["name"] == {
        "type": "string",
        "maxLength": 64,
        "description": "d",
    }  # the server checks the name; a real cap stays
    assert p["key"] == {"type": "string"} and p["keys"] == {"type": "array", "items": {"type": "string"}}
    assert p["params"] == {"type": "array", "description": "d"} and p["doc"] == {"type": "object", "description": "d"}
    assert lean_schema(props["flag"], inputs=False)["default"] is False  # output schemas keep their defaults


async def test_dropped_bounds_are_still_enforced_at_call_time() -> None:
    async with Client(server()) as c:
        r = await c.call_tool("m_sample", {"title": "x", "limit": 0})
        assert r.is_error
        r = await c.call_tool("m_named", {"name": "../etc", "keys": ["a"]})
        assert r.is_error and "pattern" in r.content[0].text  # type: ignore[union-attr]
        r = await c.call_tool("m_named", {"name": "ok", "keys": []})
        assert r.is_error and "at least 1" in r.content[0].text  # type: ignore[union-attr]
        r = await c.call_tool("m_named", {"name": "ok", "keys": ["a"], "mount": {"target": "/x"}})
        assert not r.is_error and r.structured_content == {"name": "ok", "keys": 1, "target": "/x"}


def test_defs_used_once_are_written_in_place_and_shared_ones_stay() -> None:
    leaf = {"type": "object", "properties": {"target": {"type": "string"}}}
    once = {"$defs": {"M": leaf}, "type": "object", "properties": {"m": {"$ref": "#/$defs/M", "description": "d"}}}
    assert inline_defs(once) == {"type": "object", "properties": {"m": {**leaf, "description": "d"}}}
    twice = {"$defs": {"M": leaf}, "properties": {"a": {"$ref": "#/$defs/M"}, "b": {"$ref": "#/$defs/M"}}}
    assert inline_defs(twice) == twice
    node = {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}
    recursive = {"$defs": {"N": node}, "properties": {"n": {"$ref": "#/$defs/N"}}}
    assert inline_defs(recursive) == recursive


async def test_registered_schema_has_no_defs_guards_or_empty_minimums() -> None:
    tool = next(t for t in await server().list_tools() if t.name == "m_named")
    text = str(tool.input_schema)
    assert "$defs" not in text and "$ref" not in text and "pattern" not in text and "minItems" not in text
    assert tool.input_schema["properties"]["mount"]["properties"]["target"] == {"type": "string"}


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


@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(min_value=0, max_value=3), min_size=1))
def test_inline_defs_leaves_no_dangling_reference_and_is_idempotent(uses: dict[str, int]) -> None:
    defs = {n: {"type": "object", "properties": {"x": {"type": "string"}}} for n in uses}
    props = {f"{n}{i}": {"$ref": f"#/$defs/{n}"} for n, k in uses.items() for i in range(k)}
    schema = {"type": "object", "properties": props, "$defs": defs}
    out = inline_defs(schema)
    assert inline_defs(out) == out
    kept = set(out.get("$defs", {}))
    assert kept == {n for n, k in uses.items() if k != 1}  # unused ones stay too: dropping is not this function's job
    for name, prop in out["properties"].items():
        assert prop.get("$ref", "").removeprefix("#/$defs/") in kept or prop == defs[name[0]]


def test_wire_result_compacts_the_text_copy_and_passes_structured_content_through() -> None:
    data = {"rows": [{"a": 1, "b": [1, 2]}], "note": None}
    pretty = CallToolResult(
        content=[TextContent(type="text", text='{\n  "rows": [{"a": 1, "b": [1, 2]}],\n  "note": null\n}')],
        structured_content=data,
    )
    out = wire_result(pretty)
    assert out["structuredContent"] is data  # not walked or copied: the SDK's surface check dumps it once
    assert out["content"] == [{"type": "text", "text": '{"rows":[{"a":1,"b":[1,2]}],"note":null}'}]
    assert out["isError"] is False
    plain = CallToolResult(content=[TextContent(type="text", text="line one\nline two")])
    assert wire_result(plain)["content"][0]["text"] == "line one\nline two"  # no structured result: as it is
    not_json = CallToolResult(content=[TextContent(type="text", text="a\nb")], structured_content={"x": 1})
    assert wire_result(not_json)["content"][0]["text"] == "a\nb"


def test_structured_result_serialises_the_data_once_as_compact_json() -> None:
    data = {"rows": [{"a": "x\ny", "n": 1.5}], "truncated": False}
    r = structured_result(data)
    assert r.structured_content is data
    assert r.content == [TextContent(type="text", text='{"rows":[{"a":"x\\ny","n":1.5}],"truncated":false}')]
