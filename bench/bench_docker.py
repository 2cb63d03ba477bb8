"""p50 of listing containers: the raw docker SDK call vs. docker_containers_list through the composite.

Run: `.venv/bin/python -m bench.bench_docker` with DOCKER_HOST set (and MCP_TEST_IMAGE, default busybox:local).
It starts a few labelled `sleep` containers (network none) so the list is not empty, and removes them after.
"""

from __future__ import annotations

import os
import uuid

import anyio
import docker
from mcp import Client

from bench.common import measure, table, write
from composite.app import build
from composite.settings import AppSettings

CONTAINERS = int(os.environ.get("BENCH_CONTAINERS", "5"))


async def main() -> None:
    image = os.environ.get("MCP_TEST_IMAGE", "busybox:local")
    sdk = docker.from_env()
    api = sdk.api
    tag = "bench-" + uuid.uuid4().hex[:8]
    made = []
    for i in range(CONTAINERS):
        c = api.create_container(
            image,
            ["sleep", "600"],
            name=f"{tag}-{i}",
            labels={"bam-bench": tag},
            host_config=api.create_host_config(network_mode="none"),
        )
        api.start(c["Id"])
        made.append(c["Id"])
    app = build(AppSettings(servers="docker"))
    try:

        async def raw() -> object:
            return api.containers(all=True)

        async def raw_thread() -> object:
            return await anyio.to_thread.run_sync(lambda: api.containers(all=True))

        async def raw_highlevel() -> object:
            # docker SDK's containers.list(): one inspect per container (what SDK-based peers call)
            return await anyio.to_thread.run_sync(lambda: sdk.containers.list(all=True))

        async with Client(app.server) as client:

            async def composite() -> object:
                r = await client.call_tool("docker_containers_list", {})
                assert not r.is_error and r.structured_content
                return r

            stats = await measure(
                {
                    "raw SDK api.containers (blocking)": raw,
                    "raw SDK api.containers in a worker thread": raw_thread,
                    "raw SDK containers.list() in a worker thread": raw_highlevel,
                    "composite docker_containers_list": composite,
                },
                n=int(os.environ.get("BENCH_N", "200")),
                warmup=20,
            )
    finally:
        for cid in made:
            api.remove_container(cid, force=True)
        sdk.close()
    engine = docker.from_env().version().get("Version", "?")
    notes = (
        f"Same process, interleaved round-robin, {CONTAINERS} running containers plus whatever else the engine holds "
        f"(engine {engine}, unix socket). `composite docker_containers_list` = in-memory MCP client -> composite "
        "server -> low-level `GET /containers/json` in a worker thread (bounded by the module's limiter) -> label "
        "redaction, paging and byte cap -> pydantic structured result, plus the client's validation of it. "
        "`containers.list()` is the high-level SDK call that SDK-based peers (ckreiling/mcp-server-docker) use: "
        "it inspects every container, so it grows with the container count."
    )
    path = write("docker", table("Docker: list containers", stats, "raw SDK api.containers (blocking)", notes))
    print(path.read_text())


if __name__ == "__main__":
    anyio.run(main)
