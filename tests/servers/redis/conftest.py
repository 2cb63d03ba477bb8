"""Real Redis for the redis module's tests: a dedicated db of REDIS_URL, unique key prefixes, servers in
read-only / write / admin modes, the loopback cluster from scripts/backends/redis-cluster.sh, and a
TLS-only redis-server with a throwaway CA started here."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import redis.asyncio as aioredis
from mcp import Client

from servers._common import ToolPolicy
from servers.redis import build_server
from tests.conftest import free_port

TEST_DB = int(os.environ.get("BAM_TEST_REDIS_DB", "11"))
WRITES = ToolPolicy(allow_writes=frozenset({"redis"}))
ADMIN = ToolPolicy(allow_writes=frozenset({"redis"}), allow_admin=frozenset({"redis"}))


def with_db(url: str, db: int) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, f"/{db}", u.query, u.fragment))


@pytest.fixture
def test_url(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """REDIS_URL pointed at the test db for servers built in this test."""
    url = with_db(redis_url, TEST_DB)
    for var in ("REDIS_CLUSTER_NODES", "BAM_REDIS_CLUSTER_NODES", "REDIS_SENTINELS", "BAM_REDIS_SENTINELS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("REDIS_URL", url)
    yield url


@pytest.fixture
async def raw(test_url: str) -> AsyncIterator[aioredis.Redis]:
    """A plain redis.asyncio client on the test db (to seed and to verify)."""
    client = aioredis.Redis.from_url(test_url, decode_responses=False)
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(raw: aioredis.Redis) -> AsyncIterator[str]:
    """A unique key prefix; every key under it is removed after the test."""
    p = f"bamtest:{uuid.uuid4().hex[:10]}:"
    yield p
    keys = [k async for k in raw.scan_iter(match=p + "*", count=1000)]
    for i in range(0, len(keys), 500):
        await raw.unlink(*keys[i : i + 500])


@pytest.fixture
async def ro(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server()) as c:
        yield c


@pytest.fixture
async def rw(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server(WRITES)) as c:
        yield c


@pytest.fixture
async def admin(test_url: str) -> AsyncIterator[Client]:
    async with Client(build_server(ADMIN)) as c:
        yield c


@pytest.fixture(scope="session")
def cluster_url() -> str:
    """The 3-node loopback cluster: REDIS_CLUSTER_URL, else started here with scripts/backends/redis-cluster.sh
    (needs redis-server). When neither works the test FAILS, never skips."""
    url = os.environ.get("REDIS_CLUSTER_URL")
    if url:
        return url
    script = Path(__file__).resolve().parents[3] / "scripts" / "backends" / "redis-cluster.sh"
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("export REDIS_CLUSTER_URL="):
            return line.split("=", 1)[1].strip()
    pytest.fail(
        "REDIS_CLUSTER_URL is unset and the loopback cluster could not be started "
        f"({script.name} exited {out.returncode}: {out.stderr.strip()[-500:]}); install redis-server or set "
        "REDIS_CLUSTER_URL",
        pytrace=False,
    )


async def fingerprint(raw: aioredis.Redis, prefix: str) -> dict[str, Any]:
    """What an escape attempt could change: the keys under `prefix` with type, value digest and TTL."""
    out: dict[str, Any] = {}
    async for k in raw.scan_iter(match=prefix + "*", count=1000):
        dump = await raw.dump(k)
        out[k.decode()] = (await raw.type(k), dump, await raw.pttl(k) > 0)
    out["__dbsize"] = await raw.dbsize()
    return out


def require_binary(name: str, package: str) -> str:
    """The path of `name`; a missing binary FAILS the test (never a skip)."""
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} must be installed for the redis tests (apt-get install {package})", pytrace=False)
    return path


def _openssl(openssl: str, *args: str, cwd: Path) -> None:
    done = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()}", pytrace=False)


def make_ca(openssl: str, d: Path, name: str) -> tuple[Path, Path]:
    """A self-signed throwaway CA (P-256, valid one day): (certificate, key)."""
    crt, key = d / f"{name}.crt", d / f"{name}.key"
    _openssl(
        openssl,
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", f"/CN=bam test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    return crt, key


def make_server_cert(openssl: str, d: Path, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 / localhost signed by `ca`: (certificate, key)."""
    crt, key, csr, ext = d / "server.crt", d / "server.key", d / "server.csr", d / "server.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        openssl,
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1",
        cwd=d,
    )  # fmt: skip
    _openssl(
        openssl,
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-out", str(crt), "-days", "1", "-extfile", str(ext),
        cwd=d,
    )  # fmt: skip
    return crt, key


@dataclass(frozen=True)
class TlsRedis:
    """A redis-server listening only on TLS (`--port 0`) on loopback."""

    port: int
    ca_file: Path
    """The CA that signed the server certificate."""
    wrong_ca_file: Path
    """Another CA, which did not sign it."""

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """A TLS-only redis-server with a throwaway CA and a server certificate for 127.0.0.1.

    Missing redis-server or openssl FAILS (never skips): install the Debian packages.
    """
    server = require_binary("redis-server", "redis-server")
    openssl = require_binary("openssl", "openssl")
    d = tmp_path_factory.mktemp("redis-tls")
    ca = make_ca(openssl, d, "ca")
    wrong_ca, _ = make_ca(openssl, d, "other-ca")
    crt, key = make_server_cert(openssl, d, ca)
    port = free_port()
    log = d / "redis.log"
    proc = subprocess.Popen(
        [
            server,
            "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(crt), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca[0]),
            "--tls-auth-clients", "no",
            "--save", "", "--appendonly", "no", "--dir", str(d), "--logfile", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        probe = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(ca[0]), socket_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            try:
                probe.ping()
                break
            except redis.ConnectionError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = log.read_text() if log.exists() else ""
                    pytest.fail(
                        f"the TLS redis-server on 127.0.0.1:{port} did not come up ({exc}); "
                        f"exit code {proc.poll()}; log:\n{out[-2000:]}",
                        pytrace=False,
                    )
                time.sleep(0.05)
        probe.close()
        yield TlsRedis(port=port, ca_file=ca[0], wrong_ca_file=wrong_ca)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
