"""botocore's own service models: discovery, parameter validation and read/write classification.

Everything here is local (the JSON models shipped with botocore), needs no credentials and is called
from worker threads because loading a model reads and parses a file.
"""

from __future__ import annotations

import difflib
import functools
import html
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal

from servers._common import tool_error
from servers.aws import sensitive

Access = Literal["read", "write", "sensitive"]

READ_PREFIXES = (
    "Describe",
    "List",
    "Get",
    "Head",
    "Search",
    "Query",
    "Scan",
    "BatchGet",
    "Lookup",
    "Filter",
    "Validate",
)
"""Operations named like this only read state (the AWS naming convention for read APIs)."""

SENSITIVE_READS: dict[str, frozenset[str]] = {
    # Reads that return secrets or mint credentials: treated as writes (run only with aws_call_write).
    "secretsmanager": frozenset({"GetSecretValue", "BatchGetSecretValue", "GetRandomPassword"}),
    "sts": frozenset({"GetSessionToken", "GetFederationToken", "GetServiceBearerToken", "GetWebIdentityToken"}),
    "sso": frozenset({"GetRoleCredentials"}),
    "cognito-identity": frozenset(
        {"GetCredentialsForIdentity", "GetOpenIdToken", "GetOpenIdTokenForDeveloperIdentity"}
    ),
    "ecr": frozenset({"GetAuthorizationToken"}),
    "ecr-public": frozenset({"GetAuthorizationToken"}),
    "codeartifact": frozenset({"GetAuthorizationToken"}),
    "redshift": frozenset({"GetClusterCredentials", "GetClusterCredentialsWithIAM"}),
    "redshift-serverless": frozenset({"GetCredentials"}),
    "ec2": frozenset({"GetPasswordData"}),
    "lightsail": frozenset({"GetInstanceAccessDetails", "GetRelationalDatabaseMasterUserPassword"}),
    "glue": frozenset({"GetConnection", "GetConnections"}),
    "apigateway": frozenset({"GetApiKey", "GetApiKeys"}),
    "iam": frozenset({"GetCredentialReport"}),
    "kafka": frozenset({"GetBootstrapBrokers"}),
    "ssm": frozenset({"GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"}),
}
"""Maintained list of sensitive reads, by botocore service name and operation: an addition to the model.

Reads whose output holds a member the model marks `sensitive` (or one on `sensitive.EXTRA_SENSITIVE`) are
sensitive without being listed here; these return secrets the models do not mark (tokens, keys, reports).
"""

EXTRA_READS: dict[str, frozenset[str]] = {
    "sts": frozenset({"GetCallerIdentity"}),
}


@dataclass(frozen=True)
class Classification:
    access: Access
    reason: str


def classify(service: str, operation: str) -> Classification:
    """Read, write, or sensitive read (which counts as a write) for `service:Operation`."""
    if operation in SENSITIVE_READS.get(service, frozenset()):
        return Classification("sensitive", "returns secrets or credentials (maintained sensitive-read list)")
    prefix = next((p for p in READ_PREFIXES if _named(operation, p)), None)
    if prefix is None and operation not in EXTRA_READS.get(service, frozenset()):
        return Classification(
            "write",
            "not a Describe/List/Get/Head/Search/Query/Scan/BatchGet/Lookup/Filter/Validate "
            "operation, so it may change state",
        )
    paths = output_sensitive(service, operation)
    if paths:
        shown = ", ".join(p.lstrip(".") for p in paths[:4]) + (", ..." if len(paths) > 4 else "")
        return Classification("sensitive", f"its output holds members the AWS model marks sensitive: {shown}")
    if prefix is None:
        return Classification("read", "known read-only operation")
    return Classification("read", f"read-only by name ({prefix}*)")


def _named(operation: str, prefix: str) -> bool:
    rest = operation[len(prefix) :]
    return operation.startswith(prefix) and (not rest or rest[0].isupper())


@functools.lru_cache(maxsize=8192)
def output_sensitive(service: str, operation: str) -> tuple[str, ...]:
    """Paths of the sensitive members of the operation's output (see `sensitive.sensitive_paths`), cached."""
    op = service_model(service).operation_model(operation)
    if op.output_shape is None:
        return ()
    return tuple(sensitive.sensitive_paths(service, op.output_shape))


_lock = threading.Lock()
_session: Any = None


def _botocore() -> Any:
    global _session
    with _lock:
        if _session is None:
            import botocore.session

            _session = botocore.session.get_session()
        return _session


def services() -> list[str]:
    names: list[str] = _botocore().get_available_services()
    return names


def paginators(service: str) -> dict[str, dict[str, Any]]:
    """The service's paginator definitions by operation name (empty when it has none)."""
    from botocore.exceptions import DataNotFoundError

    try:
        data = _botocore().get_component("data_loader").load_service_model(service, "paginators-1")
    except DataNotFoundError:
        return {}
    pages: dict[str, dict[str, Any]] = data.get("pagination", {})
    return pages


def service_model(service: str) -> Any:
    from botocore.exceptions import UnknownServiceError

    try:
        return _botocore().get_service_model(service)
    except UnknownServiceError:
        close = difflib.get_close_matches(service.lower(), services(), n=5, cutoff=0.5)
        raise tool_error(
            "find the service",
            f"unknown service {service!r}",
            code="UnknownService",
            hint=(f"did you mean {', '.join(close)}? " if close else "")
            + "use botocore names (e.g. s3, ec2, logs, lambda); list them with aws_services_list",
        ) from None


def operation_name(model: Any, operation: str) -> str:
    """The API name (`ListBuckets`) from `ListBuckets`, `list_buckets` or `list-buckets`."""
    names: list[str] = list(model.operation_names)
    if operation in names:
        return operation
    wanted = operation.replace("-", "").replace("_", "").lower()
    for n in names:
        if n.lower() == wanted:
            return n
    close = difflib.get_close_matches(operation, names, n=5, cutoff=0.5)
    raise tool_error(
        "find the operation",
        f"{model.service_name} has no operation {operation!r}",
        code="UnknownOperation",
        hint=(f"did you mean {', '.join(close)}? " if close else "")
        + f"list them with aws_operations_list(service={model.service_name!r})",
    )


def validate(model: Any, operation: str, params: dict[str, Any]) -> None:
    """Validate `params` against the operation's input shape with botocore's ParamValidator."""
    from botocore.validate import ParamValidator

    op = model.operation_model(operation)
    if op.input_shape is None:
        if params:
            raise tool_error(
                f"validate the parameters of {model.service_name}:{operation}",
                f"the operation takes no parameters, got {', '.join(sorted(params))}",
                code="ParamValidationError",
            )
        return
    report = ParamValidator().validate(params, op.input_shape)
    if report.has_errors():
        raise tool_error(
            f"validate the parameters of {model.service_name}:{operation} (nothing was sent)",
            report.generate_report().replace("\n", "; "),
            code="ParamValidationError",
            hint=f"see the input shape with aws_operation_describe(service={model.service_name!r}, "
            f"operation={operation!r})",
        )


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def doc_text(documentation: str | None, limit: int = 400) -> str:
    text = _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", documentation or ""))).strip()
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def first_sentence(documentation: str | None, limit: int = 160) -> str:
    text = doc_text(documentation, 2000)
    cut = text.find(". ")
    return doc_text(text[: cut + 1] if cut > 0 else text, limit)


def shape_schema(shape: Any, depth: int, doc_limit: int, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """A compact description of a botocore shape, nested `depth` levels."""
    out: dict[str, Any] = {"type": shape.type_name}
    if doc_limit:
        doc = first_sentence(getattr(shape, "documentation", ""), doc_limit)
        if doc:
            out["doc"] = doc
    enum = getattr(shape, "enum", None)
    if enum:
        out["enum"] = list(enum)[:30]
    meta = shape.metadata or {}
    for k in ("min", "max", "pattern"):
        if k in meta:
            out[k] = meta[k]
    if shape.name in seen:
        out["recursive"] = shape.name
        return out
    seen = (*seen, shape.name)
    if shape.type_name == "structure":
        if depth <= 0:
            out["members"] = sorted(shape.members)
            return out
        required = set(shape.required_members)
        out["required"] = sorted(required)
        out["members"] = {name: shape_schema(m, depth - 1, doc_limit, seen) for name, m in shape.members.items()}
    elif shape.type_name == "list":
        out["items"] = shape_schema(shape.member, depth, doc_limit if depth > 0 else 0, seen)
    elif shape.type_name == "map":
        out["key"] = shape.key.type_name
        out["value"] = shape_schema(shape.value, depth - 1, 0, seen) if depth > 0 else shape.value.type_name
    return out
