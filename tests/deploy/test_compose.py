"""compose.yaml: the server built from the Dockerfile, wired to PostgreSQL (pg_stat_statements preloaded),
Redis and moto by service name, every published port on loopback. (The test engine reaches no registry, so
the stack itself is not started here; `docker-compose config` validated the file when it was written.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_published_port_is_on_loopback() -> None:
    for name, svc in COMPOSE["services"].items():
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_server_is_built_from_the_dockerfile_and_wired_to_the_backends() -> None:
    services = COMPOSE["services"]
    server = services["server"]
    assert server["build"]["context"] == "." and (ROOT / "Dockerfile").is_file()
    assert server["ports"] == ["127.0.0.1:8000:8000"]
    env = server["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"] and env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["AWS_ENDPOINT_URL"] == "http://moto:5000"
    assert server["read_only"] is True and server["cap_drop"] == ["ALL"]
    assert set(server["depends_on"]) == {"postgres", "redis", "moto"}
    pg = services["postgres"]
    assert "shared_preload_libraries=pg_stat_statements" in pg["command"]
    init = pg["volumes"][0].split(":")[0]
    assert "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" in (ROOT / init).read_text()
