"""Volumes, networks, the provenance list/cleanup, and the module inside the composite server."""

from __future__ import annotations

import random
from typing import Any

import pytest
from mcp import Client

from tests.conftest import error_text, ok

pytestmark = pytest.mark.anyio


async def test_volume_lifecycle(client: Client, sdk: Any, image: str, uid: str) -> None:
    v = ok(await client.call_tool("docker_volume_create", {"name": f"{uid}-vol", "labels": {"bam-test": uid}}))
    assert v["name"] == f"{uid}-vol" and v["managed"] is True and v["driver"] == "local"
    ok(
        await client.call_tool(
            "docker_container_run",
            {
                "image": image,
                "command": ["sh", "-c", "echo kept > /data/f"],
                "name": f"{uid}-writer",
                "network_mode": "none",
                "mounts": [{"type": "volume", "source": f"{uid}-vol", "target": "/data"}],
                "labels": {"bam-test": uid},
                "wait_s": 30,
            },
        )
    )
    info = ok(await client.call_tool("docker_volume_inspect", {"name": f"{uid}-vol"}))
    assert info["used_by"] == [f"{uid}-writer"] and info["mountpoint"]
    lst = ok(await client.call_tool("docker_volumes_list", {"name": uid, "managed_only": True}))
    assert [x["name"] for x in lst["volumes"]] == [f"{uid}-vol"]
    busy = error_text(await client.call_tool("docker_volume_remove", {"name": f"{uid}-vol"}))
    assert "409" in busy and "in use" in busy
    ok(await client.call_tool("docker_container_remove", {"container": f"{uid}-writer"}))
    dangling = ok(await client.call_tool("docker_volumes_list", {"dangling": True, "label": [f"bam-test={uid}"]}))
    assert dangling["total"] == 1
    assert ok(await client.call_tool("docker_volume_remove", {"name": f"{uid}-vol"}))["removed"] is True
    assert (sdk.api.volumes(filters={"name": f"{uid}-vol"}) or {}).get("Volumes") in (None, [])


async def test_volume_bind_device_refused(client: Client, uid: str) -> None:
    for device, setting in (
        ("/", "BAM_DOCKER_BIND_ROOTS"),
        ("/var/run", "outside the allowed roots"),
        (".", "relative"),
    ):
        text = error_text(
            await client.call_tool(
                "docker_volume_create",
                {"name": f"{uid}-b", "driver_opts": {"type": "none", "o": "bind", "device": device}},
            )
        )
        assert "refused" in text and setting in text


async def test_network_lifecycle(client: Client, uid: str) -> None:
    # an internal network on a benchmark-range subnet: no container is started on it, so no traffic flows
    subnet = f"198.18.{random.randint(1, 254)}.0/24"
    n = ok(
        await client.call_tool(
            "docker_network_create",
            {"name": f"{uid}-net", "internal": True, "subnet": subnet, "labels": {"bam-test": uid}},
        )
    )
    assert n["name"] == f"{uid}-net" and n["internal"] is True and n["subnets"] == [subnet] and n["managed"]
    info = ok(await client.call_tool("docker_network_inspect", {"network": f"{uid}-net"}))
    assert info["containers"] == {} and info["driver"] == "bridge" and info["labels"]["bam-test"] == uid
    lst = ok(await client.call_tool("docker_networks_list", {"name": uid, "managed_only": True, "driver": "bridge"}))
    assert [x["name"] for x in lst["networks"]] == [f"{uid}-net"]
    assert "gateway" in error_text(
        await client.call_tool("docker_network_create", {"name": f"{uid}-n2", "gateway": "198.18.0.1"})
    )
    assert ok(await client.call_tool("docker_network_remove", {"network": f"{uid}-net"}))["removed"] is True
    assert "404" in error_text(await client.call_tool("docker_network_remove", {"network": f"{uid}-net"}))


async def test_managed_list_and_cleanup(client: Client, sdk: Any, image: str, uid: str) -> None:
    labels = {"bam-test": uid}
    ok(await client.call_tool("docker_volume_create", {"name": f"{uid}-v", "labels": labels}))
    ok(
        await client.call_tool(
            "docker_network_create",
            {"name": f"{uid}-n", "internal": True, "subnet": f"198.18.{random.randint(1, 254)}.0/24", "labels": labels},
        )
    )
    ok(
        await client.call_tool(
            "docker_container_run",
            {"image": image, "command": ["sleep", "300"], "name": f"{uid}-c", "network_mode": "none", "labels": labels},
        )
    )
    ok(
        await client.call_tool(
            "docker_image_build",
            {"tag": f"{uid}-i:1", "dockerfile": f"FROM {image}\nENV A=1\n", "labels": labels},
        )
    )
    # an unmanaged container made directly through the SDK must survive the cleanup
    outsider = sdk.api.create_container(
        image,
        ["true"],
        name=f"{uid}-outsider",
        labels=labels,
        host_config=sdk.api.create_host_config(network_mode="none"),
    )
    lst = ok(await client.call_tool("docker_managed_list", {}))
    mine = {(i["kind"], i["name"]) for i in lst["items"] if uid in i["name"]}
    assert mine == {("volume", f"{uid}-v"), ("network", f"{uid}-n"), ("container", f"{uid}-c"), ("image", f"{uid}-i:1")}
    only = ok(await client.call_tool("docker_managed_list", {"kinds": ["container"], "limit": 1}))
    assert only["count"] == 1 and all(i["kind"] == "container" for i in only["items"])
    tools = {i["name"]: i["tool"] for i in lst["items"] if uid in i["name"]}
    assert tools[f"{uid}-c"] == "container_run" and tools[f"{uid}-i:1"] == "image_build"

    dry = ok(await client.call_tool("docker_managed_cleanup", {"name_contains": uid, "dry_run": True}))
    assert dry["dry_run"] is True and dry["removed"] == 0 and len(dry["items"]) == 4
    assert sdk.api.containers(filters={"name": f"{uid}-c"})  # still running
    done = ok(await client.call_tool("docker_managed_cleanup", {"name_contains": uid}))
    assert done["removed"] == 4 and done["failed"] == 0
    assert [i["kind"] for i in done["items"]] == ["container", "network", "volume", "image"]
    after = ok(await client.call_tool("docker_managed_list", {}))
    assert not [i for i in after["items"] if uid in i["name"]]
    assert sdk.api.inspect_container(outsider["Id"])["Name"] == f"/{uid}-outsider"


async def test_module_inside_the_composite(docker_host: str) -> None:
    from composite.app import build
    from composite.settings import AppSettings

    app = build(AppSettings(servers="docker"))
    async with Client(app.server) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        assert "docker_containers_list" in names and "docker_container_run" not in names
        r = ok(await c.call_tool("docker_containers_list", {"limit": 5}))
        assert r["count"] <= 5
