"""Kubernetes module (prefix `k8s_`): any resource (CRDs too), logs, events, apply, scale and rollouts."""

from servers._common.module import ModuleInfo
from servers.kubernetes.settings import KubernetesSettings, configured

MODULE = ModuleInfo.of(
    __name__,
    KubernetesSettings,
    configured,
    prefix="k8s_",
    title="Kubernetes",
    summary=(
        "discover API resources and CRDs; list, get and describe any object with selectors and paging; read "
        "events and pod logs; when allowed, server-side apply with dry run and diff, delete, scale, rollout "
        "restart/status/undo and cordon nodes"
    ),
    client_env=("KUBECONFIG",),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "KubernetesSettings", "build_server"]
