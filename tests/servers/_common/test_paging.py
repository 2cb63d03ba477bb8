"""The one capping loop, the one offset pager, the page-size rule and the `limit` field (servers/_common)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter

from servers._common.output import CappedItems, cap_items, item_size, json_size
from servers._common.paging import offset_page, page_limit, page_size

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(values, max_size=30), st.integers(1, 40), st.integers(1, 600))
def test_capped_items_keeps_a_prefix_within_both_caps(items: list[Any], max_items: int, max_bytes: int) -> None:
    kept, cut = cap_items(items, max_items=max_items, max_bytes=max_bytes)
    assert kept == items[: len(kept)]
    assert len(kept) <= max_items
    assert cut == (len(kept) < len(items))
    if len(kept) > 1:  # the first item always fits; after it the byte cap holds
        assert sum(item_size(x) for x in kept) <= max_bytes
    if cut and len(kept) < max_items and kept:  # stopped by bytes: the next item would not have fitted
        assert sum(item_size(x) for x in kept) + item_size(items[len(kept)]) > max_bytes
    col = CappedItems[Any](max_items, max_bytes)
    for x in items:
        if not col.add(x):
            break
    assert col.items == kept
    assert col.full() == (cut or len(kept) >= max_items)


def test_capped_items_records_a_byte_cut_and_takes_a_size_function() -> None:
    col = CappedItems[str](None, 10, size=len)
    assert col.add("x" * 50)  # the first item always fits
    assert not col.add("y") and col.byte_cut and col.full()
    kept, cut = cap_items(["aaaa", "bbbb", "cc"], max_items=None, max_bytes=9, size=len)
    assert kept == ["aaaa", "bbbb"] and cut
    assert item_size({"a": 1}) == json_size({"a": 1}) + 1


@given(st.lists(st.integers(), max_size=60), st.integers(1, 25), st.integers(8, 200))
def test_offset_pages_visit_every_item_once_in_order(items: list[int], limit: int, max_bytes: int) -> None:
    seen: list[int] = []
    offset: int | None = 0
    pages = 0
    while offset is not None:
        kept, truncated, offset = offset_page(items, offset, limit, max_bytes)
        assert (kept and len(kept) <= limit) or not items
        assert truncated == (offset is not None)
        seen += kept
        pages += 1
        assert pages <= len(items) + 1
    assert seen == items


@dataclass
class _Settings:
    max_items: int = 50
    max_items_limit: int = 500


def test_page_size_defaults_and_ceiling() -> None:
    s = _Settings()
    assert page_size(s, None) == 50
    assert page_size(s, 7) == 7
    assert page_size(s, 10_000) == 500
    assert page_size(s, None, default=20) == 20


def test_limit_field_schema() -> None:
    schema = TypeAdapter(Annotated[int | None, page_limit(50, "the server setting")]).json_schema()
    assert "description" not in schema  # `limit` is a plain parameter: its name says it (issue 10)
    assert {"type": "integer", "minimum": 1} in schema["anyOf"]
