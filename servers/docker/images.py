"""Image tools: list, inspect, history; and as writes build (with progress), pull, push, tag, remove, prune."""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from servers._common import redact, redact_output, tool_error
from servers._common.paging import items_page, offset_page
from servers._common.tools import DELETE, OVERWRITE, READ, WRITE, WRITE_IDEMPOTENT, open_world, tool
from servers.docker.client import Docker, last_stream_response, shutdown_response
from servers.docker.common import (
    IMAGE_PATTERN,
    ImageRef,
    LabelFilter,
    Labels,
    Limit,
    Offset,
    list_filters,
    provenance,
    state_of,
)
from servers.docker.safety import (
    HostPathPolicy,
    check_dockerfile_sources,
    check_network,
    check_registry,
    host_policy,
    managed_labels,
    resolve_host_path,
    scrub_file_text,
)
from servers.docker.values import iso_from_epoch, raw_if_fits, redact_inspect, short_id

_END = object()
MAX_DOCKERFILE = 1_000_000


class ImageSummary(BaseModel):
    id: str = Field(description="Short id")
    tags: list[str]
    digests: list[str]
    created: str | None
    size_bytes: int
    containers: int | None = Field(description="Containers using it (-1/None: not computed by the engine)")
    labels: dict[str, str]
    managed: bool


class ImageList(BaseModel):
    images: list[ImageSummary]
    count: int
    total: int
    truncated: bool
    next_offset: int | None


def image_summary(i: dict[str, Any]) -> ImageSummary:
    tags = [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
    return ImageSummary(
        id=short_id(i.get("Id")),
        tags=tags,
        digests=[x for x in i.get("RepoDigests") or [] if x != "<none>@<none>"],
        created=iso_from_epoch(i.get("Created")),
        size_bytes=int(i.get("Size") or 0),
        containers=i.get("Containers") if (i.get("Containers") or 0) >= 0 else None,
        **provenance(i),
    )


@tool("Docker: list images", READ)
async def docker_images_list(
    ctx: Context[Any, Any],
    reference: Annotated[str | None, Field(description="Only this repository, e.g. 'busybox' or 'repo:tag'")] = None,
    dangling: Annotated[bool | None, Field(description="true: only untagged images; false: only tagged")] = None,
    label: LabelFilter = None,
    managed_only: Annotated[bool, Field(description="Only images this server built")] = False,
    all: Annotated[bool, Field(description="Include intermediate images")] = False,
    limit: Limit = None,
    offset: Offset = 0,
) -> ImageList:
    """List local images with tags, size and creation time; newest first, paged."""
    d = state_of(ctx)
    api = await d.api()
    filters = list_filters(label, managed_only, dangling=dangling, reference=reference)
    raw = await d.call("list images", api.images, all=all, filters=filters)
    raw.sort(key=lambda i: i.get("Created") or 0, reverse=True)
    items = [image_summary(i) for i in raw]
    kept, page = items_page(d.settings, items, offset, limit)
    return ImageList(images=kept, **page)


class ImageDetails(BaseModel):
    id: str
    tags: list[str]
    digests: list[str]
    created: str | None
    size_bytes: int
    architecture: str | None
    os: str | None
    author: str | None
    cmd: list[str]
    entrypoint: list[str]
    env: list[str] = Field(description="Environment baked into the image, secret values masked")
    exposed_ports: list[str]
    volumes: list[str]
    working_dir: str | None
    user: str | None
    labels: dict[str, str]
    layers: int
    raw: dict[str, Any] | None = Field(default=None, description="The whole inspect document, with `full`")
    truncated: bool = Field(default=False, description="True when `raw` was left out for its size")


@tool("Docker: inspect an image", READ)
async def docker_image_inspect(
    ctx: Context[Any, Any],
    image: ImageRef,
    full: Annotated[bool, Field(description="Also return the whole inspect document")] = False,
) -> ImageDetails:
    """Inspect an image: tags, digests, size, platform, default command, environment (secrets masked), labels."""
    d = state_of(ctx)
    api = await d.api()
    data = redact_inspect(await d.call("inspect the image", api.inspect_image, image))
    cfg = data.get("Config") or {}
    raw, truncated = raw_if_fits(data, full, d.settings.max_bytes)
    return ImageDetails(
        id=data.get("Id", ""),
        tags=list(data.get("RepoTags") or []),
        digests=list(data.get("RepoDigests") or []),
        created=data.get("Created"),
        size_bytes=int(data.get("Size") or 0),
        architecture=data.get("Architecture"),
        os=data.get("Os"),
        author=data.get("Author") or None,
        cmd=list(cfg.get("Cmd") or []),
        entrypoint=list(cfg.get("Entrypoint") or []),
        env=list(cfg.get("Env") or []),
        exposed_ports=sorted((cfg.get("ExposedPorts") or {}).keys()),
        volumes=sorted((cfg.get("Volumes") or {}).keys()),
        working_dir=cfg.get("WorkingDir") or None,
        user=cfg.get("User") or None,
        labels=cfg.get("Labels") or {},
        layers=len((data.get("RootFS") or {}).get("Layers") or []),
        raw=raw,
        truncated=truncated,
    )


class HistoryEntry(BaseModel):
    id: str
    created: str | None
    created_by: str = Field(description="The instruction that made the layer (secrets masked)")
    size_bytes: int
    tags: list[str]
    comment: str | None


class History(BaseModel):
    image: str
    layers: list[HistoryEntry]
    count: int
    total: int
    truncated: bool
    next_offset: int | None


@tool("Docker: image layer history", READ)
async def docker_image_history(
    ctx: Context[Any, Any], image: ImageRef, limit: Limit = None, offset: Offset = 0
) -> History:
    """Show the layers of an image, newest first, with the instruction and size of each."""
    d = state_of(ctx)
    api = await d.api()
    raw = await d.call("read the image history", api.history, image)
    items = [
        HistoryEntry(
            id=short_id(h.get("Id")) if h.get("Id") not in (None, "<missing>") else "<missing>",
            created=iso_from_epoch(h.get("Created")),
            created_by=redact_output(h.get("CreatedBy") or ""),
            size_bytes=int(h.get("Size") or 0),
            tags=list(h.get("Tags") or []),
            comment=h.get("Comment") or None,
        )
        for h in raw
    ]
    kept, page = items_page(d.settings, items, offset, limit)
    return History(image=image, layers=kept, **page)


# ------------------------------------------------------------------------------------------- streams


async def _drain(
    ctx: Context[Any, Any],
    d: Docker,
    action: str,
    start: Callable[[], Iterator[dict[str, Any]]],
    describe: Callable[[dict[str, Any]], str | None],
    keep: int,
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """Consume a streaming SDK call chunk by chunk in worker threads, reporting each step as progress.

    Returns the chunks, the last `keep` log lines, and whether older lines were dropped. A cancelled
    caller shuts the stream's socket down, so the waiting thread returns and the engine stops the work.
    """
    response: list[Any] = []

    def begin() -> Iterator[dict[str, Any]]:
        last_stream_response()  # forget what an earlier call of this thread left
        it = start()
        response.append(last_stream_response())
        return it

    def abort() -> None:  # a cancelled caller closes the stream: the engine stops the build/pull/push
        if response and response[0] is not None:
            shutdown_response(response[0])

    try:
        return await _read_stream(ctx, d, action, await d.call_abortable(action, begin, abort), abort, describe, keep)
    except BaseException:
        abort()  # an error or a timeout: close the stream too, so the engine stops the work
        raise


async def _read_stream(
    ctx: Context[Any, Any],
    d: Docker,
    action: str,
    it: Iterator[dict[str, Any]],
    abort: Callable[[], None],
    describe: Callable[[dict[str, Any]], str | None],
    keep: int,
) -> tuple[list[dict[str, Any]], list[str], bool]:
    chunks: list[dict[str, Any]] = []
    lines: collections.deque[str] = collections.deque(maxlen=keep)
    seen = 0
    n = 0
    while True:
        chunk = await d.call_abortable(action, partial(next, it, _END), abort)
        if chunk is _END:
            break
        assert isinstance(chunk, dict)
        chunks.append(chunk)
        if "error" in chunk or "errorDetail" in chunk:
            detail = chunk.get("errorDetail") or {}
            msg = chunk.get("error") or detail.get("message") or "unknown error"
            tail = " | ".join(list(lines)[-5:])
            raise tool_error(
                action,
                redact_output(str(msg).strip()),
                code=str(detail.get("code")) if detail.get("code") else "stream error",
                detail=f"last output: {tail}" if tail else None,
            )
        text = describe(chunk)
        if text:
            for line in text.splitlines():
                line = redact_output(line.rstrip())
                if not line:
                    continue
                seen += 1
                lines.append(line)
                n += 1
                await ctx.report_progress(n, None, line[:200])
    return chunks, list(lines), seen > len(lines)


async def _build_inputs(
    d: Docker, action: str, dockerfile: str | None, context_dir: str | None, dockerfile_path: str | None
) -> tuple[str | None, str | None, str]:
    """The resolved context, the Dockerfile's path in it, and its text (to keep it out of error messages)."""
    if not dockerfile and not context_dir:
        raise tool_error(action, "give `dockerfile` text, `context_dir`, or both", code="invalid")
    if dockerfile_path and dockerfile:
        raise tool_error(action, "give either inline `dockerfile` or `dockerfile_path`, not both", code="invalid")
    if dockerfile_path and not context_dir:
        raise tool_error(action, "`dockerfile_path` is relative to `context_dir`: give both", code="invalid")
    if not context_dir:
        return None, None, ""
    policy = await host_policy(d, "context")
    path = resolve_host_path(action, context_dir, "context", policy)
    df_arg = _dockerfile_in(action, path, dockerfile_path, policy) if dockerfile_path else None
    text = ""
    with contextlib.suppress(OSError, ToolError):
        real = _dockerfile_in(action, path, df_arg or "Dockerfile", policy)
        with open(os.path.join(path, real), encoding="utf-8", errors="replace") as f:
            text = f.read(MAX_DOCKERFILE + 1)
    if len(text) > MAX_DOCKERFILE:
        raise tool_error(action, f"the Dockerfile is larger than {MAX_DOCKERFILE} characters", code="invalid")
    return path, df_arg, text


def _dockerfile_in(action: str, context: str, dockerfile_path: str, policy: HostPathPolicy) -> str:
    """The Dockerfile's path relative to the (resolved) context, if it resolves inside it."""
    if dockerfile_path.startswith("/"):
        raise tool_error(action, "`dockerfile_path` must be relative to `context_dir`", code="invalid")
    real = resolve_host_path(action, os.path.join(context, dockerfile_path), "dockerfile", policy)
    if not real.startswith(context.rstrip("/") + "/"):
        raise tool_error(
            action,
            f"refused: {dockerfile_path!r} resolves outside the build context",
            code="policy",
            hint="put the Dockerfile inside `context_dir`, or pass it inline",
        )
    return os.path.relpath(real, context)


class BuildResult(BaseModel):
    image_id: str
    tags: list[str]
    labels: dict[str, str]
    duration_s: float
    log: list[str] = Field(description="The last lines of build output (secrets masked)")
    truncated: bool = Field(description="True when earlier build output lines were dropped")


InlineDockerfile = Annotated[str | None, Field(description="Inline Dockerfile text")]
ContextDir = Annotated[str | None, Field(description="Absolute build context path on the server host")]
DockerfilePath = Annotated[
    str | None, Field(description="Dockerfile path relative to `context_dir` (default Dockerfile)")
]
BuildNetwork = Annotated[
    str | None,
    Field(description="Network for RUN steps (default: the engine's)"),
]


def _inline_dockerfile(tmp: str, dockerfile: str, path: str | None) -> tuple[str, str | None]:
    """Write the inline Dockerfile to `tmp`: the build (path, dockerfile argument) that uses it."""
    df_file = os.path.join(tmp, "Dockerfile")
    with open(df_file, "w") as f:
        f.write(dockerfile)
    if path is None:
        return tmp, None
    return path, df_file  # outside the context: the SDK adds it to the context archive


@tool("Docker: build an image", WRITE)
async def docker_image_build(
    ctx: Context[Any, Any],
    tag: Annotated[str, Field(pattern=IMAGE_PATTERN, max_length=512, description="Tag for the result, e.g. myapp:dev")],
    dockerfile: InlineDockerfile = None,
    context_dir: ContextDir = None,
    dockerfile_path: DockerfilePath = None,
    build_args: Annotated[dict[str, str] | None, Field(description="--build-arg values")] = None,
    labels: Labels = None,
    target: Annotated[str | None, Field(description="Multi-stage target to stop at")] = None,
    no_cache: bool = False,
    network_mode: BuildNetwork = None,
    log_lines: Annotated[int, Field(ge=1, le=2_000, description="Output lines to keep in the result")] = 50,
) -> BuildResult:
    """Build an image from a context directory and/or inline Dockerfile; output streams as progress.

    A missing FROM image would be pulled by the engine: pull it first with docker_image_pull, which applies the
    registry allowlist.
    """
    d = state_of(ctx)
    action = "build the image"
    path, df_arg, df_text = await _build_inputs(d, action, dockerfile, context_dir, dockerfile_path)
    check_dockerfile_sources(action, dockerfile or df_text, d.settings)
    await check_network(d, action, network_mode)
    api = await d.api()
    final_labels = managed_labels("image_build", labels)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bam-docker-build-") as tmp:
        if dockerfile is not None:
            path, df_arg = _inline_dockerfile(tmp, dockerfile, path)

        def start() -> Iterator[dict[str, Any]]:
            it: Iterator[dict[str, Any]] = api.build(
                path=path,
                tag=tag,
                dockerfile=df_arg,
                buildargs=build_args,
                labels=final_labels,
                target=target,
                nocache=no_cache,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
                network_mode=network_mode,
                timeout=int(d.settings.build_timeout_s),
                use_config_proxy=False,
            )
            return it

        try:
            chunks, log, truncated = await _drain(
                ctx, d, action, start, lambda c: c.get("stream") or c.get("status"), log_lines
            )
        except ToolError as exc:
            raise ToolError(scrub_file_text(str(exc), df_text)) from None
    image_id = _built_id(chunks)
    if not image_id:
        raise tool_error(action, "the engine finished without reporting an image id", detail=" | ".join(log[-5:]))
    return BuildResult(
        image_id=image_id,
        tags=[tag],
        labels=redact(final_labels),
        duration_s=round(time.perf_counter() - started, 3),
        log=log,
        truncated=truncated,
    )


def _built_id(chunks: list[dict[str, Any]]) -> str:
    """The id of the built image, from the build stream (`aux.ID`, or the classic `Successfully built`)."""
    image_id = ""
    for c in chunks:
        aux = c.get("aux")
        if isinstance(aux, dict) and aux.get("ID"):
            image_id = aux["ID"]
        elif isinstance(c.get("stream"), str) and c["stream"].startswith("Successfully built "):
            image_id = image_id or c["stream"].split()[-1]
    return image_id


def _split_ref(reference: str) -> tuple[str, str | None]:
    from docker.utils import parse_repository_tag

    repo, tag = parse_repository_tag(reference)
    if tag and tag.startswith("sha256:") and "@" in reference:
        return reference.split("@", 1)[0], tag
    return repo, tag


def _progress_line(c: dict[str, Any]) -> str | None:
    status = c.get("status")
    if not status:
        return None
    # skip the per-byte "Downloading"/"Pushing" ticks: they would flood the client
    if c.get("progressDetail") and status in ("Downloading", "Extracting", "Pushing"):
        return None
    return f"{c['id']}: {status}" if c.get("id") else str(status)


async def _registry_stream(
    ctx: Context[Any, Any], d: Docker, verb: Literal["pull", "push"], reference: str
) -> tuple[str, str, list[dict[str, Any]], list[str], bool]:
    """Pull or push `reference` (registry allowlist applied, tag defaults to latest), with layer progress.

    Returns the repository, the tag, the stream's chunks, the last log lines and whether older ones were dropped.
    """
    action = f"{verb} the image"
    check_registry(action, reference, d.settings)
    repo, tag = _split_ref(reference)
    tag = tag or "latest"
    api = await d.api()
    op = api.pull if verb == "pull" else api.push

    def start() -> Iterator[dict[str, Any]]:
        it: Iterator[dict[str, Any]] = op(repo, tag=tag, stream=True, decode=True)
        return it

    chunks, log, truncated = await _drain(ctx, d, action, start, _progress_line, 50)
    return repo, tag, chunks, log, truncated


class PullResult(BaseModel):
    reference: str
    image_id: str
    digest: str | None
    tags: list[str]
    log: list[str]
    truncated: bool


@tool("Docker: pull an image", open_world(WRITE_IDEMPOTENT))
async def docker_image_pull(
    ctx: Context[Any, Any],
    reference: Annotated[str, Field(pattern=IMAGE_PATTERN, max_length=512, description="repo[:tag] or repo@digest")],
) -> PullResult:
    """Pull an image from its registry (tag defaults to latest), reporting layer progress; credentials come from the
    host's docker login.
    """
    d = state_of(ctx)
    repo, tag, chunks, log, truncated = await _registry_stream(ctx, d, "pull", reference)
    digest = None
    for c in chunks:
        st = str(c.get("status") or "")
        if st.startswith("Digest: "):
            digest = st.split(" ", 1)[1]
    full = f"{repo}@{tag}" if tag.startswith("sha256:") else f"{repo}:{tag}"
    api = await d.api()
    info = await d.call("inspect the pulled image", api.inspect_image, full)
    return PullResult(
        reference=full,
        image_id=info.get("Id", ""),
        digest=digest,
        tags=list(info.get("RepoTags") or []),
        log=log,
        truncated=truncated,
    )


class PushResult(BaseModel):
    reference: str
    digest: str | None
    log: list[str]
    truncated: bool


@tool("Docker: push an image", open_world(OVERWRITE))
async def docker_image_push(
    ctx: Context[Any, Any],
    reference: Annotated[
        str,
        Field(pattern=IMAGE_PATTERN, max_length=512, description="Local tag, e.g. registry:5000/app:1.2"),
    ],
) -> PushResult:
    """Push a tagged image to its registry; layer progress is reported. Tag it for the registry first."""
    d = state_of(ctx)
    repo, tag, chunks, log, truncated = await _registry_stream(ctx, d, "push", reference)
    digest = None
    for c in chunks:
        aux = c.get("aux")
        if isinstance(aux, dict) and aux.get("Digest"):
            digest = aux["Digest"]
    return PushResult(reference=f"{repo}:{tag}", digest=digest, log=log, truncated=truncated)


class TagResult(BaseModel):
    source: str
    target: str
    image_id: str


@tool("Docker: tag an image", WRITE_IDEMPOTENT)
async def docker_image_tag(
    ctx: Context[Any, Any],
    image: ImageRef,
    target: Annotated[
        str, Field(pattern=IMAGE_PATTERN, max_length=512, description="New reference: repo[:tag] (default tag latest)")
    ],
) -> TagResult:
    """Add a tag (new name) to an existing image, e.g. before pushing it to a registry."""
    d = state_of(ctx)
    repo, tag = _split_ref(target)
    api = await d.api()
    await d.call("tag the image", api.tag, image, repo, tag=tag or "latest", force=True)
    info = await d.call("inspect the image", api.inspect_image, image)
    return TagResult(source=image, target=f"{repo}:{tag or 'latest'}", image_id=info.get("Id", ""))


class RemoveImageResult(BaseModel):
    image: str
    untagged: list[str]
    deleted: list[str]


@tool("Docker: remove an image", DELETE)
async def docker_image_remove(
    ctx: Context[Any, Any],
    image: ImageRef,
    force: Annotated[
        bool, Field(description="Remove even if tagged several times or used by stopped containers")
    ] = False,
) -> RemoveImageResult:
    """Remove an image (or untag it, when other tags still point to it)."""
    d = state_of(ctx)
    api = await d.api()
    res = await d.call("remove the image", api.remove_image, image, force=force) or []
    return RemoveImageResult(
        image=image,
        untagged=[r["Untagged"] for r in res if "Untagged" in r],
        deleted=[r["Deleted"] for r in res if "Deleted" in r],
    )


class PruneResult(BaseModel):
    deleted: list[str]
    count: int
    space_reclaimed_bytes: int
    truncated: bool


@tool("Docker: prune unused images", DELETE)
async def docker_images_prune(
    ctx: Context[Any, Any],
    all_unused: Annotated[bool, Field(description="Also remove unused tagged images")] = False,
    managed_only: Annotated[bool, Field(description="Only images this server built (default true)")] = True,
    label: LabelFilter = None,
) -> PruneResult:
    """Delete unused images: dangling ones by default, or all unused; limited to this server's by default."""
    d = state_of(ctx)
    api = await d.api()
    filters = list_filters(label, managed_only, dangling=not all_unused)
    res = await d.call("prune images", api.prune_images, filters=filters) or {}
    deleted = [r.get("Deleted") or r.get("Untagged") or "" for r in res.get("ImagesDeleted") or []]
    kept, truncated, _ = offset_page(deleted, 0, d.settings.max_items_limit, d.settings.max_bytes)
    return PruneResult(
        deleted=kept, count=len(deleted), space_reclaimed_bytes=int(res.get("SpaceReclaimed") or 0), truncated=truncated
    )
