"""Page sizes: the one `limit` parameter type and the one rule for how many items a page asks for."""

from __future__ import annotations

from typing import Protocol, TypedDict, TypeVar

from pydantic import Field
from pydantic.fields import FieldInfo

from servers._common.output import cap_items

T = TypeVar("T")


class PageSettings(Protocol):
    """The two settings every module pages by."""

    @property
    def max_items(self) -> int: ...

    @property
    def max_items_limit(self) -> int: ...


def page_limit(default: int, capped_by: str = "the server") -> FieldInfo:
    """The `limit` parameter's field: `Limit = Annotated[int | None, page_limit(<the module's default>)]`."""
    field: FieldInfo = Field(ge=1)  # page size: `default`, capped by `capped_by` (said in code, not in the schema)
    return field


def page_size(s: PageSettings, limit: int | None, default: int | None = None) -> int:
    """Items to ask for: `limit`, else `default`, else the max_items setting; never above max_items_limit."""
    return min(limit or default or s.max_items, s.max_items_limit)


def offset_page(items: list[T], offset: int, limit: int, max_bytes: int) -> tuple[list[T], bool, int | None]:
    """`items[offset:offset+limit]`, cut further by the byte cap; (kept, truncated, next_offset)."""
    kept, _ = cap_items(items[offset : offset + limit], max_items=limit, max_bytes=max_bytes)
    end = offset + len(kept)
    more = end < len(items)
    return kept, more, end if more else None


class ListSettings(PageSettings, Protocol):
    """The page settings plus the byte cap of one result."""

    @property
    def max_bytes(self) -> int: ...


class PageFields(TypedDict):
    """The paging fields of a list result: `Result(items=kept, **fields)`."""

    count: int
    total: int
    truncated: bool
    next_offset: int | None


def items_page(s: ListSettings, items: list[T], offset: int, limit: int | None) -> tuple[list[T], PageFields]:
    """The page of `items` a list tool returns: `page_size` items from `offset`, cut at the byte cap."""
    kept, more, nxt = offset_page(items, offset, page_size(s, limit), s.max_bytes)
    return kept, PageFields(count=len(kept), total=len(items), truncated=more, next_offset=nxt)
