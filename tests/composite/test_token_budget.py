"""The tool-definition budgets of issue 10, measured exactly as `make bench` measures them (o200k_base tokens of
name + description + input schema), and the README's figures checked against that measurement."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.bench_tokens import Cost, cost, mode_cases

pytestmark = pytest.mark.anyio
README = Path(__file__).parents[2] / "README.md"
CASES = dict(mode_cases())
FULL = [label for label in CASES if not label.startswith("discovery")]
DEFAULT = "read-only, all five, default toolsets (default)"
_measured: dict[str, Cost] = {}


async def measured(label: str) -> Cost:
    """The cost of one configuration, measured once per test session (a build mounts all five modules)."""
    if label not in _measured:
        _measured[label] = await cost(CASES[label])
    return _measured[label]


ROW = re.compile(
    r"^\| (?P<label>[^|]+?) \| (?P<tools>\d+) \| (?P<model>[\d,]+) \| (?P<per>\d+|—) \| (?P<full>[\d,]+) tokens"
)


@pytest.mark.parametrize("label", FULL)
async def test_every_full_list_stays_within_120_tokens_per_tool(label: str) -> None:
    c = await measured(label)
    assert c.tools > 40 and c.per_tool <= 120, f"{label}: {c.per_tool:.1f} tokens per tool"


async def test_default_list_and_discovery_stay_within_their_totals() -> None:
    default = await measured(DEFAULT)
    assert default.model <= 8_000 and default.full_bytes <= 80_000, default
    for label in CASES.keys() - FULL:
        c = await measured(label)
        assert 3 <= c.tools <= 4 and c.model <= 1_500, f"{label}: {c}"


def readme_rows() -> dict[str, dict[str, str]]:
    section = README.read_text().split("## Fitting the agent's context", 1)[1].split("\n## ", 1)[0]
    rows = (ROW.match(line.replace("**", "")) for line in section.splitlines())
    return {m["label"]: m.groupdict() for m in rows if m}


def near(written: str, measured: float) -> bool:
    """Within 3%: a reworded description passes, a table left from before a change does not."""
    return abs(int(written.replace(",", "")) - measured) <= 0.03 * measured


@pytest.mark.parametrize("label", list(CASES))
async def test_readme_figures_are_the_measured_ones(label: str) -> None:
    rows = readme_rows()
    assert label in rows, f"README's context table has no row {label!r}: run `make bench`, copy the figures"
    row, c = rows[label], await measured(label)
    stale = f"README row {label!r} is stale ({row}; measured {c}): run `make bench`, copy the figures"
    assert int(row["tools"]) == c.tools and near(row["model"], c.model) and near(row["full"], c.full), stale
    assert row["per"] == "—" or abs(int(row["per"]) - c.per_tool) <= 2, stale
