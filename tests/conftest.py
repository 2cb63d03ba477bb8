"""Real-backend fixtures: each endpoint comes from its environment variable (set by `.ci/run` and
`make test` through scripts/backends/start-services.sh); when unset and a Docker engine that can pull
images is present, the backend is started with testcontainers. A missing backend FAILS the test: it is
never skipped.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from typing import Any, NoReturn

import pytest
from hypothesis import HealthCheck, settings
from mcp.types import CallToolResult

# Generated corpora run against real backends on a shared 2-core machine: wall-clock deadlines would make
# them flaky, never stricter. Each test still sets its own example count. In CI the examples are derived from
# each test's name (derandomize), so a landing is judged on the same generated corpus every time; locally
# every run draws new ones.
settings.register_profile(
    "backends",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=bool(os.environ.get("CI")),
)
settings.load_profile("backends")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def backend_unavailable(what: str, exc: BaseException | str) -> NoReturn:
    detail = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    pytest.fail(
        f"{what} is unavailable ({detail[:300]}). Run `make test` (it starts the local backends), or set the "
        "endpoint variable, or have a Docker engine that can pull images for testcontainers.",
        pytrace=False,
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    try:
        from testcontainers.community.postgres import PostgresContainer

        pg = PostgresContainer(os.environ.get("BAM_TEST_PG_IMAGE", "postgres:16-alpine"), driver=None)
        # pg_top_queries needs pg_stat_statements preloaded; hypopg (pg_explain's hypothetical indexes) is not in
        # the official image: set BAM_TEST_PG_IMAGE to an image that has it, or use the Debian setup.
        pg.with_command("postgres -c shared_preload_libraries=pg_stat_statements")
        pg.start()
    except Exception as exc:
        backend_unavailable("PostgreSQL (DATABASE_URL)", exc)
    os.environ["DATABASE_URL"] = pg.get_connection_url()
    try:
        yield os.environ["DATABASE_URL"]
    finally:
        os.environ.pop("DATABASE_URL", None)
        pg.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    try:
        from testcontainers.community.redis import RedisContainer

        rc = RedisContainer(os.environ.get("BAM_TEST_REDIS_IMAGE", "redis:7-alpine"))
        rc.start()
    except Exception as exc:
        backend_unavailable("Redis (REDIS_URL)", exc)
    os.environ["REDIS_URL"] = f"redis://{rc.get_container_host_ip()}:{rc.get_exposed_port(6379)}/0"
    try:
        yield os.environ["REDIS_URL"]
    finally:
        os.environ.pop("REDIS_URL", None)
        rc.stop()


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str]:
    """moto_server from AWS_ENDPOINT_URL, else an in-process ThreadedMotoServer on loopback."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if os.environ.get("AWS_ENDPOINT_URL"):
        yield os.environ["AWS_ENDPOINT_URL"]
        return
    try:
        from moto.server import ThreadedMotoServer

        srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
        srv.start()
    except Exception as exc:
        backend_unavailable("moto (AWS_ENDPOINT_URL)", exc)
    host, port = srv.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL"] = f"http://{host}:{port}"
    try:
        yield os.environ["AWS_ENDPOINT_URL"]
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        srv.stop()


@pytest.fixture(scope="session")
def docker_host() -> str:
    """A reachable Docker engine (DOCKER_HOST or the default socket) with the local test image."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        backend_unavailable("Docker engine (DOCKER_HOST)", exc)
    image = os.environ.get("MCP_TEST_IMAGE", "busybox:local")
    try:
        client.images.get(image)
    except Exception as exc:
        backend_unavailable(f"Docker test image {image} (start-services.sh imports it)", exc)
    finally:
        client.close()
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[str]:
    if os.environ.get("KUBECONFIG"):
        yield os.environ["KUBECONFIG"]
        return
    try:
        from testcontainers.community.k3s import K3SContainer

        k3s = K3SContainer()
        k3s.start()
    except Exception as exc:
        backend_unavailable("Kubernetes (KUBECONFIG)", exc)
    path = os.path.join(tempfile.mkdtemp(), "kubeconfig")
    with open(path, "w") as f:
        f.write(k3s.config_yaml())
    os.environ["KUBECONFIG"] = path
    try:
        yield path
    finally:
        os.environ.pop("KUBECONFIG", None)
        k3s.stop()


def ok(result: CallToolResult) -> Any:
    """The structured content of a successful call; fails with the tool's error text otherwise."""
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        pytest.fail(f"tool call failed: {text}", pytrace=False)
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    """The error text of a failed call; fails when the call succeeded."""
    if not result.is_error:
        pytest.fail(f"expected an error, got {result.structured_content}", pytrace=False)
    return " ".join(getattr(c, "text", "") for c in result.content)
