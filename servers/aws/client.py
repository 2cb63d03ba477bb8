"""AWS sessions and clients behind a `Backend`: keyed by (profile, region, role), refreshed on expiry.

boto3 is imported lazily (inside the worker thread that first needs it). A session is built per
(profile, region, assumed role) key and owns one client per service, so two calls that differ only
in region or profile never share a client. Assumed roles use botocore's refreshing credentials;
profiles with SSO or `role_arn` refresh through botocore too. When AWS answers that the credentials
expired or are invalid, the key's session is dropped and the call retried once with a session rebuilt
from the profile files, so `aws sso login` or rotated keys take effect without a restart.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, backend_error, connection_lost, tool_error
from servers._common.lifespan import BackendId, blocking_backend, serving
from servers.aws.settings import AwsSettings

log = logging.getLogger("backend_architect_mcp.aws")

R = TypeVar("R")
DEFAULT_REGION = "us-east-1"

CREDENTIAL_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "TokenRefreshRequired",
        "InvalidToken",
    }
)


@dataclass(frozen=True)
class Target:
    """Where a call goes: `None` means the configured default."""

    profile: str | None = None
    region: str | None = None
    role_arn: str | None = None


@dataclass
class _Entry:
    session: Any
    region: str
    profile: str | None
    role_arn: str | None
    clients: dict[str, Any] = field(default_factory=dict)


class Sessions:
    """boto3 sessions and clients cached per (profile, region, role); used from worker threads only."""

    def __init__(self, settings: AwsSettings) -> None:
        import boto3  # noqa: F401  (the slow import happens here, in a worker thread)
        from botocore.config import Config

        self.settings = settings
        self._lock = threading.RLock()
        self._entries: OrderedDict[tuple[str | None, str, str | None], _Entry] = OrderedDict()
        """Least recently used first; at most `settings.max_sessions` (each holds a session and its clients)."""
        self._meta: Any = None
        self._regions: dict[tuple[str | None, bool], str | None] = {}
        self._config = Config(
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            user_agent_extra="backend-architect-mcp",
        )

    def _botocore_session(self, profile: str | None) -> Any:
        import botocore.session

        bs = botocore.session.Session()
        if self.settings.config_file:
            bs.set_config_variable("config_file", self.settings.config_file)
        if self.settings.credentials_file:
            bs.set_config_variable("credentials_file", self.settings.credentials_file)
        if profile:
            from botocore.exceptions import ProfileNotFound

            available = bs.available_profiles
            if profile not in available:
                raise ProfileNotFound(profile=f"{profile} (configured: {', '.join(sorted(available)) or 'none'})")
            bs.set_config_variable("profile", profile)
        return bs

    def profiles(self) -> dict[str, dict[str, Any]]:
        """Configured profiles with their region and credential kind (no secrets)."""
        bs = self._botocore_session(None)
        out: dict[str, dict[str, Any]] = {}
        for name, cfg in bs.full_config.get("profiles", {}).items():
            if "sso_session" in cfg or "sso_start_url" in cfg:
                kind = "sso"
            elif "role_arn" in cfg:
                kind = "assume-role"
            elif "credential_process" in cfg:
                kind = "process"
            elif "aws_access_key_id" in cfg:
                kind = "static-keys"
            else:
                kind = "other"
            out[name] = {"region": cfg.get("region"), "kind": kind, "role_arn": cfg.get("role_arn")}
        return out

    def resolve(self, target: Target) -> tuple[str | None, str, str | None]:
        profile = target.profile or self.settings.profile
        if target.profile and not self.settings.profile_allowed(target.profile):
            raise tool_error(
                "select the profile",
                f"profile {target.profile!r} is not in the allowed profiles ({self.settings.allowed_profiles})",
                hint="set BAM_AWS_ALLOWED_PROFILES to permit it",
            )
        if target.role_arn and not self.settings.role_allowed(target.role_arn):
            raise tool_error(
                "assume the role",
                f"role {target.role_arn} is not in the assume-role allow-list",
                code="RoleNotAllowed",
                hint="add it to BAM_AWS_ALLOWED_ROLE_ARNS (comma-separated ARNs or globs)"
                if self.settings.allowed_role_arns
                else "assume-role is off; set BAM_AWS_ALLOWED_ROLE_ARNS to the role ARNs that may be assumed",
            )
        region = target.region
        if region:
            self.check_region(region)
        if not region and target.profile:
            region = self._profile_region(target.profile, explicit=True)
        if not region:
            region = self.settings.region
        if not region:
            region = self._profile_region(profile, explicit=False)
        return profile, region or DEFAULT_REGION, target.role_arn

    def check_region(self, region: str) -> None:
        """A caller's region must be a valid name of an AWS partition (botocore's own rules and patterns).

        Every (profile, region, role) gets its own session and clients (MBs each): an arbitrary region
        would also grow that cache without bound.
        """
        from botocore.exceptions import InvalidRegionError, UnknownRegionError
        from botocore.utils import validate_region_name

        try:
            validate_region_name(region)
            with self._lock:
                if self._meta is None:
                    self._meta = self._botocore_session(None)
                self._meta.get_partition_for_region(region)
        except (InvalidRegionError, UnknownRegionError):
            raise tool_error(
                "select the region",
                f"unknown region {region[:64]!r}: it belongs to no AWS partition",
                code="UnknownRegion",
                hint="pass a region name such as us-east-1 or eu-west-1, or omit `region` for the default",
            ) from None

    def _profile_region(self, profile: str | None, *, explicit: bool) -> str | None:
        """The region configured for `profile` (read from the files once; reread after `evict`)."""
        cache_key = (profile, explicit)
        with self._lock:
            if cache_key in self._regions:
                return self._regions[cache_key]
        bs = self._botocore_session(profile)
        if explicit and profile:
            region = bs.full_config.get("profiles", {}).get(profile, {}).get("region")
        else:
            region = bs.get_config_variable("region")
        with self._lock:
            self._regions[cache_key] = region
        return region if isinstance(region, str) else None

    def _entry(self, key: tuple[str | None, str, str | None]) -> _Entry:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry
            import boto3

            profile, region, role_arn = key
            bs = self._botocore_session(profile)
            if role_arn:
                bs = self._assume_role_session(bs, profile, region, role_arn)
            entry = _Entry(boto3.Session(botocore_session=bs, region_name=region), region, profile, role_arn)
            self._entries[key] = entry
            while len(self._entries) > self.settings.max_sessions:
                self._entries.popitem(last=False)  # in-flight calls keep their client; it is freed after them
            return entry

    def _assume_role_session(self, base: Any, profile: str | None, region: str, role_arn: str) -> Any:

        from botocore.credentials import (
            AssumeRoleCredentialFetcher,
            CredentialProvider,
            CredentialResolver,
            DeferredRefreshableCredentials,
        )
        from botocore.exceptions import NoCredentialsError

        source = base.get_credentials()
        if source is None:
            raise NoCredentialsError()
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=partial(base.create_client, region_name=region, config=self._config),
            source_credentials=source,
            role_arn=role_arn,
            extra_args={"RoleSessionName": self.settings.role_session_name},
        )
        creds = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)

        class _AssumedRole(CredentialProvider):  # type: ignore[misc]
            METHOD = "assume-role"
            CANONICAL_NAME = "bam-assume-role"

            def load(self) -> Any:
                return creds

        session = self._botocore_session(profile)
        session.register_component("credential_provider", CredentialResolver([_AssumedRole()]))
        return session

    def client(self, service: str, key: tuple[str | None, str, str | None]) -> Any:
        entry = self._entry(key)
        client = entry.clients.get(service)
        if client is None:
            with self._lock:
                client = entry.clients.get(service)
                if client is None:
                    client = entry.session.client(service, region_name=entry.region, config=self._config)
                    entry.clients[service] = client
        return client

    def evict(self, key: tuple[str | None, str, str | None]) -> None:
        """Forget the key's session and clients, and the regions read from the files."""
        with self._lock:
            self._entries.pop(key, None)
            self._regions.clear()

    def cached_keys(self) -> list[tuple[str | None, str, str | None]]:
        with self._lock:
            return list(self._entries)

    def run(self, service: str, target: Target, fn: Callable[[Any], R]) -> tuple[R, tuple[str | None, str, str | None]]:
        """Resolve the target, get the client and run `fn(client)`; retry once after a credential error."""
        key = self.resolve(target)
        for attempt in (1, 2):
            client = self.client(service, key)
            try:
                return fn(client), key
            except Exception as exc:
                if attempt == 1 and is_credential_error(exc):
                    log.info("aws: credentials for %s rejected (%s); rebuilding the session", key, type(exc).__name__)
                    self.evict(key)
                    continue
                raise
        raise AssertionError("unreachable")


def is_credential_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError, NoCredentialsError, TokenRetrievalError

    if isinstance(exc, NoCredentialsError | TokenRetrievalError):
        return True
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in CREDENTIAL_ERROR_CODES
    return type(exc).__name__ in ("SSOTokenLoadError", "UnauthorizedSSOTokenError", "RefreshWithMFAUnsupportedError")


@dataclass
class Aws(BackendState[AwsSettings, "Sessions"]):
    """What the aws module's tools get from the lifespan."""

    settings: AwsSettings
    backend: Backend[Sessions]

    async def call(self, service: str, target: Target, fn: Callable[[Any], R], *, action: str) -> tuple[R, str]:
        """Run `fn(client)` in a worker thread; return its result and the region used."""
        sessions = await self.backend.get()
        try:
            result, key = await self.backend.run_sync(sessions.run, service, target, fn)
        except ToolError:
            raise
        except Exception as exc:
            raise backend_error(self.backend, translate, exc, action) from exc
        return result, key[1]

    async def sessions(self) -> Sessions:
        return await self.backend.get()


AWS = BackendId("aws", "AWS", "AWS_ENDPOINT_URL / AWS_REGION / AWS_PROFILE (and the credential chain)")


def _identity(sessions: Sessions) -> Any:
    result, _ = sessions.run("sts", Target(), lambda c: c.get_caller_identity())
    return result


@asynccontextmanager
async def resources(settings: AwsSettings | None = None) -> AsyncIterator[Aws]:
    """Own the session registry for the lifetime of the server; never fail when AWS is unreachable."""
    s = settings or AwsSettings()
    backend = blocking_backend(AWS, s.target(), partial(Sessions, s), _identity, max_threads=s.max_threads)
    async with serving(Aws(s, backend), backend) as state:
        yield state


ERROR_HINTS: dict[str, str] = {
    "AccessDenied": "the principal lacks an IAM permission for this action; check its policies or use another "
    "profile/role_arn",
    "AccessDeniedException": "the principal lacks an IAM permission for this action; check its policies",
    "UnauthorizedOperation": "the principal lacks an IAM permission for this action; check its policies",
    "ExpiredToken": "the credentials expired; refresh them (e.g. `aws sso login --profile <p>`) and retry",
    "ExpiredTokenException": "the credentials expired; refresh them (e.g. `aws sso login`) and retry",
    "InvalidClientTokenId": "the access key is not valid for this account/region; check the profile",
    "UnrecognizedClientException": "the access key is not valid; check the profile or credentials",
    "NoSuchBucket": "check the bucket name with aws_s3_buckets_list",
    "NoSuchKey": "check the key with aws_s3_objects_list (keys are case-sensitive)",
    "ResourceNotFoundException": "the named resource does not exist in this region/account; check region/profile",
    "ThrottlingException": "AWS throttled the call; wait a moment and retry with fewer items",
    "Throttling": "AWS throttled the call; wait a moment and retry",
    "RequestLimitExceeded": "AWS throttled the call; wait a moment and retry",
    "ValidationException": "a parameter value is invalid; check it with aws_operation_describe",
    "InvalidParameterValue": "a parameter value is invalid; check it with aws_operation_describe",
    "InvalidParameterValueException": "a parameter value is invalid; check it with aws_operation_describe",
    "OptInRequired": "the account is not subscribed to this service or region",
    "AuthFailure": "AWS could not validate the credentials; check the profile",
}


def _client_error(exc: Any, action: str) -> ToolError:
    """An AWS error answer: its code and message, with HTTP status, request id and operation as detail."""
    err = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    code = str(err.get("Code") or "ClientError")
    message = str(err.get("Message") or exc)
    status = meta.get("HTTPStatusCode")
    detail = ", ".join(
        p
        for p in (
            f"HTTP {status}" if status else "",
            f"request id {meta.get('RequestId')}" if meta.get("RequestId") else "",
            f"operation {exc.operation_name}",
        )
        if p
    )
    hint = ERROR_HINTS.get(code)
    if hint is None and (code.endswith("NotFound") or code.startswith("NoSuch")):
        hint = "the named resource does not exist in this region/account; check the name, region and profile"
    if hint is None and code in CREDENTIAL_ERROR_CODES:
        hint = "the credentials were rejected even after a refresh; check the profile/credentials"
    return tool_error(action, message, code=code, hint=hint, detail=detail)


BOTOCORE_ERRORS: tuple[tuple[str, str | None, str], ...] = (
    # (botocore exception classes, code (None: the class's name), hint), the first that matches applies
    ("ParamValidationError", "ParamValidationError", "check the parameter names and types with aws_operation_describe"),
    (
        "NoCredentialsError",
        "NoCredentials",
        "set AWS_PROFILE (or pass `profile`), AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run `aws sso login`",
    ),
    ("ProfileNotFound", "ProfileNotFound", "pick a profile from aws_profiles_list or set AWS_CONFIG_FILE"),
    (
        "TokenRetrievalError SSOError",
        None,
        "the SSO session expired; run `aws sso login --profile <profile>` and retry",
    ),
    ("NoRegionError", "NoRegion", "pass `region` or set AWS_REGION"),
    ("UnknownServiceError", "UnknownService", "list valid names with aws_services_list"),
    (
        "ReadTimeoutError",
        "ReadTimeout",
        "AWS did not answer in time; narrow the request or raise BAM_AWS_READ_TIMEOUT_S",
    ),
)


def _message(exc: Any) -> str:
    """What a botocore error says, without what tells the model nothing."""
    from botocore import exceptions as be

    if isinstance(exc, be.ParamValidationError):
        return str(exc.kwargs.get("report", exc))
    if isinstance(exc, be.NoCredentialsError):
        return "no AWS credentials were found"
    if isinstance(exc, be.UnknownServiceError):
        return str(exc).split(" Valid service names")[0]
    return str(exc)


def translate(exc: BaseException, action: str) -> ToolError:
    """botocore errors as tool errors carrying AWS's error code, message, request id and a hint."""
    from botocore import exceptions as be

    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, be.ClientError):
        return _client_error(exc, action)
    if isinstance(exc, be.EndpointConnectionError | be.ConnectTimeoutError | be.ConnectionClosedError):
        return connection_lost(action, str(exc), code="EndpointConnectionError", hint="check AWS_ENDPOINT_URL")
    for names, code, hint in BOTOCORE_ERRORS:
        if isinstance(exc, tuple(getattr(be, n) for n in names.split())):
            return tool_error(action, _message(exc), code=code or type(exc).__name__, hint=hint)
    if isinstance(exc, be.BotoCoreError):
        return tool_error(action, str(exc), code=type(exc).__name__)
    return tool_error(action, f"{type(exc).__name__}: {exc}")
