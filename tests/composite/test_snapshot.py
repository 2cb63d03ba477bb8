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
from servers.registry import MODULES, load

pytestmark = pytest.mark.anyio
HERE = Path(__file__).parent / "snapshots"

MODES = {
    "readonly": AppSettings(servers="all", toolsets="all"),
    "writes": AppSettings(servers="all", toolsets="all", allow_writes="all"),
    "admin": AppSettings(servers="all", toolsets="all", allow_writes="all", allow_admin="all"),
    "default_toolsets": AppSettings(servers="all"),
    "toolsets_selected": AppSettings(servers="all", toolsets="postgres.query,redis.keys,k8s", allow_writes="all"),
    "discovery_readonly": AppSettings(servers="all", toolsets="all", discovery=True),
    "discovery_writes": AppSettings(servers="all", toolsets="all", discovery=True, allow_writes="all"),
}
"""Every way the tool list can be shaped: policy tiers, toolsets and discovery mode."""
FULL_MODES = ("readonly", "writes", "admin", "default_toolsets", "toolsets_selected")
PREFIXES = {load(m).prefix.rstrip("_") for m in MODULES}


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


@pytest.mark.parametrize("mode", list(MODES))
async def test_every_tool_is_fully_annotated_typed_and_bounded(mode: str) -> None:
    for t in await surface(MODES[mode]):
        a = t["annotations"]
        assert set(a) == {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"}, t["name"]
        assert t.get("description"), t["name"]
        if t["name"] not in ("tool_call", "tool_call_write"):  # those return the called tool's own result
            assert t.get("outputSchema"), f"{t['name']} has no structured output"
        families = PREFIXES if mode in FULL_MODES else {"tools", "tool"}
        assert len(t["name"]) < 64 and t["name"].split("_")[0] in families
        for pname, prop in t["inputSchema"].get("properties", {}).items():
            assert prop.get("description"), f"{t['name']}.{pname} has no description"


@pytest.mark.parametrize("mode", ["readonly", "default_toolsets", "discovery_readonly"])
async def test_read_only_mode_exposes_only_read_only_tools(mode: str) -> None:
    for t in await surface(MODES[mode]):
        assert t["annotations"]["readOnlyHint"] is True, t["name"]
