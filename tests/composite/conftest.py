"""Fixtures for the composite: the server as a real subprocess on a loopback port, and a private
PostgreSQL instance that a test may stop and start."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from tests.conftest import backend_unavailable, free_port


@dataclass
class ServerProcess:
    proc: subprocess.Popen[bytes]
    base: str
    log_path: str

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()


def start_server(
    *args: str,
    env: dict[str, str] | None = None,
    whole_env: bool = False,
    ready_timeout: float = 60,
    entry: tuple[str, ...] = ("composite", "serve"),
) -> ServerProcess:
    """`backend-architect-mcp serve --transport http ...` on a free loopback port, ready to answer.

    `env` is added to this process's environment, or is the whole environment with `whole_env`; `entry` is
    the module run with `python -m` and its arguments (`("servers.postgres",)`: the standalone entry point).
    """
    port = free_port()
    fd, log_path = tempfile.mkstemp(prefix="bam-server-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", *entry, "--host", "127.0.0.1", "--port", str(port), *args],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=dict(env or {}) if whole_env else {**os.environ, **(env or {})},
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                return ServerProcess(proc, base, log_path)
        except httpx2.TransportError:
            time.sleep(0.1)
    proc.kill()
    with open(log_path) as f:
        pytest.fail(f"server did not come up: {f.read()[-2000:]}")


def stop_server(sp: ServerProcess) -> None:
    sp.proc.terminate()
    try:
        sp.proc.wait(10)
    except subprocess.TimeoutExpired:
        sp.proc.kill()


@pytest.fixture
def http_server(database_url: str) -> Iterator[ServerProcess]:
    sp = start_server("--transport", "http", "--servers", "postgres")
    yield sp
    stop_server(sp)


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster on its own port, owned by the test."""

    bindir: str
    datadir: str
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.run_as, f"{self.bindir}/pg_ctl", "-D", self.datadir, "-w", "-t", "30", *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", opts, "-l", f"{self.datadir}/server.log", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        backend_unavailable("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", "initdb not found")
    bindir = os.path.dirname(found[-1])
    root = tempfile.mkdtemp(prefix="bam-pg-")
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    datadir = f"{root}/data"
    subprocess.run(
        [*run_as, f"{bindir}/initdb", "-D", datadir, "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pg = PrivatePostgres(bindir, datadir, free_port(), run_as)
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sleeper(docker_host: str) -> Iterator[Any]:
    """A running container (busybox `sleep 300`) owned by this test."""
    import docker

    client = docker.from_env()
    uid = "bamt" + uuid.uuid4().hex[:10]
    c = client.containers.run(
        os.environ.get("MCP_TEST_IMAGE", "busybox:local"),
        ["sleep", "300"],
        name=f"{uid}-sleeper",
        labels={"bam-test": uid},
        detach=True,
    )
    try:
        yield c
    finally:
        with contextlib.suppress(Exception):
            c.remove(force=True)
        client.close()
