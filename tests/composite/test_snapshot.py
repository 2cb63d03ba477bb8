"""Snapshot of the full tool surface (names, titles, descriptions, annotations, schemas) in read-only and
write modes. Any change shows up as a reviewable diff; regenerate with `make snapshots`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from composite.app import build
from composite.settings import AppSettings

pytestmark = pytest.mark.anyio
HERE = Path(__file__).parent / "snapshots"

MODES = {
    "readonly": AppSettings(servers="all"),
    "writes": AppSettings(servers="all", allow_writes="all"),
    "admin": AppSettings(servers="all", allow_writes="all", allow_admin="all"),
}


async def surface(settings: AppSettings) -> list[dict[str, Any]]:
    tools = await build(settings).server.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]


@pytest.mark.parametrize("mode", list(MODES))
async def test_tool_surface_matches_snapshot(mode: str) -> None:
    current = await surface(MODES[mode])
    path = HERE / f"tools_{mode}.json"
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get("BAM_UPDATE_SNAPSHOTS") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run `make snapshots`"
    assert path.read_text() == text, f"tool surface changed in {mode} mode: review, then run `make snapshots`"


async def test_every_tool_is_fully_annotated_typed_and_bounded() -> None:
    for t in await surface(MODES["admin"]):
        a = t["annotations"]
        assert set(a) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}, t["name"]
        assert t.get("description"), t["name"]
        assert t.get("outputSchema"), f"{t['name']} has no structured output"
        assert len(t["name"]) < 64 and t["name"].split("_")[0] in {"pg", "redis", "k8s", "aws", "docker"}
        for pname, prop in t["inputSchema"].get("properties", {}).items():
            assert prop.get("description"), f"{t['name']}.{pname} has no description"


async def test_read_only_mode_exposes_only_read_only_tools() -> None:
    for t in await surface(MODES["readonly"]):
        assert t["annotations"]["readOnlyHint"] is True, t["name"]
