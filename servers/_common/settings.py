"""Settings shared by every server: the safety policy, read from flags or `BAM_*` variables.

Every field of a settings class that the command line exposes is a flag of the same name (dashes for
underscores) with the field's description as its help; `flag(...)` in a field's `json_schema_extra`
states what differs (another name, a bare-flag value, which subcommands have it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from servers._common.tools import ToolPolicy, make_policy


class FlagSpec(TypedDict, total=False):
    """How a settings field appears on the command line (every key optional)."""

    name: str
    """The flag without `--` (default: the field name with dashes)."""
    scope: Literal["serve", "all"]
    """`serve` (default): `serve` and `python -m servers.<name>`; `all`: every subcommand (`tools`, `doctor`, ...)."""
    metavar: str
    bare: str
    """The value of the flag given without one (`--allow-writes` means `all`); the flag then takes an optional value."""
    sets: bool
    """A switch that sets the field to this value (`--no-destructive` sets `allow_destructive` to False)."""
    hidden: bool
    """No flag: the field is read from its environment variable only."""


def flag(
    *,
    name: str | None = None,
    scope: Literal["serve", "all"] = "serve",
    metavar: str | None = None,
    bare: str | None = None,
    sets: bool | None = None,
    hidden: bool = False,
) -> dict[str, Any]:
    """`json_schema_extra` of a field whose flag differs from the default (the keys of `FlagSpec`)."""
    spec = FlagSpec(scope=scope, hidden=hidden)
    if name is not None:
        spec["name"] = name
    if metavar is not None:
        spec["metavar"] = metavar
    if bare is not None:
        spec["bare"] = bare
    if sets is not None:
        spec["sets"] = sets
    return {"flag": spec}


PageSize = Annotated[int, Field(ge=1, description="Default items per page of a list.")]
"""`max_items` of a module's settings; the module states only its default (`max_items: PageSize = 50`)."""
PageLimit = Annotated[int, Field(ge=1, description="Largest page a caller may ask for.")]
"""`max_items_limit`: the largest `limit` a tool call may pass."""
ResultBytes = Annotated[int, Field(ge=1_024, description="Byte cap of one tool result (JSON).")]
"""`max_bytes`: what one tool result may weigh."""
WorkerThreads = Annotated[int, Field(ge=1, le=64, description="Worker threads for blocking client calls (own pool).")]
"""`max_threads` of a module whose client library blocks (run in the module's own bounded pool)."""


class BamSettings(BaseSettings):
    """Base of every settings class: `BAM_*` variables (the subclass sets `env_prefix`), fields also settable
    by name, the ecosystem's own variable names as `validation_alias`es, unknown variables ignored."""

    model_config = SettingsConfigDict(env_prefix="BAM_", extra="ignore", populate_by_name=True)


class PolicySettings(BamSettings):
    """Which tools are exposed. Read-only everywhere unless told otherwise."""

    allow_writes: str = Field(
        default="",
        description="Modules whose write tools are exposed: comma-separated names, or `all` (the bare flag). "
        "Empty: read-only.",
        json_schema_extra=flag(scope="all", metavar="MODULES", bare="all"),
    )
    allow_admin: str = Field(
        default="",
        description="Modules whose admin-level tools (arbitrary commands, exec) are exposed, or `all` (the bare flag).",
        json_schema_extra=flag(scope="all", metavar="MODULES", bare="all"),
    )
    allow_destructive: bool = Field(
        default=True,
        description="Expose destructive tools of modules with writes allowed. False hides them even then.",
        json_schema_extra=flag(scope="all", name="no-destructive", sets=False),
    )
    tools: str = Field(
        default="",
        description="Comma-separated globs; only matching tool names are exposed, e.g. 'pg_*,redis_key_get'.",
        json_schema_extra=flag(scope="all", metavar="GLOBS"),
    )
    exclude_tools: str = Field(
        default="",
        description="Comma-separated globs of tool names to hide.",
        json_schema_extra=flag(scope="all", metavar="GLOBS"),
    )

    def policy(self) -> ToolPolicy:
        return make_policy(
            allow_writes=self.allow_writes,
            allow_admin=self.allow_admin,
            allow_destructive=self.allow_destructive,
            tools=self.tools,
            exclude_tools=self.exclude_tools,
        )
