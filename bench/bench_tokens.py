"""What the tool definitions cost in the model's context, per mode, module and toolset.

"Model view" is what a model reads of each tool: its name, description and input schema (compact JSON
of those three fields, summed over the tools); "full" is the whole `tools/list` result as compact JSON
(titles, annotations, output schemas, `_meta` too). Tokens are counted with the o200k_base encoding that
the `quicktok-v1` package ships (no download at run time). No backend is needed: only the definitions
are measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from bench.common import write
from composite import modules as registry
from composite.app import build
from composite.settings import AppSettings
from servers.registry import MODULES

TARGETS = (
    "Targets: ≤ 120 model-view tokens per tool on average, ≤ 8,000 read-only with all five modules, "
    "≤ 1,500 in discovery mode, full tools/list ≤ 80 KB read-only."
)


def encoder() -> Any:
    import quicktok

    return quicktok.get_encoding("o200k_base")


ENC = None


def tokens(text: str) -> int:
    global ENC
    if ENC is None:
        ENC = encoder()
    return len(ENC.encode_ordinary(text))


def settings(**kw: Any) -> AppSettings:
    base: dict[str, Any] = {
        "servers": "all",
        "toolsets": "default",
        "discovery": False,
        "allow_writes": "",
        "allow_admin": "",
        "allow_destructive": True,
        "tools": "",
        "exclude_tools": "",
    }
    return AppSettings(**{**base, **kw})


@dataclass
class Cost:
    tools: int
    model: int
    full: int
    full_bytes: int

    @property
    def per_tool(self) -> float:
        return self.model / self.tools if self.tools else 0.0


def model_view(tool: dict[str, Any]) -> int:
    return tokens(orjson.dumps({k: tool[k] for k in ("name", "description", "inputSchema") if k in tool}).decode())


async def cost(s: AppSettings) -> Cost:
    tools = await build(s).server.list_tools()
    dumped = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    full = orjson.dumps({"tools": dumped})
    return Cost(len(dumped), sum(model_view(t) for t in dumped), tokens(full.decode()), len(full))


def row(label: str, c: Cost) -> str:
    return f"| {label} | {c.tools} | {c.model:,} | {c.per_tool:.0f} | {c.full:,} | {c.full_bytes / 1000:.0f} KB |"


HEAD = [
    "| {} | tools | model view (tokens) | per tool | full tools/list (tokens) | full size |",
    "|---|---|---|---|---|---|",
]


async def modes() -> list[str]:
    cases = [
        ("read-only, all five, default toolsets (default)", settings()),
        ("read-only, all five, all toolsets", settings(toolsets="all")),
        ("writes allowed, all five, default toolsets", settings(allow_writes="all")),
        ("writes allowed, all five, all toolsets", settings(allow_writes="all", toolsets="all")),
        ("writes + admin, all five, all toolsets", settings(allow_writes="all", allow_admin="all", toolsets="all")),
        ("discovery, read-only, all toolsets", settings(discovery=True, toolsets="all")),
        ("discovery, writes + admin, all toolsets", settings(discovery=True, toolsets="all", allow_writes="all")),
    ]
    lines = ["## Per mode", "", HEAD[0].format("configuration"), HEAD[1]]
    for label, s in cases:
        lines.append(row(label, await cost(s)))
    return lines


async def per_module() -> list[str]:
    lines = ["## Per module (all toolsets)", "", HEAD[0].format("module, tier"), HEAD[1]]
    for m in MODULES:
        lines.append(row(f"{m}, read-only", await cost(settings(servers=m, toolsets="all"))))
        lines.append(row(f"{m}, writes", await cost(settings(servers=m, toolsets="all", allow_writes="all"))))
    return lines


async def per_toolset() -> list[str]:
    lines = [
        "## Per toolset",
        "",
        "| toolset | default | tools (read-only / writes) | model view read-only | model view writes |",
        "|---|---|---|---|---|",
    ]
    for m in MODULES:
        mt = registry.module_tools(m)
        for ts in mt.toolsets:
            ro = await cost(settings(servers=m, toolsets=f"{m}.{ts}"))
            rw = await cost(settings(servers=m, toolsets=f"{m}.{ts}", allow_writes="all", allow_admin="all"))
            default = "yes" if ts in mt.default else ""
            lines.append(f"| `{m}.{ts}` | {default} | {ro.tools} / {rw.tools} | {ro.model:,} | {rw.model:,} |")
    return lines


async def main() -> None:
    parts = [*await modes(), "", *await per_module(), "", *await per_toolset(), "", TARGETS]
    body = "# Tool-definition cost (o200k_base tokens)\n\n" + "\n".join(parts) + "\n"
    path = write("tokens", body)
    print(body)
    print(f"written to {path}")


if __name__ == "__main__":
    anyio.run(main)
