"""The shared log filter: matching lines with context, inside the byte budget, newest kept, never a regex."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mcp.server.mcpserver.exceptions import ToolError

from servers._common.lines import MAX_PATTERN, SEPARATOR, alternatives, grep_filter, grep_lines

LOG = "\n".join(f"{i:03d} {'ERROR boom' if i % 10 == 0 else 'info ok'}" for i in range(100))


def test_only_matching_lines_with_context_and_separators() -> None:
    g = grep_lines(LOG, "error", 10_000, context=1)
    lines = g.text.splitlines()
    assert g.matched == 10 and not g.truncated and g.notes == []
    assert lines[:3] == ["000 ERROR boom", "001 info ok", SEPARATOR]
    assert lines[3:6] == ["009 info ok", "010 ERROR boom", "011 info ok"]
    assert all("ERROR" in ln or "info" in ln or ln == SEPARATOR for ln in lines)


def test_alternatives_and_case() -> None:
    g = grep_lines("a\nWarn x\nb\nfatal y\nc", "warn|FATAL", 1_000, context=0)
    assert g.text.splitlines() == ["Warn x", SEPARATOR, "fatal y"]


def test_budget_keeps_the_newest_groups_and_says_how_to_narrow() -> None:
    g = grep_lines(LOG, "error", 60, context=0)
    assert g.truncated and g.hint is not None and "narrow" in g.hint
    assert len(g.text.encode()) <= 60
    assert g.text.splitlines()[-1] == "090 ERROR boom"  # newest match kept


def test_a_single_group_larger_than_the_budget_keeps_its_newest_whole_lines() -> None:
    text = "\n".join(f"ERROR line {i}" for i in range(50))
    g = grep_lines(text, "error", 100, context=0)
    assert g.truncated and g.text.splitlines()[-1] == "ERROR line 49"
    assert len(g.text.encode()) <= 100


def test_no_match_explains() -> None:
    g = grep_lines(LOG, "panic", 1_000)
    assert g.text == "" and g.matched == 0 and g.hint is not None and "no line contains" in g.hint


@pytest.mark.parametrize("bad", ["", "|", " | ", "x" * (MAX_PATTERN + 1), "|".join("abcdefghijklmnopq")])
def test_bad_patterns_are_tool_errors(bad: str) -> None:
    with pytest.raises(ToolError, match=r"invalid_pattern"):
        grep_filter(LOG, bad, 1_000, "read the logs")


@settings(max_examples=200, deadline=None)
@given(
    pattern=st.text(min_size=1, max_size=64).filter(lambda p: any(a.strip() for a in p.split("|"))),
    text=st.text(max_size=2_000),
    budget=st.integers(min_value=1, max_value=4_000),
)
def test_generated_patterns_and_logs_never_exceed_the_budget_or_invent_lines(
    pattern: str, text: str, budget: int
) -> None:
    try:
        alts = alternatives(pattern)
    except ValueError:
        return
    g = grep_lines(text, pattern, budget, context=1)
    assert len(g.text.encode()) <= budget or g.text.count("\n") == 0
    source = set(text.splitlines())
    for ln in g.text.splitlines():
        assert ln in source or ln == SEPARATOR
    if not g.truncated:
        assert g.matched == sum(1 for ln in text.splitlines() if any(a in ln.lower() for a in alts))


def test_regex_metacharacters_are_plain_text_and_cannot_backtrack() -> None:
    evil = "(a+)+$"
    text = "a" * 50_000 + "!\n" + "x (a+)+$ y"
    start = time.perf_counter()
    g = grep_lines(text, evil, 10_000, context=0)
    assert time.perf_counter() - start < 1.0
    assert g.text == "x (a+)+$ y"
