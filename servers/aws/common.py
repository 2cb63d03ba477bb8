"""Shared pieces of the aws tools: the per-call target parameters, the state lookup, paging helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import json_size, lifespan_state, to_jsonable, tool_error
from servers.aws.client import Aws, Target

KEY = "aws"

Region = Annotated[
    str | None, Field(description="AWS region for this call, e.g. eu-west-1 (default: the profile's, else AWS_REGION)")
]
Profile = Annotated[
    str | None, Field(description="Named profile from the AWS config files (default: AWS_PROFILE / credential chain)")
]
RoleArn = Annotated[
    str | None,
    Field(description="IAM role ARN to assume for this call (only ARNs in BAM_AWS_ALLOWED_ROLE_ARNS)"),
]
MaxItems = Annotated[int | None, Field(ge=1, description="Items per page (default 50, capped by the server)")]
NextToken = Annotated[str | None, Field(description="`next_token` of the previous page, to get the next one")]


def aws_state(ctx: Context[Any, Any]) -> Aws:
    aws: Aws = lifespan_state(ctx, KEY)
    return aws


def target(profile: str | None, region: str | None, role_arn: str | None) -> Target:
    return Target(profile=profile or None, region=region or None, role_arn=role_arn or None)


def page_size(aws: Aws, max_items: int | None) -> int:
    return min(max_items or aws.settings.max_items, aws.settings.max_items_limit)


class AwsPage(BaseModel):
    region: str = Field(description="Region the call went to")
    count: int = Field(description="Items in this page")
    truncated: bool = Field(description="True when more items exist; pass `next_token` to get them")
    next_token: str | None = Field(default=None, description="Pass back as `next_token` for the next page")


def check_token(token: str | None, what: str = "next_token") -> None:
    """Refuse a resume token that botocore did not issue (it would be sent to AWS as-is)."""
    if not token:
        return
    from botocore.paginate import TokenDecoder

    try:
        decoded = TokenDecoder().decode(token)
        if not isinstance(decoded, dict):
            raise ValueError("not a token object")
    except Exception as exc:
        raise tool_error(
            "resume the listing",
            f"`{what}` is not a token this server issued",
            code="InvalidResumeToken",
            hint=f"pass `{what}` exactly as returned by the previous call, or omit it to start over",
        ) from exc


def paginate(
    client: Any,
    operation: str,
    params: dict[str, Any],
    convert: Callable[[dict[str, Any]], list[Any]],
    *,
    max_items: int,
    token: str | None,
    max_bytes: int,
) -> tuple[list[Any], str | None]:
    """One page of a paginated operation, converted, that fits `max_bytes`.

    When the converted items exceed the byte cap, the page is fetched again with fewer items so the
    resume token stays exact (botocore tokens encode the position inside an AWS page too).
    """
    check_token(token)
    n = max_items
    while True:
        cfg: dict[str, Any] = {"MaxItems": n}
        if token:
            cfg["StartingToken"] = token
        try:
            res = client.get_paginator(operation).paginate(**params, PaginationConfig=cfg).build_full_result()
        except ValueError as exc:  # botocore rejects a malformed StartingToken with ValueError
            raise tool_error(
                "resume the listing",
                str(exc),
                code="InvalidNextToken",
                hint="pass `next_token` exactly as returned, or omit it to start over",
            ) from exc
        items = convert(res)
        next_token = res.get("NextToken")
        size = json_size(to_jsonable(items))
        if size <= max_bytes or n <= 1 or len(items) <= 1:
            return items, next_token
        n = max(1, min(n - 1, int(len(items) * max_bytes * 0.9 / size)))
