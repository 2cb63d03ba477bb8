"""Writes of any kind: server-side apply (always dry run + diff first) and delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import tool_error, truncate_text
from servers._common.output import REDACTED
from servers._common.tools import DELETE, OVERWRITE, open_world, tool
from servers.kubernetes.client import ApiResource, Cluster, Kube, KubeApiError, translate
from servers.kubernetes.common import (
    ApiVersionArg,
    ContextArg,
    KindArg,
    NameArg,
    NamespaceArg,
    call,
    guard_kind,
    guard_namespace,
    is_namespace_kind,
    named_target,
    state_of,
)
from servers.kubernetes.names import check_namespace
from servers.kubernetes.shaping import comparable, meta_of, redact_pair, unified_diff

MAX_OBJECTS = 100
CONFLICT_HINT = "a 409 conflict means another field manager owns the fields: retry with force=true"


class AppliedObject(BaseModel):
    kind: str
    api_version: str
    name: str
    namespace: str | None
    action: Literal["created", "configured", "unchanged"] = Field(
        description="What the apply does (dry run) or did to the live object"
    )
    diff: str = Field(description="Unified YAML diff live -> applied (secrets redacted); empty when unchanged")
    diff_truncated: bool


class ApplyResult(BaseModel):
    dry_run: bool = Field(description="True: nothing was changed; call again with dry_run=false to apply")
    applied: bool
    objects: list[AppliedObject]
    count: int
    truncated: bool = Field(description="True when diffs were cut to fit the byte cap")


def _parse_manifest(manifest: str) -> list[dict[str, Any]]:
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(manifest) if d is not None]
    except yaml.YAMLError as exc:
        raise tool_error("parse the manifest", f"invalid YAML: {exc}", hint="pass YAML or JSON documents") from exc
    out: list[dict[str, Any]] = []
    for d in docs:
        if isinstance(d, dict) and str(d.get("kind", "")).endswith("List") and isinstance(d.get("items"), list):
            out += [i for i in d["items"] if isinstance(i, dict)]
        elif isinstance(d, dict):
            out.append(d)
        else:
            raise tool_error("parse the manifest", "every document must be a mapping with apiVersion and kind")
    if not out:
        raise tool_error("parse the manifest", "the manifest has no objects")
    if len(out) > MAX_OBJECTS:
        raise tool_error(
            "parse the manifest", f"{len(out)} objects; at most {MAX_OBJECTS} per call", hint="split the manifest"
        )
    for i, d in enumerate(out):
        if not d.get("apiVersion") or not d.get("kind") or not meta_of(d).get("name"):
            raise tool_error(
                "parse the manifest",
                f"object #{i + 1} lacks apiVersion, kind or metadata.name",
                hint="generateName is not supported by apply",
            )
    return out


@dataclass(frozen=True)
class _Planned:
    """One manifest object, resolved and cleared by the policy, with its namespace filled in."""

    res: ApiResource
    body: dict[str, Any]
    name: str
    ns: str | None

    @property
    def label(self) -> str:
        return f"{self.res.kind} {self.name}"

    @property
    def path(self) -> str:
        return self.res.path(name=self.name, namespace=self.ns)


async def _plan(kube: Kube, cluster: Cluster, doc: dict[str, Any], namespace: str | None) -> _Planned:
    name = meta_of(doc)["name"]
    action = f"apply {doc['kind']} {name}"
    res: ApiResource = await call(kube, action, cluster.resolve, str(doc["kind"]), str(doc["apiVersion"]))
    guard_kind(kube, res, action)
    res.check_name(name)
    ns: str | None = None
    if res.namespaced:
        ns = check_namespace(meta_of(doc).get("namespace") or namespace or cluster.default_namespace)
        guard_namespace(kube, ns, action)
        doc = {**doc, "metadata": {**meta_of(doc), "namespace": ns}}
    elif is_namespace_kind(res):
        guard_namespace(kube, name, action)
    return _Planned(res, doc, name, ns)


async def _live(kube: Kube, cluster: Cluster, p: _Planned) -> dict[str, Any] | None:
    """The live object, or None when it does not exist yet."""
    try:
        live: dict[str, Any] = await kube.backend.run_sync(cluster.request, "GET", p.path)
    except KubeApiError as exc:
        if exc.status != 404:
            raise translate(exc, f"read live {p.label}") from exc
        return None
    except Exception as exc:
        raise translate(exc, f"read live {p.label}") from exc
    return live


def _diff(kube: Kube, p: _Planned, live: dict[str, Any] | None, applied: dict[str, Any]) -> tuple[bool, str]:
    """Whether the fields that matter change, and the YAML diff live -> applied with secrets masked.

    Change is decided on the real values; a masked value that changes shows as `***REDACTED*** (changed)`."""
    raw_old, raw_new = comparable(live), comparable(applied)
    changed = raw_old != raw_new
    old, new = redact_pair(raw_old, raw_new or {}, reveal_secrets=kube.settings.reveal_secrets)
    diff = unified_diff(old, new, f"{p.res.qualified}/{p.name}")
    if changed and not diff:  # never report a change as `unchanged`, even when masking hid every line
        diff = f"# {p.res.qualified}/{p.name}: masked values changed ({REDACTED})\n"
    return changed, diff


@tool("Server-side apply manifests (dry run + diff first)", open_world(OVERWRITE))
async def k8s_apply(
    ctx: Context[Any, Any],
    manifest: Annotated[str, Field(description="One or more YAML/JSON documents (--- separated), or a List")],
    namespace: NamespaceArg = None,
    dry_run: bool = True,  # true: server-side dry run + diff only; false: apply for real after the dry run
    force: Annotated[bool, Field(description="Take ownership of fields owned by other field managers")] = False,
    context: ContextArg = None,
) -> ApplyResult:
    """Apply manifests with server-side apply, after a server-side dry run and a diff against the live objects.

    With dry_run=true (default) nothing changes: review the diff, then call again with dry_run=false.
    """
    kube = state_of(ctx)
    if namespace is not None:
        check_namespace(namespace)
    docs = _parse_manifest(manifest)
    cluster = await kube.cluster(context)
    plans = [await _plan(kube, cluster, d, namespace) for d in docs]

    def apply_one(p: _Planned, dry: bool) -> Any:
        query = {"fieldManager": kube.settings.field_manager, "force": force or None, "dryRun": "All" if dry else None}
        return cluster.request("PATCH", p.path, body=p.body, content_type="application/apply-patch+yaml", query=query)

    results: list[AppliedObject] = []
    budget = kube.settings.max_bytes
    truncated = False
    for p in plans:
        live = await _live(kube, cluster, p)
        dry = await call(kube, f"dry-run apply {p.label}", apply_one, p, True, hint=CONFLICT_HINT)
        changed, diff = _diff(kube, p, live, dry)
        text, cut = truncate_text(diff, max(budget, 0), keep="head")
        budget -= len(text.encode())
        truncated = truncated or cut
        results.append(
            AppliedObject(
                kind=p.res.kind,
                api_version=p.res.api_version,
                name=p.name,
                namespace=p.ns,
                action="created" if live is None else ("configured" if changed else "unchanged"),
                diff=text,
                diff_truncated=cut,
            )
        )
    if not dry_run:
        for p in plans:
            await call(kube, f"apply {p.label}", apply_one, p, False)
    return ApplyResult(dry_run=dry_run, applied=not dry_run, objects=results, count=len(results), truncated=truncated)


class DeleteResult(BaseModel):
    kind: str
    name: str
    namespace: str | None
    dry_run: bool
    status: str = Field(description="Success, or Terminating when finalizers/propagation keep it for a while")


@tool("Delete an object", open_world(DELETE))
async def k8s_resource_delete(
    ctx: Context[Any, Any],
    kind: KindArg,
    name: NameArg,
    namespace: NamespaceArg = None,
    propagation: Annotated[
        Literal["Background", "Foreground", "Orphan"],
        Field(description="What happens to dependents"),
    ] = "Background",
    grace_period_seconds: Annotated[int | None, Field(ge=0, description="Grace period (0: immediately)")] = None,
    dry_run: bool = False,
    api_version: ApiVersionArg = None,
    context: ContextArg = None,
) -> DeleteResult:
    """Delete one object of any kind by name (destructive)."""
    kube = state_of(ctx)
    action, cluster, res, ns = await named_target(kube, "delete", kind, name, namespace, api_version, context)
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
    if grace_period_seconds is not None:
        body["gracePeriodSeconds"] = grace_period_seconds
    if dry_run:  # with a DeleteOptions body the server reads options from the body only, not the query
        body["dryRun"] = ["All"]
    doc = await call(
        kube,
        action,
        cluster.request,
        "DELETE",
        res.path(name=name, namespace=ns),
        body=body,
        query={"dryRun": "All" if dry_run else None},
    )
    status = "Success"
    if doc.get("kind") != "Status" and (meta_of(doc).get("deletionTimestamp") or meta_of(doc).get("finalizers")):
        status = "Terminating"
    return DeleteResult(kind=res.kind, name=name, namespace=ns, dry_run=dry_run, status=status)
