"""Kubernetes module settings: `KUBECONFIG` (or in-cluster config) plus `BAM_K8S_*` safety and tuning."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from servers._common.module import first_existing, first_set
from servers._common.settings import BamSettings, PageLimit, PageSize, ResultBytes, WorkerThreads
from servers._common.tools import csv_items


class KubernetesSettings(BamSettings):
    model_config = SettingsConfigDict(env_prefix="BAM_K8S_")

    kubeconfig: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KUBECONFIG", "BAM_K8S_KUBECONFIG"),
        description="Path(s) of kubeconfig files (first one is used); default ~/.kube/config, then in-cluster.",
    )
    service_account_dir: str = Field(
        default="/var/run/secrets/kubernetes.io/serviceaccount",
        description="In-cluster config: directory of the pod's service-account token, ca.crt and namespace.",
    )
    context: str | None = Field(default=None, description="Default context (default: the kubeconfig's current one).")
    allowed_contexts: str = Field(default="", description="Comma-separated contexts tools may use; empty: all.")
    allowed_namespaces: str = Field(
        default="", description="Comma-separated namespace globs tools may touch; empty: all (minus the deny list)."
    )
    denied_namespaces: str = Field(default="", description="Comma-separated namespace globs tools may never touch.")
    denied_kinds: str = Field(
        default="",
        description=(
            "Kinds refused on every call: Kind, plural or plural.group (e.g. Secret,roles.rbac.authorization.k8s.io)"
        ),
    )
    reveal_secrets: bool = Field(
        default=False, description="Show Secret data in outputs. Off: Secret values are always redacted."
    )
    field_manager: str = Field(default="backend-architect-mcp", description="Field manager of server-side apply.")
    request_timeout_s: float = Field(default=20.0, gt=0, description="Timeout of one API request.")
    discovery_ttl_s: float = Field(default=300.0, ge=0, description="How long API discovery is cached per context.")
    max_items: PageSize = 50
    max_items_limit: PageLimit = 500
    max_bytes: ResultBytes = 200_000
    log_max_bytes: int = Field(default=64_000, ge=256, description="Default byte cap of returned pod logs.")
    max_threads: WorkerThreads = 8

    def kubeconfig_path(self) -> str:
        raw = self.kubeconfig or ""
        first = raw.split(os.pathsep)[0].strip() if raw else ""
        return os.path.expanduser(first or "~/.kube/config")

    def contexts_allowed(self) -> tuple[str, ...]:
        return csv_items(self.allowed_contexts)

    def context_allowed(self, name: str) -> bool:
        allowed = self.contexts_allowed()
        return not allowed or any(fnmatch.fnmatchcase(name, g) for g in allowed)

    def namespace_allowed(self, namespace: str) -> bool:
        if any(fnmatch.fnmatchcase(namespace, g) for g in csv_items(self.denied_namespaces)):
            return False
        allowed = csv_items(self.allowed_namespaces)
        return not allowed or any(fnmatch.fnmatchcase(namespace, g) for g in allowed)

    def namespaces_restricted(self) -> bool:
        return bool(csv_items(self.allowed_namespaces) or csv_items(self.denied_namespaces))

    def kind_denied(self, kind: str, plural: str, group: str) -> bool:
        names = {kind.lower(), plural.lower()}
        if group:
            names |= {f"{kind.lower()}.{group}", f"{plural.lower()}.{group}"}
        return any(d.lower() in names for d in csv_items(self.denied_kinds))


IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def configured(env: Mapping[str, str]) -> str | None:
    """KUBECONFIG, an in-cluster service account, or ~/.kube/config, if any."""
    var = first_set(env, ("KUBECONFIG", "BAM_K8S_KUBECONFIG"))
    if var:
        return var
    if env.get("KUBERNETES_SERVICE_HOST") and os.path.exists(IN_CLUSTER_TOKEN):
        return "in-cluster service account"
    return first_existing([str(Path(env.get("HOME", "~")) / ".kube" / "config")])
