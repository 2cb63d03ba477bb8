"""Curated AWS tools for daily work: caller identity, profiles and S3 (buckets, objects, presigned URLs)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import cap_items, tool_error
from servers._common.tools import DELETE, OVERWRITE, READ, READ_OPEN, open_world, tool
from servers.aws.common import AwsPage, From, Listing, On, Params, from_aws, grouped, iso, list_page, state_of
from servers.aws.sensitive import LOOK_BACK, object_content

# --- identity and profiles -----------------------------------------------------------------------------


class CallerIdentity(BaseModel):
    account: str
    arn: str
    user_id: str
    region: str = Field(description="Region this profile/role resolves to")
    profile: str | None = Field(description="Profile used (null: default credential chain)")
    role_arn: str | None = Field(description="Role assumed for the call, if any")
    endpoint_url: str | None = Field(description="Custom endpoint (AWS_ENDPOINT_URL), if set")


@tool("AWS: who am I (STS caller identity)", READ_OPEN)
@grouped
async def aws_caller_identity(ctx: Context[Any, Any], *, on: On) -> CallerIdentity:
    """Show the account, ARN and user id the credentials of a profile or role resolve to (STS)."""
    aws = state_of(ctx)
    res, used = await aws.call("sts", on.where, lambda c: c.get_caller_identity(), action="get the caller identity")
    sessions = await aws.sessions()
    return CallerIdentity(
        account=res["Account"],
        arn=res["Arn"],
        user_id=res["UserId"],
        region=used,
        profile=on.profile or sessions.settings.profile,
        role_arn=on.role_arn,
        endpoint_url=aws.settings.endpoint_url,
    )


class ProfileInfo(BaseModel):
    name: str
    region: str | None
    kind: str = Field(description="static-keys, sso, assume-role, process or other")
    role_arn: str | None = None
    allowed: bool = Field(description="Whether calls may select it (BAM_AWS_ALLOWED_PROFILES)")


class ProfileList(BaseModel):
    profiles: list[ProfileInfo]
    count: int
    truncated: bool
    default_profile: str | None
    default_region: str | None
    assumable_roles: list[str] = Field(description="Role ARN globs allowed for `role_arn`")


@tool("AWS: list configured profiles", READ)
async def aws_profiles_list(ctx: Context[Any, Any]) -> ProfileList:
    """List the AWS config profiles (region, credential kind; never keys) and the defaults."""
    aws = state_of(ctx)
    sessions = await aws.sessions()
    try:
        profiles = await aws.backend.run_sync(sessions.profiles)
    except Exception as exc:
        raise tool_error(
            "read the AWS config files",
            f"{type(exc).__name__}: {exc}",
            hint="check AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE",
        ) from exc
    items = [
        ProfileInfo(
            name=n, region=p["region"], kind=p["kind"], role_arn=p["role_arn"], allowed=aws.settings.profile_allowed(n)
        )
        for n, p in sorted(profiles.items())
    ]
    kept, cut = cap_items(items, max_items=aws.settings.max_items_limit, max_bytes=aws.settings.max_bytes)
    return ProfileList(
        profiles=kept,
        count=len(kept),
        truncated=cut,
        default_profile=aws.settings.profile,
        default_region=aws.settings.region,
        assumable_roles=[r.strip() for r in aws.settings.allowed_role_arns.split(",") if r.strip()],
    )


# --- S3 --------------------------------------------------------------------------------------------------

Bucket = str
ObjectKey = str


@dataclass(frozen=True)
class ObjectAt(Params):
    """The `bucket` and `key` parameters of the tools on one S3 object."""

    bucket: Bucket
    key: ObjectKey

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def names(self) -> dict[str, str]:
        """The object's names as AWS's parameters."""
        return {"Bucket": self.bucket, "Key": self.key}


class BucketInfo(BaseModel):
    name: Annotated[str, From("Name")]
    created: Annotated[str | None, From("CreationDate", then=iso)]


class BucketPage(AwsPage):
    buckets: list[BucketInfo]


@tool("AWS S3: list buckets", READ_OPEN)
@grouped
async def aws_s3_buckets_list(
    ctx: Context[Any, Any],
    prefix: Annotated[str | None, Field(description="Bucket name prefix")] = None,
    *,
    ask: Listing,
) -> BucketPage:
    """List the account's S3 buckets (name, creation time)."""
    aws = state_of(ctx)
    page = await list_page(
        aws,
        ask,
        "s3",
        "list_buckets",
        lambda r: [from_aws(BucketInfo, b) for b in r.get("Buckets", []) if not prefix or b["Name"].startswith(prefix)],
        params={"Prefix": prefix} if prefix else None,
        action="list S3 buckets",
    )
    return BucketPage(buckets=page.items, **page.fields())


def _etag(value: str | None) -> str | None:
    return (value or "").strip('"') or None


class ObjectInfo(BaseModel):
    key: Annotated[str, From("Key")]
    size: int
    last_modified: Annotated[str | None, From("LastModified", then=iso)]
    storage_class: Annotated[str | None, From("StorageClass")] = None
    etag: Annotated[str | None, From("ETag", then=_etag)] = None


class ObjectPage(AwsPage):
    bucket: str
    prefix: str
    objects: list[ObjectInfo]
    common_prefixes: list[str] = Field(description="'Folders' under the prefix when a delimiter is used")


@tool("AWS S3: list objects by prefix", READ_OPEN)
@grouped
async def aws_s3_objects_list(
    ctx: Context[Any, Any],
    bucket: Bucket,
    prefix: Annotated[str, Field(description="Key prefix, e.g. logs/2026/")] = "",
    delimiter: Annotated[str | None, Field(description="e.g. / to list one folder level")] = None,
    *,
    ask: Listing,
) -> ObjectPage:
    """List objects in an S3 bucket (key, size, last modified)."""
    aws = state_of(ctx)
    params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        params["Delimiter"] = delimiter
    prefixes: list[str] = []

    def convert(r: dict[str, Any]) -> list[Any]:
        prefixes[:] = [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        return [from_aws(ObjectInfo, o, size=o.get("Size", 0)) for o in r.get("Contents", [])]

    page = await list_page(
        aws, ask, "s3", "list_objects_v2", convert, params=params, action=f"list objects in s3://{bucket}/{prefix}"
    )
    return ObjectPage(bucket=bucket, prefix=prefix, objects=page.items, common_prefixes=prefixes, **page.fields())


class ObjectContent(BaseModel):
    bucket: str
    key: str
    content_type: str | None
    size: int = Field(description="Total object size in bytes")
    offset: int
    bytes_read: int
    encoding: Literal["utf-8", "base64"] = Field(description="utf-8 text, or base64 for binary data")
    content: str
    truncated: bool = Field(description="True when the object continues past this chunk")
    next_offset: int | None = Field(default=None, description="Pass as `offset` to read the next chunk")
    last_modified: str | None = None
    etag: str | None = None


@tool("AWS S3: read an object as text", READ_OPEN)
@grouped
async def aws_s3_object_read(
    ctx: Context[Any, Any],
    obj: ObjectAt,
    max_bytes: Annotated[int | None, Field(ge=1, description="Bytes to read (default 64 KiB, capped)")] = None,
    offset: Annotated[int, Field(ge=0, description="Byte offset: a previous read's next_offset")] = 0,
    *,
    on: On,
) -> ObjectContent:
    """Read an S3 object as text (UTF-8, else base64), up to a byte cap."""
    aws = state_of(ctx)
    cap = min(max_bytes or aws.settings.object_max_bytes, aws.settings.object_max_bytes_limit)

    def run(c: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        start = max(offset - LOOK_BACK, 0)  # the bytes before `offset` show the line the chunk continues
        try:
            res = c.get_object(**obj.names, Range=f"bytes={start}-{offset + cap - 1}")
        except ClientError as err:
            if offset or err.response.get("Error", {}).get("Code") != "InvalidRange":
                raise
            res = c.get_object(**obj.names)  # an empty object has no byte range to ask for
        body = res["Body"]
        data = body.read(cap + offset - start)
        body.close()
        total = res.get("ContentLength", len(data))
        rng = res.get("ContentRange")
        if rng and "/" in rng:
            total = int(rng.rsplit("/", 1)[1])
        if offset and offset >= total:
            raise RuntimeError("InvalidRange: offset past the end")
        res["_before"] = (b"\n" if start == 0 else b"") + data[: offset - start] if offset else None
        res["_data"], res["_total"] = data[offset - start :], total
        out: dict[str, Any] = res
        return out

    try:
        res, _ = await aws.call("s3", on.where, run, action=f"read {obj.url}")
    except Exception as exc:
        if "InvalidRange" in str(exc):
            raise tool_error(
                f"read {obj.url}",
                f"offset {offset} is past the end of the object",
                code="InvalidRange",
                hint="use an offset below the object size",
            ) from exc
        raise
    data: bytes = res["_data"]
    total: int = res["_total"]
    encoding, text, used = object_content(data, more=offset + len(data) < total, before=res["_before"])
    end = offset + used
    more = end < total
    return ObjectContent(
        bucket=obj.bucket,
        key=obj.key,
        content_type=res.get("ContentType"),
        size=total,
        offset=offset,
        bytes_read=used,
        encoding=encoding,
        content=text,
        truncated=more,
        next_offset=end if more else None,
        last_modified=iso(res.get("LastModified")),
        etag=_etag(res.get("ETag")),
    )


class PresignedUrl(BaseModel):
    url: str = Field(description="HTTPS URL anyone holding it can GET until it expires")
    method: str
    expires_in_s: int
    expires_at: str


@tool("AWS S3: presigned download URL", READ_OPEN)
@grouped
async def aws_s3_presign(
    ctx: Context[Any, Any],
    obj: ObjectAt,
    expires_in_s: Annotated[int, Field(ge=1, description="Lifetime in seconds")] = 900,
    *,
    on: On,
) -> PresignedUrl:
    """Create an expiring presigned GET URL for an existing S3 object."""
    aws = state_of(ctx)
    ttl = min(expires_in_s, aws.settings.presign_max_expires_s)

    def run(c: Any) -> str:
        c.head_object(**obj.names)
        url: str = c.generate_presigned_url("get_object", Params=obj.names, ExpiresIn=ttl)
        return url

    url, _ = await aws.call("s3", on.where, run, action=f"presign {obj.url}")
    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
    return PresignedUrl(url=url, method="GET", expires_in_s=ttl, expires_at=until.isoformat(timespec="seconds"))


def _exists(c: Any, obj: ObjectAt, **extra: Any) -> bool:
    """Whether the object (or the version in `extra`) exists; other errors are raised."""
    from botocore.exceptions import ClientError

    try:
        c.head_object(**obj.names, **extra)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        return False
    return True


class PutResult(BaseModel):
    bucket: str
    key: str
    size: int
    etag: str | None
    version_id: str | None
    overwritten: bool


@tool("AWS S3: upload an object", open_world(OVERWRITE))
@grouped
async def aws_s3_object_put(
    ctx: Context[Any, Any],
    obj: ObjectAt,
    content: Annotated[str, Field(description="Object content: text, or base64 when `encoding` is base64")],
    encoding: Annotated[Literal["utf-8", "base64"], Field(description="How `content` is encoded")] = "utf-8",
    content_type: Annotated[str | None, Field(description="Content-Type, e.g. application/json")] = None,
    overwrite: Annotated[bool, Field(description="Replace an existing object (refused by default)")] = False,
    *,
    on: On,
) -> PutResult:
    """Upload a small object (text or base64). Refuses to replace an existing key unless `overwrite`."""
    import base64
    import binascii

    aws = state_of(ctx)
    try:
        body = base64.b64decode(content, validate=True) if encoding == "base64" else content.encode()
    except binascii.Error as exc:
        raise tool_error("decode `content`", f"not valid base64: {exc}", code="InvalidBase64") from exc
    if len(body) > aws.settings.object_max_bytes_limit:
        raise tool_error(
            "upload the object",
            f"{len(body)} bytes exceeds the {aws.settings.object_max_bytes_limit}-byte limit of this tool",
            hint="use the AWS CLI or multipart upload for large files",
        )

    def run(c: Any) -> tuple[dict[str, Any], bool]:
        exists = _exists(c, obj)
        if exists and not overwrite:
            raise tool_error(
                f"upload {obj.url}",
                "the object already exists",
                code="ObjectExists",
                hint="pass overwrite=true to replace it",
            )
        extra = {"ContentType": content_type} if content_type else {}
        return c.put_object(**obj.names, Body=body, **extra), exists

    (res, existed), _ = await aws.call("s3", on.where, run, action=f"upload {obj.url}")
    return PutResult(
        bucket=obj.bucket,
        key=obj.key,
        size=len(body),
        etag=_etag(res.get("ETag")),
        version_id=res.get("VersionId"),
        overwritten=existed,
    )


class DeleteResult(BaseModel):
    bucket: str
    key: str
    existed: bool
    version_id: str | None
    delete_marker: bool


@tool("AWS S3: delete an object", open_world(DELETE))
@grouped
async def aws_s3_object_delete(
    ctx: Context[Any, Any],
    obj: ObjectAt,
    version_id: Annotated[str | None, Field(description="Delete this version (versioned buckets)")] = None,
    *,
    on: On,
) -> DeleteResult:
    """Delete one object (or one version of it). Irreversible on unversioned buckets."""
    aws = state_of(ctx)

    def run(c: Any) -> tuple[dict[str, Any], bool]:
        extra = {"VersionId": version_id} if version_id else {}
        existed = _exists(c, obj, **extra)
        return c.delete_object(**obj.names, **extra), existed

    (res, existed), _ = await aws.call("s3", on.where, run, action=f"delete {obj.url}")
    return DeleteResult(
        bucket=obj.bucket,
        key=obj.key,
        existed=existed,
        version_id=res.get("VersionId"),
        delete_marker=bool(res.get("DeleteMarker")),
    )
