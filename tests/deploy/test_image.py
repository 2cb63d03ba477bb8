"""The container image: `make image` (scripts/image/build.sh) builds it with no registry reachable, and the
image runs as a non-root user, answers /healthz (its HEALTHCHECK too) and reaches the test PostgreSQL.

The test engine (dockerd --bridge=none) gives containers no network of their own, so the container shares
the host's network namespace and binds 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client

from servers._common.version import VERSION
from tests.conftest import free_port, ok

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
IMAGE = f"backend-architect-mcp:{VERSION}"


def docker(*args: str, timeout: float = 120) -> str:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"docker {' '.join(args)}: {out.stderr[-2000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def image(docker_host: str) -> str:
    """The image `make image` builds (its build script, with this interpreter's pip for the wheels)."""
    start = time.monotonic()
    out = subprocess.run(
        ["bash", "scripts/image/build.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        env={**os.environ, "PY": sys.executable},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    sys.stderr.write(f"\n[image] built in {time.monotonic() - start:.0f}s: {out.stderr.strip().splitlines()[-1]}\n")
    return IMAGE


@pytest.fixture(scope="module")
def container(image: str, database_url: str) -> Iterator[tuple[str, str]]:
    """The image's server for PostgreSQL on a free loopback port, confined like the Kubernetes Deployment
    confines it (read-only root filesystem, tmpfs /tmp, no capabilities); (container id, base URL)."""
    port = free_port()
    name = f"bam-image-test-{uuid.uuid4().hex[:8]}"
    cid = docker(
        "run", "-d", "--name", name, "--network", "host", "--health-interval", "1s", "--health-start-period", "30s",
        "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        "-e", f"DATABASE_URL={database_url}", "-e", f"BAM_PORT={port}",
        image, "serve", "--transport", "http", "--host", "127.0.0.1", "--port", str(port), "--servers", "postgres",
    ).strip()  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                time.sleep(0.3)
        else:
            pytest.fail(f"the container did not answer /healthz: {docker('logs', cid)[-2000:]}")
        yield cid, base
    finally:
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True, timeout=60)


def test_image_metadata(image: str) -> None:
    info = json.loads(docker("image", "inspect", image))[0]
    labels = info["Config"]["Labels"]
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.source"].startswith("https://")
    assert labels["org.opencontainers.image.licenses"] == "MIT"
    assert info["Config"]["User"] == "10001:10001"
    assert info["Config"]["Entrypoint"] == ["backend-architect-mcp"]
    assert info["Config"]["Cmd"] == ["serve", "--transport", "http", "--host", "0.0.0.0"]
    assert "/healthz" in " ".join(info["Config"]["Healthcheck"]["Test"])
    assert docker("image", "inspect", "-f", "{{.Id}}", "backend-architect-mcp:latest") == docker(
        "image", "inspect", "-f", "{{.Id}}", image
    )


def test_image_has_no_compiler_and_no_pip(image: str) -> None:
    probe = "for t in gcc cc c++ clang make pip pip3; do command -v $t; done; ls /opt/venv/bin"
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "sh", image, "-c", probe + "; true")
    found = out.split()
    assert not [t for t in found if t.startswith("/")], found
    assert "backend-architect-mcp" in found and not any(t.startswith("pip") for t in found)


async def test_container_runs_non_root_answers_health_and_reaches_postgres(container: tuple[str, str]) -> None:
    cid, base = container
    uid_line = next(
        line for line in docker("exec", cid, "cat", "/proc/1/status").splitlines() if line.startswith("Uid:")
    )
    assert set(uid_line.split()[1:]) == {"10001"}  # real, effective, saved and filesystem uid
    assert httpx2.get(f"{base}/healthz", timeout=5).json() == {"status": "ok", "version": VERSION}
    async with Client(f"{base}/mcp") as c:
        rows = ok(await c.call_tool("pg_query", {"sql": "SELECT current_setting('server_version_num') AS v"}))["rows"]
        assert int(rows[0]["v"]) > 100000
    ready = httpx2.get(f"{base}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["modules"]["postgres"]["status"] == "up"
    deadline = time.monotonic() + 30  # the image's own HEALTHCHECK (run every 1s here) turns healthy
    while (status := docker("inspect", "-f", "{{.State.Health.Status}}", cid).strip()) != "healthy":
        assert time.monotonic() < deadline, f"HEALTHCHECK status stayed {status}"
        time.sleep(0.5)
