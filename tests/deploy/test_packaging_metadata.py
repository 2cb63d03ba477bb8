"""LICENSE, server.json (MCP registry) and the image labels agree with pyproject.toml."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_license_file_matches_the_declared_license() -> None:
    assert PROJECT["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text and "WITHOUT WARRANTY OF ANY KIND" in text


def test_server_json_describes_this_release() -> None:
    data = json.loads((ROOT / "server.json").read_text())
    assert re.fullmatch(
        r"https://static\.modelcontextprotocol\.io/schemas/\d{4}-\d{2}-\d{2}/server\.schema\.json", data["$schema"]
    )
    assert re.fullmatch(r"^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$", data["name"])
    assert 1 <= len(data["description"]) <= 100  # the schema's limits
    assert data["version"] == PROJECT["version"]
    assert data["repository"]["url"] == PROJECT["urls"]["Repository"]
    pypi = next(p for p in data["packages"] if p["registryType"] == "pypi")
    assert pypi["identifier"] == PROJECT["name"] and pypi["version"] == PROJECT["version"]
    oci = next(p for p in data["packages"] if p["registryType"] == "oci")
    assert oci["identifier"].endswith(f"/{PROJECT['name']}:{PROJECT['version']}")
    for p in data["packages"]:
        assert set(p) <= {
            "registryType", "registryBaseUrl", "identifier", "version", "fileSha256", "runtimeHint",
            "transport", "runtimeArguments", "packageArguments", "environmentVariables",
        }  # fmt: skip
        assert p["transport"] == {"type": "stdio"}
        for v in p["environmentVariables"]:
            assert set(v) <= {"name", "description", "isRequired", "format", "isSecret", "default", "placeholder"}
            assert v.get("isSecret", False) == (v["name"] in {"DATABASE_URL", "REDIS_URL"})  # URLs carry passwords
    # ownership markers the registry checks: `mcp-name:` in the PyPI README, the OCI image label
    assert f"mcp-name: {data['name']}" in (ROOT / "README.md").read_text()
    assert f'io.modelcontextprotocol.server.name="{data["name"]}"' in (ROOT / "Dockerfile").read_text()
