"""Shared pieces of the aws tools: the per-call target parameters, the state lookup, paging helpers."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import inspect
import time
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from pydantic import BaseModel, Field

from servers._common import json_size, to_jsonable, tool_error
from servers._common.paging import page_limit, page_size
from servers._common.state import StateOf
from servers.aws.client import Aws, Target
from servers.aws.settings import AwsSettings

KEY = "aws"
T = TypeVar("T")

Region = str | None  # default: the profile's, else AWS_REGION
Profile = str | None  # a config profile (default: AWS_PROFILE / credential chain)
RoleArn = str | None  # a role to assume (only ARNs in BAM_AWS_ALLOWED_ROLE_ARNS)
Limit = Annotated[int | None, page_limit(50)]  # page size (default 50, capped by the server)
NextToken = str | None  # the previous page's next_token


state_of = StateOf(KEY, Aws)
"""The module's lifespan object for a tool call."""


def target(profile: str | None, region: str | None, role_arn: str | None) -> Target:
    return Target(profile=profile or None, region=region or None, role_arn=role_arn or None)


class Params:
    """A group of tool parameters, declared once as a frozen dataclass: see `grouped`."""


class Targeted(Params):
    """A group with the `region`, `profile` and `role_arn` parameters (each subclass places them)."""

    region: str | None
    profile: str | None
    role_arn: str | None

    @property
    def where(self) -> Target:
        """Where the tool's AWS calls go."""
        return target(self.profile, self.region, self.role_arn)


@dataclass(frozen=True)
class On(Targeted):
    """The parameters that say where a tool's AWS calls go."""

    region: Region = None
    profile: Profile = None
    role_arn: RoleArn = None


@dataclass(frozen=True)
class Listing(Targeted):
    """The parameters of a list tool: the page asked for and where the calls go."""

    max_items: Limit = None
    next_token: NextToken = None
    region: Region = None
    profile: Profile = None
    role_arn: RoleArn = None

    def size(self, settings: AwsSettings) -> int:
        """Items to ask AWS for."""
        return page_size(settings, self.max_items)


@dataclass(frozen=True)
class ShortListing(Listing):
    """A listing whose items each cost further calls: pages of at most 100 items, 20 by default."""

    max_items: Annotated[int | None, Field(ge=1, le=100)] = None

    def size(self, settings: AwsSettings) -> int:
        return self.max_items or 20


def _expansion(kind: Any) -> list[tuple[str, Any, Any]] | None:
    """(name, type, default) of the fields of a `Params` group, or None for another type."""
    if not (isinstance(kind, type) and issubclass(kind, Params)):
        return None
    hints = typing.get_type_hints(kind, include_extras=True)
    empty = inspect.Parameter.empty
    return [
        (f.name, hints[f.name], empty if f.default is dataclasses.MISSING else f.default)
        for f in dataclasses.fields(kind)  # type: ignore[arg-type]
    ]


def grouped(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """The tool `fn` with each parameter typed as a `Params` group replaced by the group's fields.

    Clients see the fields as parameters (same names, types and defaults, in place of the group); `fn`
    gets the group built from them. Put it under `@tool`.
    """
    sig = inspect.signature(fn, eval_str=True)
    groups: dict[str, tuple[type[Params], list[str]]] = {}
    params: list[inspect.Parameter] = []
    for p in sig.parameters.values():
        fields = _expansion(p.annotation)
        if fields is None:
            params.append(p)
            continue
        groups[p.name] = (p.annotation, [name for name, _, _ in fields])
        params += [inspect.Parameter(n, p.kind, default=d, annotation=t) for n, t, d in fields]
    if not groups:
        raise TypeError(f"{fn.__qualname__} has no parameter typed as a `Params` group")
    outer = sig.replace(parameters=params)

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> T:
        given = outer.bind(*args, **kwargs)
        given.apply_defaults()
        values = dict(given.arguments)
        for name, (kind, names) in groups.items():
            values[name] = kind(**{n: values.pop(n) for n in names})
        return await fn(**values)

    call.__signature__ = outer  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in params} | {"return": sig.return_annotation}
    return call


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


@dataclass(frozen=True)
class Budget:
    """How far one call may page: at most `pages` AWS pages per fetch, and until `deadline` (monotonic)."""

    pages: int
    deadline: float

    @classmethod
    def of(cls, settings: Any) -> Budget:
        return cls(settings.max_pages, time.monotonic() + settings.call_budget_s)


def bounded(paginator: Any, budget: Budget) -> Any:
    """`paginator` whose page iterators stop after `budget.pages` pages or at its deadline, and replay pages.

    A service that ignores the page size (or `MaxItems` never fills because pages come back empty) would
    otherwise be walked to its end. When stopped early, the iterator's `resume_token` is botocore's token
    for the next page, so the result is `truncated` with an exact resume point. Each AWS page is fetched
    once per call: walking again with fewer items (to fit the byte cap) replays the pages already fetched.
    """
    base = paginator.PAGE_ITERATOR_CLS
    fetched: dict[bytes, Any] = {}

    class Bounded(base):  # type: ignore[misc,valid-type]
        def _make_request(self, current_kwargs: dict[str, Any]) -> Any:
            key = orjson.dumps(current_kwargs, default=str, option=orjson.OPT_SORT_KEYS)
            if key not in fetched:
                fetched[key] = super()._make_request(current_kwargs)
            return copy.deepcopy(fetched[key])  # botocore edits pages in place while merging

        def __iter__(self) -> Any:
            for n, page in enumerate(base.__iter__(self), 1):
                yield page
                if getattr(self, "resume_token", None) is not None:
                    return
                if n >= budget.pages or time.monotonic() >= budget.deadline:
                    nxt = self._get_next_token(page)
                    if any(v is not None for v in nxt.values()):
                        self.resume_token = {k: nxt.get(k) for k in self._input_token}
                    return

    paginator.PAGE_ITERATOR_CLS = Bounded
    return paginator


def fit_pages(
    paginator: Any,
    params: dict[str, Any],
    measure: Callable[[dict[str, Any]], tuple[T, int, int]],
    *,
    max_items: int,
    token: str | None,
    max_bytes: int,
    budget: Budget,
    what: str = "next_token",
    action: str = "resume the listing",
    code: str = "InvalidNextToken",
) -> tuple[T, str | None, int]:
    """Merge pages of `paginator` up to `max_items` items, fetching fewer while the result is over `max_bytes`.

    `measure(result)` converts the merged result and returns (converted, item count, JSON size). The page
    is fetched again with fewer items (never cut afterwards) so the resume token stays exact: botocore
    tokens encode the position inside an AWS page too; the pages are fetched from AWS once (see `bounded`).
    Paging stops within `budget` (pages and time). Returns (converted, next token, items asked).
    """
    check_token(token, what)
    bounded(paginator, budget)
    n = max_items
    while True:
        cfg: dict[str, Any] = {"MaxItems": n}
        if token:
            cfg["StartingToken"] = token
        try:
            res = paginator.paginate(**params, PaginationConfig=cfg).build_full_result()
        except ValueError as exc:  # botocore rejects a malformed StartingToken with ValueError
            raise tool_error(
                action, str(exc), code=code, hint=f"pass `{what}` exactly as returned, or omit it to start over"
            ) from exc
        next_token = res.pop("NextToken", None)
        out, count, size = measure(res)
        if size <= max_bytes or n <= 1 or count <= 1:
            return out, next_token, n
        n = max(1, min(n - 1, int(count * max_bytes * 0.9 / size)))


def paginate(
    client: Any,
    operation: str,
    params: dict[str, Any],
    convert: Callable[[dict[str, Any]], list[Any]],
    *,
    max_items: int,
    token: str | None,
    max_bytes: int,
    budget: Budget,
) -> tuple[list[Any], str | None]:
    """One page of a paginated operation, converted, that fits `max_bytes` (see `fit_pages`)."""

    def measure(res: dict[str, Any]) -> tuple[list[Any], int, int]:
        items = convert(res)
        return items, len(items), json_size(to_jsonable(items))

    items, next_token, _ = fit_pages(
        client.get_paginator(operation),
        params,
        measure,
        max_items=max_items,
        token=token,
        max_bytes=max_bytes,
        budget=budget,
    )
    return items, next_token


@dataclass
class Paged:
    """One page of a curated list: its items, the token for the next page, and the region asked."""

    items: list[Any]
    next_token: str | None
    region: str

    def fields(self) -> dict[str, Any]:
        """The `AwsPage` fields of this page."""
        return {
            "region": self.region,
            "count": len(self.items),
            "truncated": self.next_token is not None,
            "next_token": self.next_token,
        }


def each(describe: Callable[[Any, Any], Any]) -> Callable[[Any, list[Any]], dict[Any, Any]]:
    """An `expand` for `list_page` that describes the keys one by one with `describe(client, key)`."""
    return lambda client, keys: {k: describe(client, k) for k in keys}


async def list_page(
    aws: Aws,
    ask: Listing,
    service: str,
    operation: str,
    convert: Callable[[dict[str, Any]], list[Any]],
    *,
    action: str,
    params: dict[str, Any] | None = None,
    expand: Callable[[Any, list[Any]], dict[Any, Any]] | None = None,
    most: int | None = None,
) -> Paged:
    """A page of `operation` through its paginator, at most `ask.size` (and `most`) items and `max_bytes` of JSON.

    `convert` turns a merged AWS result into items. With `expand(client, keys)`, those items are keys
    (names, ARNs, URLs) that `expand` describes with further calls, returning key -> item (a key left
    out is dropped); the byte cap then applies to the described items, and a key is described once
    even when the page is fetched again with fewer items.
    """
    described: dict[Any, Any] = {}
    size = ask.size(aws.settings)
    if most is not None:
        size = min(size, most)

    def run(client: Any) -> tuple[list[Any], str | None]:
        def items(res: dict[str, Any]) -> list[Any]:
            keys = convert(res)
            if expand is None:
                return keys
            todo = [k for k in keys if k not in described]
            if todo:
                described.update(dict.fromkeys(todo))
                described.update(expand(client, todo))
            return [described[k] for k in keys if described[k] is not None]

        return paginate(
            client,
            operation,
            params or {},
            items,
            max_items=size,
            token=ask.next_token,
            max_bytes=aws.settings.max_bytes,
            budget=Budget.of(aws.settings),
        )

    (items, next_token), region = await aws.call(service, ask.where, run, action=action)
    return Paged(items=items, next_token=next_token, region=region)


M = TypeVar("M", bound=BaseModel)


class From:
    """Where a model field's value stands in an AWS answer (`Annotated[str | None, From("State", "Name")]`):
    a path of keys, and `then` applied to a value found (see `from_aws`)."""

    def __init__(self, *path: str, then: Callable[[Any], Any] | None = None) -> None:
        self.path = path
        self.then = then

    def pick(self, answer: Any) -> Any:
        value = answer
        for key in self.path:
            value = (value or {}).get(key)
        return self.then(value) if self.then is not None and value is not None else value


def from_aws(model: type[M], answer: Any, **given: Any) -> M:
    """`model` filled from an AWS answer: the fields marked `From` from there, the others from `given`.

    A value that is missing leaves a field with a default at its default, and is null otherwise.
    """
    values = dict(given)
    for name, src, required in _sources(model):
        if name in given:
            continue
        value = src.pick(answer)
        if value is not None or required:
            values[name] = value
    return model(**values)


@functools.cache
def _sources(model: type[BaseModel]) -> tuple[tuple[str, From, bool], ...]:
    """(field, its `From`, whether it is required) for each field of `model` marked `From`: read once per model."""
    return tuple(
        (name, src, field.is_required())
        for name, field in model.model_fields.items()
        for src in [next((m for m in field.metadata if isinstance(m, From)), None)]
        if src is not None
    )


def iso(value: Any) -> str | None:
    """A datetime/date as ISO 8601 (other values as text, empty as null)."""
    return value.isoformat() if isinstance(value, dt.datetime | dt.date) else (str(value) if value else None)
