"""Hypothesis strategies for fuzzing tools: arguments generated from a tool's own inputSchema, and hostile
values that are outside it (wrong types, huge strings, null bytes, unicode, negative and huge numbers,
deep nesting).

The generator covers the JSON Schema the tools advertise (type, enum, const, anyOf/oneOf, $ref/$defs,
numeric bounds, string length and pattern, array items and bounds, object properties and required). It is
written here because hypothesis-jsonschema 0.23 no longer works with current Hypothesis releases.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

STRING_CORPUS = [
    "",
    "default",
    "kube-system",
    "public",
    "mcp_test",
    "postgres",
    "busybox:local",
    "SELECT 1",
    "us-east-1",
    "s3",
    "ListBuckets",
    "Deployment",
    "pods",
    "0",
    "-1",
    "*",
    "?",
    "%",
    "[a-",
    "../../../../etc/passwd",
    "/var/run/docker.sock",
    "$(id)",
    "`id`",
    "; rm -rf /",
    "' OR 1=1 --",
    "{{7*7}}",
    "\x00",
    "a\x00b",
    "\r\nX-Injected: 1",
    "ü✓ 漢字 🙂",
    "\u202e\u0000\ufeff",
    "arn:aws:iam::123456789012:role/x",
    "127.0.0.1:1",
    "http://169.254.169.254/latest/meta-data/",
    "a" * 300,
]
"""Strings that reach deeper code (names that exist) or that probe parsing (paths, shells, controls)."""

HUGE_STRING = "A" * 300_000


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value (small)."""
    leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
    return st.recursive(leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3))


def _nested(depth: int, as_dict: bool) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


def hostile_values() -> st.SearchStrategy[Any]:
    """Values that a schema should reject or a tool should survive."""
    numbers = st.sampled_from([-1, -(2**31), 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, -0.5, 1e308, -1e308, 0.1])
    leaf = (
        st.none()
        | st.booleans()
        | numbers
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(STRING_CORPUS)
        | st.text(max_size=40)
        | st.just(HUGE_STRING)
    )
    deep = st.sampled_from([_nested(200, False), _nested(200, True)])
    containers = st.recursive(
        leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3), max_leaves=6
    )
    return containers | deep


def strings(s: dict[str, Any]) -> st.SearchStrategy[str]:
    lo = int(s.get("minLength", 0))
    hi = s.get("maxLength")
    if "pattern" in s:
        base: st.SearchStrategy[str] = st.from_regex(s["pattern"], fullmatch=True)
    else:
        base = st.sampled_from(STRING_CORPUS) | st.text(max_size=min(int(hi or 40), 40))
    return base.filter(lambda v: len(v) >= lo and (hi is None or len(v) <= int(hi)))


def numbers(s: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    lo = s.get("minimum")
    hi = s.get("maximum")
    if "exclusiveMinimum" in s:
        lo = s["exclusiveMinimum"] + (1 if integer else 1e-9)
    if "exclusiveMaximum" in s:
        hi = s["exclusiveMaximum"] - (1 if integer else 1e-9)
    if integer:
        return st.integers(min_value=None if lo is None else int(lo), max_value=None if hi is None else int(hi))
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


def from_schema(s: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values valid for JSON Schema `s` (the subset tools use)."""
    defs = s.get("$defs", {}) if defs is None else {**defs, **s.get("$defs", {})}
    if "$ref" in s:
        return st.deferred(lambda: from_schema(defs[s["$ref"].rsplit("/", 1)[-1]], defs))
    if "const" in s:
        return st.just(s["const"])
    if "enum" in s:
        return st.sampled_from(s["enum"])
    for key in ("anyOf", "oneOf"):
        if key in s:
            return st.one_of([from_schema(sub, defs) for sub in s[key]])
    t = s.get("type")
    if isinstance(t, list):
        return st.one_of([from_schema({**s, "type": x}, defs) for x in t])
    if t == "string":
        return strings(s)
    if t in ("integer", "number"):
        return numbers(s, t == "integer")
    if t == "boolean":
        return st.booleans()
    if t == "null":
        return st.none()
    if t == "array":
        item = from_schema(s.get("items", {}), defs)
        hi = min(int(s.get("maxItems", 4)), 4)
        return st.lists(item, min_size=min(int(s.get("minItems", 0)), hi), max_size=hi)
    if t == "object" or "properties" in s:
        return objects(s, defs)
    return json_values()


def objects(s: dict[str, Any], defs: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    props: dict[str, Any] = s.get("properties", {})
    if not props:
        return st.dictionaries(st.text(max_size=8), json_values(), max_size=3)
    required = set(s.get("required", []))
    return st.fixed_dictionaries(
        {k: from_schema(v, defs) for k, v in props.items() if k in required},
        optional={k: from_schema(v, defs) for k, v in props.items() if k not in required},
    )


@st.composite
def out_of_schema(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """Schema-valid arguments with one or two properties (or an unknown one) replaced by a hostile value."""
    args: dict[str, Any] = dict(draw(from_schema(schema)))
    names = [*schema.get("properties", {}), "unexpected_argument"]
    for key in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        args[key] = draw(hostile_values())
    return args
