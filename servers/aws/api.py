"""Every AWS API through validated tools: discover services/operations, describe inputs, call."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import orjson
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import json_size, to_jsonable, tool_error, truncate_text
from servers._common.paging import page_size
from servers._common.tools import DESTRUCTIVE, READ, READ_OPEN, open_world, tool
from servers.aws import catalog
from servers.aws.common import (
    Budget,
    Limit,
    Profile,
    Region,
    RoleArn,
    Targeted,
    fit_pages,
    grouped,
    state_of,
)
from servers.aws.sensitive import mask_response, object_content


class ServiceList(BaseModel):
    services: list[str] = Field(description="botocore service names to pass as `service`")
    count: int
    total: int = Field(description="Services matching the filter")
    truncated: bool
    next_offset: int | None = Field(default=None, description="Pass as `offset` for the next page")


@tool("AWS: list callable services", READ)
async def aws_services_list(
    ctx: Context[Any, Any],
    filter: Annotated[str | None, Field(description="Substring or glob, e.g. ec2*")] = None,
    offset: Annotated[int, Field(ge=0)] = 0,
    limit: Annotated[int, Field(ge=1, le=500)] = 200,
) -> ServiceList:
    """List the AWS services this server can call (botocore models, offline)."""
    aws = state_of(ctx)
    names = await aws.backend.run_sync(catalog.services)
    if filter:
        f = filter.lower()
        names = [n for n in names if (fnmatch.fnmatch(n, f) if any(c in f for c in "*?[") else f in n)]
    page = names[offset : offset + limit]
    more = offset + len(page) < len(names)
    return ServiceList(
        services=page,
        count=len(page),
        total=len(names),
        truncated=more,
        next_offset=offset + len(page) if more else None,
    )


class OperationInfo(BaseModel):
    name: str = Field(description="API name to pass as `operation`")
    access: catalog.Access = Field(description="read: runs with aws_call; write/sensitive: needs aws_call_write")
    paginated: bool = Field(description="aws_call pages it automatically with a resume token")
    summary: str = Field(description="First sentence of the AWS documentation")


class OperationList(BaseModel):
    service: str
    service_full_name: str
    api_version: str
    operations: list[OperationInfo]
    count: int
    total: int = Field(description="Operations matching the filters")
    truncated: bool
    next_offset: int | None = None


def _operations(service: str) -> tuple[Any, dict[str, dict[str, Any]]]:
    model = catalog.service_model(service)
    return model, catalog.paginators(model.service_name)


@tool("AWS: list a service's operations", READ)
async def aws_operations_list(
    ctx: Context[Any, Any],
    service: Annotated[str, Field(description="e.g. s3, ec2")],
    filter: Annotated[str | None, Field(description="Substring or glob of operation names")] = None,
    access: Annotated[Literal["any", "read", "write"], Field(description="Reads, writes or any")] = "any",
    offset: Annotated[int, Field(ge=0)] = 0,
    limit: Annotated[int, Field(ge=1, le=500)] = 100,
) -> OperationList:
    """List a service's API operations with read/write class and a one-line summary."""
    aws = state_of(ctx)
    model, paginators = await aws.backend.run_sync(_operations, service)

    def build() -> tuple[list[OperationInfo], int]:
        out: list[OperationInfo] = []
        for name in model.operation_names:
            if filter:
                f = filter.lower()
                ok = fnmatch.fnmatch(name.lower(), f) if any(c in f for c in "*?[") else f in name.lower()
                if not ok:
                    continue
            cls = catalog.classify(model.service_name, name)
            if (access == "read" and cls.access != "read") or (access == "write" and cls.access == "read"):
                continue
            out.append(OperationInfo(name=name, access=cls.access, paginated=name in paginators, summary=""))
        total = len(out)
        page = out[offset : offset + limit]
        for info in page:
            info.summary = catalog.first_sentence(model.operation_model(info.name).documentation)
        return page, total

    page, total = await aws.backend.run_sync(build)
    more = offset + len(page) < total
    meta = model.metadata
    return OperationList(
        service=model.service_name,
        service_full_name=str(meta.get("serviceFullName", model.service_name)),
        api_version=str(meta.get("apiVersion", "")),
        operations=page,
        count=len(page),
        total=total,
        truncated=more,
        next_offset=offset + len(page) if more else None,
    )


class OperationDescription(BaseModel):
    service: str
    operation: str
    access: catalog.Access
    access_reason: str
    documentation: str = Field(description="AWS documentation, plain text, shortened")
    input: dict[str, Any] = Field(description="Input shape: members with type, required, doc, enum, nested members")
    output_members: list[str] = Field(description="Top-level members of the response")
    paginated: bool
    result_keys: list[str] = Field(description="Lists that aws_call merges across pages")
    http: str = Field(description="HTTP method and path of the API")
    depth: int = Field(description="Nesting depth shown (reduced when the shape was too large)")
    truncated: bool = Field(description="True when nesting or docs were cut to fit the byte cap")


@tool("AWS: describe an operation's input", READ)
async def aws_operation_describe(
    ctx: Context[Any, Any],
    service: Annotated[str, Field(description="e.g. s3")],
    operation: Annotated[str, Field(description="e.g. ListObjectsV2")],
    depth: Annotated[int, Field(ge=0, le=6, description="How deep to expand nested structures")] = 3,
) -> OperationDescription:
    """Describe an operation's input parameters, output and paging; use it before aws_call."""
    aws = state_of(ctx)
    cap = aws.settings.max_bytes

    def build() -> OperationDescription:
        model, paginators = _operations(service)
        name = catalog.operation_name(model, operation)
        op = model.operation_model(name)
        cls = catalog.classify(model.service_name, name)
        keys: list[str] = []
        if name in paginators:
            rk = paginators[name].get("result_key")
            keys = [rk] if isinstance(rk, str) else list(rk or [])
        d, doc_limit, cut = depth, 160, False
        while True:
            inp = catalog.shape_schema(op.input_shape, d, doc_limit) if op.input_shape is not None else {}
            if json_size(inp) <= cap * 0.8 or (d == 0 and doc_limit == 0):
                break
            cut = True
            if doc_limit:
                doc_limit = 0
            else:
                d -= 1
        http = op.http or {}
        return OperationDescription(
            service=model.service_name,
            operation=name,
            access=cls.access,
            access_reason=cls.reason,
            documentation=catalog.doc_text(op.documentation, 1500),
            input=inp,
            output_members=sorted(op.output_shape.members) if op.output_shape is not None else [],
            paginated=name in paginators,
            result_keys=keys,
            http=f"{http.get('method', '')} {http.get('requestUri', '')}".strip(),
            depth=d,
            truncated=cut,
        )

    return await aws.backend.run_sync(build)


class CallResult(BaseModel):
    service: str
    operation: str
    access: catalog.Access
    region: str = Field(description="Region the call went to")
    result: dict[str, Any] = Field(description="The response as JSON (ResponseMetadata dropped, secrets masked)")
    paginated: bool = Field(description="True when pages were merged by the operation's result keys")
    item_count: int | None = Field(default=None, description="Items merged across pages (paginated calls)")
    truncated: bool = Field(description="True when more data exists or a cap cut the result")
    resume_token: str | None = Field(default=None, description="Pass back as `resume_token` for the next items")
    notes: list[str] = Field(default_factory=list)


Service = Annotated[str, Field(description="e.g. s3, ec2")]
Operation = Annotated[str, Field(description="e.g. DescribeInstances")]
Parameters = Annotated[
    dict[str, Any] | None,
    Field(description="Input, PascalCase keys"),
]
Paginate = Annotated[bool, Field(description="Merge pages up to max_items")]
ResumeToken = str | None  # the previous call's resume_token


@dataclass(frozen=True)
class CallArgs(Targeted):
    """The parameters of aws_call and aws_call_write."""

    service: Service
    operation: Operation
    parameters: Parameters = None
    region: Region = None
    profile: Profile = None
    role_arn: RoleArn = None
    paginate: Paginate = True
    max_items: Limit = None
    resume_token: ResumeToken = None


def _read_body(body: Any, cap: int, content_range: Any) -> tuple[dict[str, Any], bool]:
    data = body.read(cap + 1)
    body.close()
    cut = len(data) > cap
    start = re.match(r"bytes (\d+)-", str(content_range or ""))
    before = b"?" if start and int(start[1]) > 0 else None  # a ranged read: where its first line starts is unknown
    encoding, content, _ = object_content(data[:cap], more=cut, before=before)
    return {"text" if encoding == "utf-8" else "base64": content}, cut


def _fit(result: dict[str, Any], max_bytes: int, notes: list[str]) -> tuple[dict[str, Any], bool]:
    """Cut the largest lists (then the JSON text) until `result` fits `max_bytes`."""
    if json_size(result) <= max_bytes:
        return result, False
    for _ in range(len(result) + 1):
        lists = [(json_size(v), k) for k, v in result.items() if isinstance(v, list) and len(v) > 1]
        if not lists:
            break
        size, key = max(lists)
        items = result[key]
        other = json_size(result) - size
        budget = max(max_bytes - other, 1)
        keep = max(1, int(len(items) * budget * 0.9 / max(size, 1)))
        while keep > 1 and json_size(items[:keep]) > budget:
            keep = max(1, int(keep * 0.8))
        notes.append(f"`{key}` cut from {len(items)} to {keep} items to fit {max_bytes} bytes")
        result = {**result, key: items[:keep]}
        if json_size(result) <= max_bytes:
            return result, True
    text, _ = truncate_text(orjson.dumps(result).decode(), max_bytes, keep="head")
    notes.append(f"result cut to its first {max_bytes} bytes of JSON (`partial_json`); narrow the request")
    return {"partial_json": text}, True


@dataclass(frozen=True)
class _Shaping:
    """How a response becomes output: the operation's service and output shape, and whether to mask."""

    service: str
    shape: Any
    reveal: bool

    def json(self, res: dict[str, Any]) -> dict[str, Any]:
        res.pop("ResponseMetadata", None)
        out: dict[str, Any] = to_jsonable(res if self.reveal else mask_response(self.service, self.shape, res))
        return out


def _execute(
    client: Any,
    name: str,
    params: dict[str, Any],
    shaping: _Shaping,
    *,
    paginate: bool,
    max_items: int,
    resume_token: str | None,
    max_bytes: int,
    body_cap: int,
    budget: Budget,
) -> dict[str, Any]:
    from botocore import xform_name

    py = xform_name(name)
    if paginate and client.can_paginate(py):
        return _execute_pages(client.get_paginator(py), params, shaping, max_items, resume_token, max_bytes, budget)
    if resume_token:
        raise tool_error(
            f"call {name} with resume_token",
            "resume_token given but this call is not paginated",
            hint="pass the operation's own token parameter in `parameters` instead",
        )
    notes: list[str] = []
    res = getattr(client, py)(**params)
    bodies: dict[str, Any] = {}
    body_cut = False
    for k, v in list(res.items()):
        if hasattr(v, "read") and hasattr(v, "close"):
            bodies[k], c = _read_body(res.pop(k), body_cap, res.get("ContentRange"))
            body_cut = body_cut or c
            if c:
                notes.append(f"`{k}` cut at {body_cap} bytes; use a Range parameter to read further")
        elif type(v).__name__ == "EventStream":
            v.close()
            res[k] = None
            notes.append(f"`{k}` is an event stream, which this tool does not read")
    result, cut = _fit({**shaping.json(res), **bodies}, max_bytes, notes)
    return {"result": result, "paginated": False, "truncated": cut or body_cut, "notes": notes}


def _execute_pages(
    pag: Any,
    params: dict[str, Any],
    shaping: _Shaping,
    max_items: int,
    resume_token: str | None,
    max_bytes: int,
    budget: Budget,
) -> dict[str, Any]:
    keys = [k.expression for k in pag.result_keys]
    notes: list[str] = []

    def measure(res: dict[str, Any]) -> tuple[tuple[Any, int], int, int]:
        count = sum(len(v) for k in keys if isinstance(v := res.get(k), list))
        result = shaping.json(res)
        return (result, count), count, json_size(result)

    (result, count), token, n = fit_pages(
        pag,
        params,
        measure,
        max_items=max_items,
        token=resume_token,
        max_bytes=max_bytes,
        budget=budget,
        what="resume_token",
        action="resume the call",
        code="InvalidResumeToken",
    )
    if n < max_items:
        notes.append(f"page reduced to {n} items to fit {max_bytes} bytes; continue with resume_token")
    if token is not None and count < n:
        notes.append(
            f"stopped after {budget.pages} pages or the time budget with {count} of {n} items; "
            "continue with resume_token"
        )
    result, cut = _fit(result, max_bytes, notes)
    return {
        "result": result,
        "paginated": True,
        "item_count": count,
        "truncated": token is not None or cut,
        "resume_token": token,
        "notes": notes,
    }


async def _call(ctx: Context[Any, Any], call: CallArgs, *, allow: frozenset[str]) -> CallResult:
    aws = state_of(ctx)
    params = dict(call.parameters or {})

    def prepare() -> tuple[str, str, catalog.Classification, Any]:
        model = catalog.service_model(call.service)
        name = catalog.operation_name(model, call.operation)
        shape = model.operation_model(name).output_shape
        return model.service_name, name, catalog.classify(model.service_name, name), shape

    svc, name, cls, shape = await aws.backend.run_sync(prepare)
    rule = aws.settings.denied(svc, name)
    if rule:
        raise tool_error(
            f"call {svc}:{name} on AWS",
            f"refused: `{svc}:{name}` matches the deny list entry `{rule}`",
            code="DeniedByPolicy",
            hint="the operator set BAM_AWS_DENY; choose another operation",
        )
    if cls.access not in allow:
        what = "a sensitive read" if cls.access == "sensitive" else "a write"
        raise tool_error(
            f"call {svc}:{name} on AWS",
            f"refused: {svc}:{name} is {what} ({cls.reason}); aws_call runs read-only operations only",
            code="ReadOnlyRefused",
            hint="use aws_call_write, which is exposed only when writes are allowed for aws "
            "(--allow-writes aws / BAM_ALLOW_WRITES=aws)",
        )
    await aws.backend.run_sync(lambda: catalog.validate(catalog.service_model(svc), name, params))
    size = page_size(aws.settings, call.max_items)
    shaping = _Shaping(svc, shape, reveal=aws.settings.reveal_secrets and "write" in allow)
    out, used_region = await aws.call(
        svc,
        call.where,
        lambda c: _execute(
            c,
            name,
            params,
            shaping,
            paginate=call.paginate,
            max_items=size,
            resume_token=call.resume_token,
            max_bytes=aws.settings.max_bytes,
            body_cap=aws.settings.object_max_bytes,
            budget=Budget.of(aws.settings),
        ),
        action=f"call {svc}:{name} on AWS",
    )
    return CallResult(service=svc, operation=name, access=cls.access, region=used_region, **out)


@tool("AWS: call a read-only API operation", READ_OPEN)
@grouped
async def aws_call(ctx: Context[Any, Any], *, call: CallArgs) -> CallResult:
    """Call any read-only AWS API operation (Describe/List/Get/...), validated against botocore's model.

    Writes and secret-returning reads are refused; secrets in results are masked.
    """
    return await _call(ctx, call, allow=frozenset({"read"}))


@tool("AWS: call any API operation (writes)", open_world(DESTRUCTIVE))
@grouped
async def aws_call_write(ctx: Context[Any, Any], *, call: CallArgs) -> CallResult:
    """Call any AWS API operation, including writes and sensitive reads (e.g. GetSecretValue); changes are real, so
    check region and profile first.

    Validated against botocore's model; secrets in results are masked; denied operations are refused.
    """
    return await _call(ctx, call, allow=frozenset({"read", "write", "sensitive"}))
