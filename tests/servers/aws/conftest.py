"""Fixtures of the aws module tests: servers built in-process against moto, raw boto3 for seeding."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from mcp import Client

from servers._common import ToolPolicy
from servers.aws import build_server


@pytest.fixture
def boto(aws_endpoint: str) -> Callable[..., Any]:
    """A raw boto3 client against moto, for seeding and checking (never through the module)."""
    import boto3

    def make(service: str, region: str = "us-east-1") -> Any:
        return boto3.client(service, region_name=region, endpoint_url=aws_endpoint)

    return make


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def ro(aws_endpoint: str) -> AsyncIterator[Client]:
    """The module with the default policy: read-only."""
    async with Client(build_server()) as c:
        yield c


@pytest.fixture
async def rw(aws_endpoint: str) -> AsyncIterator[Client]:
    """The module with writes allowed for aws."""
    async with Client(build_server(policy=ToolPolicy(allow_writes=frozenset({"aws"})))) as c:
        yield c
