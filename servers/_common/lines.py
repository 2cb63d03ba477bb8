"""Filter log-like output at the source: only the lines that match, with a little context, in a byte budget.

The pattern is plain text, matched case-insensitively; `a|b` matches lines holding either. It is not a
regular expression on purpose: both the pattern and the log lines can come from an attacker, and a
backtracking regex over attacker-chosen text can hang the server. Callers pass text that is already
redacted, so a pattern can never be used to test whether a masked secret is present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from servers._common.errors import tool_error

GrepArg = Annotated[
    str | None,
    Field(
        max_length=512,
        description="Only lines containing this (case-insensitive; a|b: either)",
    ),
]
"""The `grep` parameter of tools that return log-like text."""

MAX_PATTERN = 512
MAX_ALTERNATIVES = 16
SEPARATOR = "--"
"""Between two groups of lines that are not adjacent in the source (as grep prints)."""


def alternatives(pattern: str) -> list[str]:
    """The lower-cased alternatives of `pattern`; ValueError when it is empty or too long."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"the pattern is longer than {MAX_PATTERN} characters")
    alts = [a.strip().lower() for a in pattern.split("|") if a.strip()]
    if not alts:
        raise ValueError("the pattern is empty")
    if len(alts) > MAX_ALTERNATIVES:
        raise ValueError(f"the pattern has more than {MAX_ALTERNATIVES} alternatives")
    return alts


def matches(line: str, alts: list[str]) -> bool:
    low = line.lower()
    return any(a in low for a in alts)


@dataclass(frozen=True)
class Grep:
    text: str
    matched: int = 0
    truncated: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def hint(self) -> str | None:
        return self.notes[0] if self.notes else None


def _groups(lines: list[str], alts: list[str], context: int) -> tuple[list[tuple[int, int]], int]:
    """Line ranges [start, end) around the matching lines, merged when they touch, and the match count."""
    groups: list[tuple[int, int]] = []
    hits = 0
    for i, line in enumerate(lines):
        if not matches(line, alts):
            continue
        hits += 1
        start, end = max(0, i - context), min(len(lines), i + context + 1)
        if groups and start <= groups[-1][1]:
            groups[-1] = (groups[-1][0], max(groups[-1][1], end))
        else:
            groups.append((start, end))
    return groups, hits


def grep_lines(text: str, pattern: str, max_bytes: int, *, context: int = 2) -> Grep:
    """The lines of `text` matching `pattern` with `context` lines around each, newest groups first to keep.

    When the matches do not fit in `max_bytes`, the newest groups are kept (logs are read for what happened
    last), `truncated` is set and a note says how to narrow. Raises ValueError for a bad pattern.
    """
    alts = alternatives(pattern)
    lines = text.splitlines()
    groups, hits = _groups(lines, alts, context)
    if not hits:
        return Grep("", 0, False, [f"no line contains {pattern!r}; widen the time window or check the pattern"])
    kept: list[str] = []
    used = 0
    cut = False
    for start, end in reversed(groups):
        block = lines[start:end]
        size = sum(len(ln.encode()) + 1 for ln in block) + len(SEPARATOR) + 1
        if used + size > max_bytes:
            cut = True
            if not kept:  # not even the newest group fits: keep its newest whole lines
                while block and sum(len(ln.encode()) + 1 for ln in block) > max_bytes:
                    block = block[1:]
                kept = block
            break
        kept = [*block, *([SEPARATOR] if kept else []), *kept]
        used += size
    notes = []
    if cut:
        notes.append(f"{hits} matching lines did not all fit in the byte budget: narrow the pattern or the time window")
    return Grep("\n".join(kept), hits, cut, notes)


def grep_filter(text: str, pattern: str, max_bytes: int, action: str, *, context: int = 2) -> Grep:
    """`grep_lines`, with a bad pattern turned into the tool error for `action`."""
    try:
        return grep_lines(text, pattern, max_bytes, context=context)
    except ValueError as exc:
        raise tool_error(action, str(exc), code="invalid_pattern", hint="pass plain text; `a|b` for either") from exc
