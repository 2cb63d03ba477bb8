"""Settings shared by every server: the safety policy, read from flags or `BAM_*` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from servers._common.tools import ToolPolicy, make_policy


class PolicySettings(BaseSettings):
    """Which tools are exposed. Read-only everywhere unless told otherwise."""

    model_config = SettingsConfigDict(env_prefix="BAM_", extra="ignore", populate_by_name=True)

    allow_writes: str = Field(
        default="",
        description="Modules whose write tools are exposed: comma-separated names, or `all`. Empty: read-only.",
    )
    allow_admin: str = Field(
        default="",
        description="Modules whose admin-level tools (arbitrary commands, exec) are exposed, or `all`.",
    )
    allow_destructive: bool = Field(
        default=True,
        description="Expose destructive tools of modules with writes allowed. False hides them even then.",
    )
    tools: str = Field(default="", description="Comma-separated globs; only matching tool names are exposed.")
    exclude_tools: str = Field(default="", description="Comma-separated globs of tool names to hide.")

    def policy(self) -> ToolPolicy:
        return make_policy(
            allow_writes=self.allow_writes,
            allow_admin=self.allow_admin,
            allow_destructive=self.allow_destructive,
            tools=self.tools,
            exclude_tools=self.exclude_tools,
        )
