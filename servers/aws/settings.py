"""AWS module settings: the standard AWS variables plus `BAM_AWS_*` tuning and safety variables."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servers._common.module import first_existing, first_set
from servers._common.settings import BamSettings, PageLimit, PageSize, ResultBytes, WorkerThreads
from servers._common.tools import csv_items


def _from(*variables: str, about: str) -> Any:
    """A setting read from the first of `variables` that is set (none: null)."""
    return Field(default=None, validation_alias=AliasChoices(*variables), description=about)


class AwsSettings(BamSettings):
    model_config = SettingsConfigDict(env_prefix="BAM_AWS_")

    profile: str | None = _from(
        "BAM_AWS_PROFILE", "AWS_PROFILE", about="Default named profile (else the standard credential chain)."
    )
    region: str | None = _from(
        "BAM_AWS_REGION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        about="Default region (else the profile's region, else us-east-1).",
    )
    endpoint_url: str | None = _from(
        "BAM_AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL",
        about="Endpoint for every service (LocalStack/moto); boto3 also reads AWS_ENDPOINT_URL itself.",
    )
    config_file: str | None = _from(
        "BAM_AWS_CONFIG_FILE",
        "AWS_CONFIG_FILE",
        about="Shared config file (profiles, regions, SSO, role_arn/source_profile).",
    )
    credentials_file: str | None = _from(
        "BAM_AWS_CREDENTIALS_FILE", "AWS_SHARED_CREDENTIALS_FILE", about="Shared credentials file."
    )
    allowed_role_arns: str = Field(
        default="",
        description="Comma-separated role ARNs (globs) a call may assume via `role_arn`. Empty: assume-role off.",
    )
    allowed_profiles: str = Field(
        default="*",
        description="Comma-separated profile names (globs) a call may select via `profile`.",
    )
    role_session_name: str = Field(default="backend-architect-mcp", description="RoleSessionName of assumed roles.")
    deny: str = Field(
        default="",
        description="Comma-separated `service:Operation` globs never executed, e.g. `iam:*,s3:DeleteBucket*`.",
    )
    max_items: PageSize = 50
    max_items_limit: PageLimit = 1_000
    max_pages: int = Field(
        default=20, ge=1, le=1_000, description="Most AWS pages one call fetches (per byte-cap attempt)."
    )
    call_budget_s: float = Field(
        default=20.0, gt=0, description="Wall time after which a call stops paging and returns a resume token."
    )
    reveal_secrets: bool = Field(
        default=False,
        description="aws_call_write shows the values it would mask (sensitive members, secret-named keys, pairs).",
    )
    max_bytes: Annotated[ResultBytes, Field(ge=2_048)] = 200_000
    object_max_bytes: int = Field(default=65_536, ge=1, description="Default byte cap when reading an S3 object.")
    object_max_bytes_limit: int = Field(default=1_048_576, ge=1, description="Largest object read allowed.")
    presign_max_expires_s: int = Field(default=3_600, ge=1, description="Longest presigned URL lifetime.")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="Connect timeout of AWS calls.")
    read_timeout_s: float = Field(default=30.0, gt=0, description="Read timeout of AWS calls.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="botocore retry attempts (standard mode).")
    insights_timeout_s: float = Field(default=60.0, gt=0, description="Longest wait for a Logs Insights query.")
    insights_poll_s: float = Field(default=1.0, gt=0, description="Poll interval of Logs Insights queries.")
    max_threads: WorkerThreads = 8
    max_sessions: int = Field(
        default=16, ge=1, le=256, description="(profile, region, role) sessions kept; the least recently used go."
    )

    def role_allowed(self, role_arn: str) -> bool:
        return any(fnmatch.fnmatchcase(role_arn, g) for g in csv_items(self.allowed_role_arns))

    def profile_allowed(self, profile: str) -> bool:
        return any(fnmatch.fnmatchcase(profile, g) for g in csv_items(self.allowed_profiles))

    def denied(self, service: str, operation: str) -> str | None:
        """The deny-list glob matching `service:Operation`, if any."""
        name = f"{service}:{operation}"
        for g in csv_items(self.deny):
            if fnmatch.fnmatch(name.lower(), g.lower()):
                return g
        return None

    def target(self) -> str:
        where = self.endpoint_url or "AWS"
        return f"{where} (profile {self.profile or 'default chain'}, region {self.region or 'from profile'})"


AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "BAM_AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "BAM_AWS_ENDPOINT_URL",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def configured(env: Mapping[str, str]) -> str | None:
    """A credential or endpoint variable, or a shared credentials/config file, if any."""
    var = first_set(env, AWS_VARIABLES)
    if var:
        return var
    home = env.get("HOME", "~")
    files = [env.get("AWS_SHARED_CREDENTIALS_FILE", ""), env.get("AWS_CONFIG_FILE", "")]
    return first_existing([*files, f"{home}/.aws/credentials", f"{home}/.aws/config"])
