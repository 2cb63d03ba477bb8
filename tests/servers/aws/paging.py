"""Walk every page of a curated list tool, checking the page invariants on the way."""

from __future__ import annotations

from typing import Any

from mcp import Client

from tests.conftest import ok


async def all_pages(
    c: Client, tool: str, args: dict[str, Any], key: str, *, min_pages: int = 1, per_page: int | None = None
) -> list[dict[str, Any]]:
    """The items of every page of `tool` under `key`, following `next_token` to the end.

    Each page must hold `count` items, at most `per_page` (default: `max_items`) of them, and say
    `truncated` exactly when it returns a `next_token`; at least `min_pages` pages must be walked.
    """
    cap = per_page or args.get("max_items")
    items: list[dict[str, Any]] = []
    token = None
    for pages in range(1, 51):
        r = ok(await c.call_tool(tool, {**args, **({"next_token": token} if token else {})}))
        assert r["count"] == len(r[key]) <= (cap or len(r[key])), (tool, r)
        token = r["next_token"]
        assert r["truncated"] is (token is not None), (tool, r)
        items += r[key]
        if not token:
            assert pages >= min_pages, f"{tool}: {pages} page(s), expected at least {min_pages}"
            return items
    raise AssertionError(f"{tool}: more than 50 pages")
