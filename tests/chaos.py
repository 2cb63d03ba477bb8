"""Chaos helpers: a TCP forwarder that a test can take down and bring back, and process counters.

`OutageProxy` listens on a loopback port and forwards every connection to an upstream (a TCP address or
a unix socket). `down()` closes the listener and aborts every open connection, so a client sees exactly
what it sees when the backend's process dies: refused connects and reset sockets. `up()` listens again on
the same port. `hang()` is the other kind of outage, a backend that stops answering: connections are
accepted and held, every byte is swallowed and nothing comes back (the open ones stall too); `up()` ends it
by resetting the held connections. A test points the server under test at the proxy, never at the shared backend, so the
shared backends other tests use keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.conftest import backend_unavailable, free_port


class OutageProxy:
    """An asyncio TCP forwarder in its own thread; `down()` / `up()` simulate the backend's outage."""

    def __init__(self, upstream: str, port: int | None = None) -> None:
        u = urlparse(upstream)
        if u.scheme not in ("tcp", "unix"):
            raise ValueError(f"upstream must be tcp://host:port or unix:///path, not {upstream!r}")
        if u.scheme == "tcp" and u.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("loopback upstreams only")
        self._upstream = u
        self.port = port or free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"outage-proxy-{self.port}", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._active = 0
        self._hanging = False
        self.accepted = 0
        """Connections accepted since the start (clients that reconnect show up here)."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        """Client connections currently open through the proxy."""
        return self._active

    def _run(self, coro: Any) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout=10)

    def start(self) -> OutageProxy:
        self._thread.start()
        self.up()
        return self

    def up(self) -> None:
        """Listen (again) on the same port; after `hang()`, forward again (held connections are reset)."""
        self._run(self._resume())

    def down(self) -> None:
        """Refuse new connections and reset the open ones, like a backend process that died."""
        self._run(self._close())

    def hang(self) -> None:
        """Accept connections but answer nothing, on new and open connections alike (a stalled backend)."""
        self._hanging = True

    async def _resume(self) -> None:
        if self._hanging:
            self._hanging = False
            await self._close()  # what was swallowed cannot be replayed: reset the stalled connections
        await self._listen()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.down()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._upstream.scheme == "unix":
            return await asyncio.open_unix_connection(self._upstream.path)
        return await asyncio.open_connection(self._upstream.hostname, self._upstream.port)

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            _close_quietly(writer)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._hanging:
            await self._swallow(reader, writer)
            return
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        self._active += 1

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if not self._hanging:  # a stalled backend: bytes go nowhere
                        dst.write(data)
                        await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                _close_quietly(dst)

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._active -= 1
            self._writers.discard(writer)
            self._writers.discard(up_writer)


def _close_quietly(w: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        w.close()


@contextlib.contextmanager
def outage_proxy(upstream: str) -> Iterator[OutageProxy]:
    proxy = OutageProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def process_threads(pid: int) -> int:
    """Threads of a process (from /proc)."""
    return len(os.listdir(f"/proc/{pid}/task"))


def process_fds(pid: int) -> int:
    """Open file descriptors of a process (from /proc)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def process_rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class PrivateProcess:
    """A backend process the test owns: `kill()` is SIGKILL, `start()` runs the same command again."""

    def __init__(self, argv: list[str], ready: Callable[[], bool], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.ready = ready
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.argv[0]} did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def _cluster_port() -> int:
    """A free port whose cluster-bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 45000)
        if all(_free(p) for p in (port, port + 10000)):
            return port
    pytest.fail("no free port pair for a Redis Cluster node")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PrivateRedisCluster:
    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="bam-rc-")
        self.ports = [_cluster_port() for _ in range(3)]
        self.nodes = {p: self._node(p) for p in self.ports}

    def _node(self, port: int) -> PrivateProcess:
        d = f"{self.root}/{port}"
        os.makedirs(d, exist_ok=True)
        argv = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--cluster-enabled", "yes",
            "--cluster-config-file", f"{d}/nodes.conf", "--cluster-node-timeout", "1000", "--dir", d,
            "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        return PrivateProcess(argv, lambda: self._cli(port, "ping") == "PONG")

    def _cli(self, port: int, *args: str) -> str:
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args], capture_output=True, text=True)
        return r.stdout.strip()

    def state(self, port: int) -> str:
        info = self._cli(port, "cluster", "info")
        return next((line.split(":")[1].strip() for line in info.splitlines() if line.startswith("cluster_state")), "")

    def states(self) -> dict[int, str]:
        """Each node's own `cluster_state` (a client may ask any of them)."""
        return {p: self.state(p) for p in self.ports}

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            backend_unavailable("redis-server (apt-get install redis-server)", "not on PATH")
        for node in self.nodes.values():
            node.start()
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            ["redis-cli", "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
        )
        self.wait_ok()

    def wait_ok(self) -> None:
        """Until every node says `cluster_state:ok` (the one `--cluster create` was run on is not enough)."""
        deadline = time.monotonic() + 30
        while set(self.states().values()) != {"ok"}:
            if time.monotonic() > deadline:
                pytest.fail(f"private Redis Cluster states {self.states()!r}")
            time.sleep(0.1)

    def client_count(self) -> int:
        return sum(len(self._cli(p, "client", "list").splitlines()) - 1 for p in self.ports)  # minus redis-cli

    def close(self) -> None:
        for node in self.nodes.values():
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
