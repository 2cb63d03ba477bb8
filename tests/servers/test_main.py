"""`python -m servers.<name>`: every module runs alone over stdio with the same tools as in the composite."""

from __future__ import annotations

import os
import sys

import pytest
from mcp import Client, StdioServerParameters

from composite.app import build
from composite.settings import AppSettings
from servers.registry import MODULES

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("module", MODULES)
async def test_module_runs_alone_with_the_composites_tools(module: str) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", f"servers.{module}"], env=dict(os.environ))
    async with Client(params) as c:
        alone = [(t.name, t.annotations) for t in (await c.list_tools()).tools]
        assert c.server_info is not None and c.server_info.name == f"backend-architect-{module}"
    composed = [
        (t.name, t.annotations) for t in await build(AppSettings(servers=module, toolsets="all")).server.list_tools()
    ]
    assert alone == composed and alone
