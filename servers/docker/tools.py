"""The docker tools by toolset, in the order clients see them (titles, annotations and levels: `@tool`)."""

from __future__ import annotations

from servers._common import ToolCatalog, Toolsets
from servers.docker.container_exec import docker_container_exec
from servers.docker.containers import (
    docker_container_diff,
    docker_container_inspect,
    docker_container_logs,
    docker_container_stats,
    docker_container_top,
    docker_containers_list,
)
from servers.docker.engine import docker_engine_df, docker_engine_info
from servers.docker.images import (
    docker_image_build,
    docker_image_history,
    docker_image_inspect,
    docker_image_pull,
    docker_image_push,
    docker_image_remove,
    docker_image_tag,
    docker_images_list,
    docker_images_prune,
)
from servers.docker.lifecycle import (
    docker_container_pause,
    docker_container_remove,
    docker_container_restart,
    docker_container_run,
    docker_container_start,
    docker_container_stop,
    docker_container_unpause,
)
from servers.docker.objects import (
    docker_managed_cleanup,
    docker_managed_list,
    docker_network_create,
    docker_network_inspect,
    docker_network_remove,
    docker_networks_list,
    docker_volume_create,
    docker_volume_inspect,
    docker_volume_remove,
    docker_volumes_list,
)

TOOLSETS: Toolsets = {
    "engine": (docker_engine_info, docker_engine_df),
    "containers": (
        docker_containers_list,
        docker_container_inspect,
        docker_container_logs,
        docker_container_stats,
        docker_container_top,
        docker_container_diff,
        docker_container_run,
        docker_container_start,
        docker_container_stop,
        docker_container_restart,
        docker_container_pause,
        docker_container_unpause,
        docker_container_remove,
        docker_container_exec,
    ),
    "images": (
        docker_images_list,
        docker_image_inspect,
        docker_image_history,
        docker_image_build,
        docker_image_pull,
        docker_image_push,
        docker_image_tag,
        docker_image_remove,
        docker_images_prune,
    ),
    "volumes": (docker_volumes_list, docker_volume_inspect, docker_volume_create, docker_volume_remove),
    "networks": (docker_networks_list, docker_network_inspect, docker_network_create, docker_network_remove),
    "managed": (docker_managed_list, docker_managed_cleanup),
}
"""Named groups of tools, selectable with `--toolsets docker.<name>`; clients see them in this order."""

CATALOG = ToolCatalog.of(TOOLSETS, default=("engine", "containers"))
