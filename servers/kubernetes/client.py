"""The Kubernetes connection: per-context API clients behind one `Backend`, discovery, policy, errors.

Every call is a plain HTTP request made by the official client's `ApiClient` (auth, TLS, token refresh)
in a worker thread. Discovery (API groups and resources, CRDs included) is cached per context and
refreshed when a kind is not found, so a CRD created a second ago resolves on the next call.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, NotConfigured, redact_text, tool_error
from servers._common.identity import Principal, principal
from servers.kubernetes.names import api_path, check_object_name, shown
from servers.kubernetes.settings import KubernetesSettings

log = logging.getLogger("backend_architect_mcp.kubernetes")

IN_CLUSTER = "in-cluster"
ENV_HINT = "KUBECONFIG (and BAM_K8S_CONTEXT)"


class KubeApiError(Exception):
    """A non-2xx answer of the API server, with the fields of its `Status` object."""

    def __init__(self, status: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}


class Unreachable(Exception):
    """The API server of a context could not be reached (connection, TLS or timeout failure)."""

    def __init__(self, server: str, context: str, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.server = server
        self.context = context
        self.cause = cause


@dataclass(frozen=True)
class ApiResource:
    """One resource type the API server serves (from discovery)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    preferred: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`deployments.apps`, or `pods` for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, name: str | None = None, namespace: str | None = None, subresource: str | None = None) -> str:
        """The request path, from validated and percent-encoded segments only (see `names.api_path`)."""
        return api_path(
            self.group,
            self.version,
            self.plural,
            namespace=namespace if self.namespaced else None,
            name=name,
            subresource=subresource,
            kind=self.kind,
        )

    def check_name(self, name: str) -> str:
        """`name` if it is valid for this kind by the API's naming rules; a clear ToolError otherwise."""
        return check_object_name(name, self.group, self.plural, self.kind)


class Cluster:
    """One kubeconfig context: an `ApiClient` plus cached discovery."""

    def __init__(self, name: str, api: Any, default_namespace: str, settings: KubernetesSettings) -> None:
        self.name = name
        self.api = api
        self.server: str = api.configuration.host
        self.default_namespace = default_namespace
        self.settings = settings
        self._resources: list[ApiResource] = []
        self._discovered_at = 0.0
        self._lock = threading.Lock()

    # -- HTTP -------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str | None = None,
        accept: str = "application/json",
        raw: bool = False,
        timeout: float | None = None,
        impersonate: bool = True,
    ) -> Any:
        """One API call; returns parsed JSON (or bytes with `raw`). Raises KubeApiError / Unreachable.

        It acts as the caller's mapped user and groups (`Impersonate-*` headers) when the composite maps
        token claims to them; `impersonate=False` only for the server's own discovery of resource types.
        """
        _check_path(path)
        params = {k: v for k, v in (query or {}).items() if v is not None and v != ""}
        if params:
            path = f"{path}?{urlencode({k: _qv(v) for k, v in params.items()})}"
        who = principal("kubernetes") if impersonate else None  # raises (runs nothing) when it is denied
        headers = {"Accept": accept}
        if body is not None:  # the REST client serialises JSON (and structured apply-patch YAML) bodies itself
            headers["Content-Type"] = content_type or "application/json"
        try:
            method_, url, hdrs, _, _ = self.api.param_serialize(
                method.upper(), path, header_params=headers, auth_settings=["BearerToken"]
            )
            resp = self.api.rest_client.request(
                method_,
                url,
                headers=impersonation_headers(hdrs, who),
                body=body,
                _request_timeout=timeout or self.settings.request_timeout_s,
            )
            data: bytes = resp.read()
        except Exception as exc:  # urllib3 / ssl / socket failures: the server is not reachable
            from kubernetes.client.exceptions import ApiException

            if isinstance(exc, ApiException) and exc.status:
                raise KubeApiError(int(exc.status), str(exc.reason or ""), str(exc.body or "")) from exc
            raise Unreachable(self.server, self.name, exc) from exc
        if not 200 <= resp.status <= 299:
            raise _api_error(resp.status, resp.reason or "", data)
        if raw:
            return data
        return json.loads(data) if data else {}

    # -- discovery --------------------------------------------------------------------------------
    def resources(self, refresh: bool = False) -> list[ApiResource]:
        with self._lock:
            stale = time.monotonic() - self._discovered_at > self.settings.discovery_ttl_s
            if refresh or stale or not self._resources:
                self._resources = self._discover()
                self._discovered_at = time.monotonic()
            return self._resources

    def _discover(self) -> list[ApiResource]:
        out: list[ApiResource] = []
        core = self.request("GET", "/api/v1", impersonate=False)
        out += _parse_resources(core, "", "v1", True)
        groups = self.request("GET", "/apis", impersonate=False).get("groups", [])
        for g in groups:
            preferred = (g.get("preferredVersion") or {}).get("version")
            for v in g.get("versions", []):
                version = v.get("version", "")
                try:
                    listing = self.request("GET", api_path(str(g.get("name", "")), version), impersonate=False)
                except (KubeApiError, ToolError) as exc:  # an aggregated API that is down must not break discovery
                    log.warning("discovery of %s/%s failed: %s", g["name"], version, exc)
                    continue
                out += _parse_resources(listing, g["name"], version, version == preferred)
        return out

    def known(self, api_version: str, kind: str) -> ApiResource | None:
        """The discovered resource of a returned object's apiVersion and kind (cache only, never a request)."""
        group = api_version.rpartition("/")[0]
        for r in self._resources:
            if r.kind == kind and r.group == group:
                return r
        return None

    def resolve(self, kind: str, api_version: str | None = None) -> ApiResource:
        """Find a resource by kind, plural, singular, short name or `plural.group` (refreshing once)."""
        found = _match(self.resources(), kind, api_version)
        if not found:
            found = _match(self.resources(refresh=True), kind, api_version)
        if not found:
            raise tool_error(
                "resolve the resource type",
                f"no resource {shown(kind)}{f' in {shown(api_version)}' if api_version else ''} is served by context "
                f"{self.name}",
                code="NotFound",
                hint="list the served kinds with k8s_api_resources (CRDs appear once Established)",
            )
        preferred = [r for r in found if r.preferred] or found
        groups = {r.group for r in preferred}
        if len(groups) > 1 and api_version is None:
            core = [r for r in preferred if r.group in ("", "apps")]
            if len(core) == 1:
                return core[0]
            options = ", ".join(sorted(r.qualified for r in preferred))
            raise tool_error(
                "resolve the resource type",
                f"{kind!r} is ambiguous: {options}",
                code="Ambiguous",
                hint="pass `api_version` (e.g. apps/v1) or a qualified name such as deployments.apps",
            )
        return preferred[0]


_SAFE_PATH = re.compile(r"^(/[A-Za-z0-9._~:@%-]+)+$")


def impersonation_headers(headers: dict[str, str], who: Principal | None) -> Any:
    """`headers` plus `Impersonate-User` and one `Impersonate-Group` per group (repeated, as the API wants)."""
    if who is None or who.name is None:
        return headers
    from urllib3 import HTTPHeaderDict

    out = HTTPHeaderDict(headers)
    out["Impersonate-User"] = who.name
    for group in who.groups:
        out.add("Impersonate-Group", group)
    return out


def _check_path(path: str) -> None:
    """Backstop of `names.api_path`: only percent-encoded segments, never `.`, `..`, `?`, `#` or `//`."""
    segments = path.split("/")[1:]
    if not _SAFE_PATH.fullmatch(path) or any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"refused request path {path[:120]!r}: build it with names.api_path")


def _qv(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _api_error(status: int, reason: str, data: bytes) -> KubeApiError:
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return KubeApiError(
            int(doc.get("code") or status),
            str(doc.get("reason") or reason),
            str(doc.get("message") or ""),
            doc.get("details") or {},
        )
    return KubeApiError(status, reason, data.decode(errors="replace")[:500])


def _parse_resources(listing: dict[str, Any], group: str, version: str, preferred: bool) -> list[ApiResource]:
    items = listing.get("resources", [])
    subs: dict[str, list[str]] = {}
    for r in items:
        if "/" in r.get("name", ""):
            parent, sub = r["name"].split("/", 1)
            subs.setdefault(parent, []).append(sub)
    out = []
    for r in items:
        name = r.get("name", "")
        if "/" in name:
            continue
        out.append(
            ApiResource(
                group=group,
                version=version,
                kind=r.get("kind", ""),
                plural=name,
                singular=r.get("singularName") or r.get("kind", "").lower(),
                namespaced=bool(r.get("namespaced")),
                verbs=tuple(r.get("verbs") or ()),
                short_names=tuple(r.get("shortNames") or ()),
                categories=tuple(r.get("categories") or ()),
                subresources=tuple(sorted(subs.get(name, []))),
                preferred=preferred,
            )
        )
    return out


def _match(resources: list[ApiResource], kind: str, api_version: str | None) -> list[ApiResource]:
    want = kind.strip()
    group_hint: str | None = None
    if "/" in want and api_version is None:  # "apps/v1/Deployment" or "v1/Pod"
        api_version, want = want.rsplit("/", 1)
    low = want.lower()
    if "." in low and api_version is None:  # "deployments.apps"
        low, group_hint = low.split(".", 1)
    out = []
    for r in resources:
        if api_version is not None and r.api_version != api_version and r.group != api_version:
            continue
        if group_hint is not None and r.group != group_hint:
            continue
        if r.kind == want or low in (r.kind.lower(), r.plural, r.singular) or low in r.short_names:
            out.append(r)
    return out


@dataclass
class KubeClients:
    """The module's client: the kubeconfig's contexts and one lazily built `Cluster` per context."""

    settings: KubernetesSettings
    contexts: list[dict[str, Any]]
    current: str | None
    in_cluster: bool = False
    _clusters: dict[str, Cluster] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def context_name(self, context: str | None) -> str:
        if self.in_cluster:
            if context not in (None, IN_CLUSTER):
                raise tool_error(
                    "select the context",
                    f"context {shown(context or '')} is unknown: running with in-cluster config",
                    code="NotFound",
                    hint=f"omit `context` or pass {IN_CLUSTER!r}",
                )
            return IN_CLUSTER
        name = context or self.settings.context or self.current
        known = [c["name"] for c in self.contexts]
        if not name:
            raise tool_error(
                "select the context",
                "the kubeconfig has no current-context",
                hint=f"pass `context` (one of {', '.join(known)}) or set BAM_K8S_CONTEXT",
            )
        if name not in known:
            raise tool_error(
                "select the context",
                f"context {shown(name)} is not in the kubeconfig",
                code="NotFound",
                hint=f"known contexts: {', '.join(known) or '(none)'}",
            )
        if not self.settings.context_allowed(name):
            raise tool_error(
                "select the context",
                f"refused: context {name!r} is not in the allowed contexts",
                code="Forbidden by policy",
                hint=f"allowed: {', '.join(self.settings.contexts_allowed())} (BAM_K8S_ALLOWED_CONTEXTS)",
            )
        return name

    def cluster(self, context: str | None = None) -> Cluster:
        """The `Cluster` of a context (blocking: builds the client on first use)."""
        name = self.context_name(context)
        with self._lock:
            if name in self._clusters:
                return self._clusters[name]
        from kubernetes import client, config

        cfg = client.Configuration()
        namespace = "default"
        if self.in_cluster:
            from kubernetes.config.incluster_config import InClusterConfigLoader

            sa = self.settings.service_account_dir
            InClusterConfigLoader(  # type: ignore[no-untyped-call]
                token_filename=os.path.join(sa, "token"), cert_filename=os.path.join(sa, "ca.crt")
            ).load_and_set(cfg)
            try:
                with open(os.path.join(sa, "namespace")) as f:
                    namespace = f.read().strip() or "default"
            except OSError:
                pass
        else:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=self.settings.kubeconfig_path(),
                context=name,
                client_configuration=cfg,
                persist_config=False,
            )
            ctx = next((c for c in self.contexts if c["name"] == name), {})
            namespace = (ctx.get("context") or {}).get("namespace") or "default"
        cfg.retries = 1
        api = client.ApiClient(configuration=cfg)
        cluster = Cluster(name, api, namespace, self.settings)
        with self._lock:
            self._clusters.setdefault(name, cluster)
            return self._clusters[name]

    def close(self) -> None:
        with self._lock:
            clusters, self._clusters = list(self._clusters.values()), {}
        for c in clusters:
            try:
                c.api.close()
            except Exception as exc:  # closing must never raise
                log.debug("closing %s: %s", c.name, exc)


def load_clients(settings: KubernetesSettings) -> KubeClients:
    """Read the kubeconfig (or detect in-cluster config); raises NotConfigured when there is neither."""
    path = settings.kubeconfig_path()
    if os.path.exists(path):
        from kubernetes import config

        contexts, current = config.list_kube_config_contexts(config_file=path)  # type: ignore[no-untyped-call]
        return KubeClients(settings, list(contexts or []), (current or {}).get("name"))
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return KubeClients(settings, [{"name": IN_CLUSTER, "context": {}}], IN_CLUSTER, in_cluster=True)
    raise NotConfigured(
        f"no kubeconfig at {path} and not running in a pod; set KUBECONFIG to a kubeconfig file "
        "(kind/k3d/minikube write one)"
    )


@dataclass
class Kube(BackendState[KubernetesSettings, "KubeClients"]):
    """What the kubernetes module's tools get from the lifespan."""

    settings: KubernetesSettings
    backend: Backend[KubeClients]

    async def cluster(self, context: str | None) -> Cluster:
        clients = await self.backend.get()
        try:
            return await self.backend.run_sync(clients.cluster, context)
        except ToolError:
            raise
        except Exception as exc:
            raise tool_error(
                "load the kubeconfig context",
                f"{type(exc).__name__}: {exc}",
                hint="check the context's cluster/user entries in KUBECONFIG",
            ) from exc


@asynccontextmanager
async def resources(settings: KubernetesSettings | None = None) -> AsyncIterator[Kube]:
    """Own the per-context clients for the lifetime of the server; never fail when the cluster is down."""
    s = settings or KubernetesSettings()

    async def connect() -> KubeClients:
        from servers._common import run_sync

        return await run_sync(load_clients, s)

    async def probe(clients: KubeClients) -> Any:
        from servers._common import run_sync

        def version() -> Any:
            return clients.cluster(None).request("GET", "/version", timeout=min(s.request_timeout_s, 5.0))

        try:
            return await run_sync(version)
        except Unreachable as exc:
            raise RuntimeError(f"{exc.server} unreachable ({exc})") from exc

    async def close(clients: KubeClients) -> None:
        from servers._common import run_sync

        await run_sync(clients.close)

    target = s.kubeconfig_path() + (f" (context {s.context})" if s.context else "")
    backend: Backend[KubeClients] = Backend(
        module="kubernetes",
        title="Kubernetes",
        target=target,
        env_hint=ENV_HINT,
        connect=connect,
        probe=probe,
        close=close,
        max_threads=s.max_threads,
    )
    try:
        yield Kube(s, backend)
    finally:
        await backend.aclose()


_HINTS = {
    400: "the request was malformed; check the arguments (selectors use `key=value,key2!=v`)",
    401: "the credentials of this context were rejected; refresh the kubeconfig token",
    403: "RBAC denies this to the kubeconfig user or service account; check with `kubectl auth can-i`",
    404: "check kind, name and namespace (k8s_resources_list / k8s_api_resources)",
    405: "this resource does not support that verb (see `verbs` in k8s_api_resources)",
    409: "the object changed or already exists, or another field manager owns the fields; re-read and retry",
    410: "the continue token expired; list again from the first page",
    415: "the API server does not accept this patch type for the resource",
    422: "the object is invalid; fix the fields named in the detail",
    429: "the API server is throttling; retry shortly",
    500: "the API server failed; retry, then check its logs",
    503: "the API server (or an aggregated API) is unavailable; retry",
    504: "the API server timed out; narrow the request (selectors, limit)",
}


def translate(exc: BaseException, action: str, *, hint: str | None = None) -> ToolError:
    """API errors as tool errors carrying the HTTP code, Status reason, message, causes and a hint."""
    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, KubeApiError):
        detail = None
        causes = exc.details.get("causes") if isinstance(exc.details, dict) else None
        if causes:
            detail = "; ".join(
                f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in causes[:10] if isinstance(c, dict)
            )
            detail = detail if len(detail) <= 400 else detail[:400] + " ..."
        message = exc.message or exc.reason
        return tool_error(
            action,
            message if len(message) <= 600 else message[:600] + " ...",
            code=f"{exc.status} {exc.reason}".strip(),
            detail=detail,
            hint=hint or _HINTS.get(exc.status),
        )
    if isinstance(exc, Unreachable):
        return ToolError(
            redact_text(
                f"failed to {action}: the Kubernetes API server {exc.server} (context {exc.context}) is unreachable "
                f"({exc}). Check that the cluster is running and that {ENV_HINT} point to it; the module "
                "reconnects by itself on the next call."
            )
        )
    return tool_error(action, f"{type(exc).__name__}: {exc}")
