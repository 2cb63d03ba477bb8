"""Docker test fixtures: servers with writes (and admin) on, a per-test id, and cleanup of what tests made.

Every object a test creates carries the label `bam-test=<uid>` and has `<uid>` in its name, so cleanup
removes exactly what this test made, even when the test failed half-way.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.docker import build_server
from tests.conftest import ok

LOOP = "echo start > /tmp/created; i=0; while true; do echo line$i-padding-padding-padding-padding; i=$((i+1)); sleep 0.05; done"
"""A container command that writes /tmp/created and then a log line every 50 ms."""

# With BAM_DOCKER_MAX_LOG_BYTES=2000 the kept tail of this output start inside the secret line, at "SWORD=hunter2-leaky":
# a cut key that no longer looks secret. The partial first line must be dropped, not shown.
CUT_SECRET = (
    "yes aaaaaaaaaaaaaaaaaaa | head -c 4000; echo XX_PASSWORD=hunter2-leaky; yes yyyyyyyyyyyyyyyyyyy | head -c 1980"
)

WRITES = ToolPolicy(allow_writes=frozenset({"docker"}))
ADMIN = ToolPolicy(allow_writes=frozenset({"docker"}), allow_admin=frozenset({"docker"}))


@pytest.fixture
def image(docker_host: str) -> str:
    return os.environ.get("MCP_TEST_IMAGE", "busybox:local")


@pytest.fixture
def uid() -> str:
    return "bamt" + uuid.uuid4().hex[:10]


@pytest.fixture
def sdk(docker_host: str) -> Iterator[Any]:
    import docker

    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def cleanup(sdk: Any, uid: str) -> Iterator[None]:
    """Remove containers, networks, volumes and images of this test (by label or by name)."""
    yield
    api = sdk.api
    flt = {"label": [f"bam-test={uid}"]}
    for c in api.containers(all=True, filters=flt) + api.containers(all=True, filters={"name": uid}):
        with contextlib.suppress(Exception):
            api.remove_container(c["Id"], force=True, v=True)
    for n in api.networks(filters=flt) + api.networks(filters={"name": uid}):
        with contextlib.suppress(Exception):
            api.remove_network(n["Id"])
    for v in (api.volumes(filters=flt) or {}).get("Volumes") or []:
        with contextlib.suppress(Exception):
            api.remove_volume(v["Name"], force=True)
    for v in (api.volumes(filters={"name": uid}) or {}).get("Volumes") or []:
        with contextlib.suppress(Exception):
            api.remove_volume(v["Name"], force=True)
    for i in api.images(all=True):
        tags = i.get("RepoTags") or []
        labelled = (i.get("Labels") or {}).get("bam-test") == uid
        if labelled or any(uid in t for t in tags):
            with contextlib.suppress(Exception):
                api.remove_image(i["Id"], force=True)


@pytest.fixture
async def client(docker_host: str, cleanup: None) -> AsyncIterator[Client]:
    """Writes allowed for docker (no admin)."""
    async with Client(build_server(policy=WRITES)) as c:
        yield c


@pytest.fixture
async def admin(docker_host: str, cleanup: None) -> AsyncIterator[Client]:
    """Writes and admin-level tools allowed for docker."""
    async with Client(build_server(policy=ADMIN)) as c:
        yield c


@pytest.fixture
async def ro(docker_host: str) -> AsyncIterator[Client]:
    """The default policy: read-only."""
    async with Client(build_server()) as c:
        yield c


async def run_loop(c: Client, image: str, uid: str, **extra: Any) -> dict[str, Any]:
    """Run `<uid>-loop` (the LOOP command, no network, labelled for cleanup) through docker_container_run."""
    args = {
        "image": image,
        "command": ["sh", "-c", LOOP],
        "name": f"{uid}-loop",
        "network_mode": "none",
        "labels": {"bam-test": uid},
        **extra,
    }
    return ok(await c.call_tool("docker_container_run", args))  # type: ignore[no-any-return]
