"""Bounded volume inspect: a volume with 100 KB of labels and several users is cut at the byte cap and
paged, with an explicit `truncated` flag."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from tests.conftest import ok

pytestmark = pytest.mark.anyio


async def test_volume_inspect_caps_labels_and_pages_users(
    ro: Client, sdk: Any, uid: str, image: str, cleanup: None
) -> None:
    vol = f"{uid}-big"
    labels = {f"team.example/{i:03d}": "v" * 1000 for i in range(100)} | {"bam-test": uid}
    sdk.api.create_volume(vol, labels=labels)
    users = [f"{uid}-u{i}" for i in range(5)]
    for name in users:
        sdk.api.create_container(
            image,
            ["true"],
            name=name,
            labels={"bam-test": uid},
            host_config=sdk.api.create_host_config(binds={vol: {"bind": "/data", "mode": "rw"}}),
        )
    first = ok(await ro.call_tool("docker_volume_inspect", {"name": vol, "limit": 2}))
    assert first["truncated"] is True and first["labels_total"] == 101 and 10 < len(first["labels"]) < 60
    assert first["used_by"] == users[:2] and first["used_by_total"] == 5 and first["next_offset"] == 2
    assert any("label_prefix" in n for n in first["notes"])
    rest = ok(await ro.call_tool("docker_volume_inspect", {"name": vol, "limit": 10, "offset": 2}))
    assert rest["used_by"] == users[2:] and rest["next_offset"] is None
    seen = set(first["labels"])
    for prefix in [f"team.example/0{i}" for i in range(10)] + ["bam"]:  # each slice fits
        part = ok(await ro.call_tool("docker_volume_inspect", {"name": vol, "label_prefix": prefix, "limit": 10}))
        assert part["labels"] == {k: v for k, v in labels.items() if k.startswith(prefix)}
        assert part["truncated"] is False
        seen |= set(part["labels"])
    assert len(seen) == 101
