"""The distribution: `pip install .` gets the console script, both packages, the role prompt file and the tool manifest."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from servers.registry import MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_entry_point_packages_and_prompt(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    wheel = next(tmp_path.glob("backend_architect_mcp-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        assert (
            "backend-architect-mcp = composite.__main__:main" in z.read(entry).decode()
        )  # no GC from the first import
        metadata = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "composite/prompts/backend_architect.md" in names
    assert "servers/_common/tool_manifest.json" in names  # tools/list at start-up without building the tools
    for module in MODULES:
        assert f"servers/{module}/__main__.py" in names
    assert not any(n.startswith("tests/") or n.startswith("bench/") for n in names)
    assert "Requires-Dist: mcp<3,>=2.3" in metadata
