"""The docker module's tool list: names, titles, annotations and levels."""

from __future__ import annotations

from servers._common import (
    ADMIN,
    DELETE,
    DESTRUCTIVE,
    DISRUPT,
    OVERWRITE,
    READ,
    STOP,
    WRITE,
    WRITE_IDEMPOTENT,
    ToolCatalog,
    ToolSpec,
)
from servers._common.tools import open_world
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

TOOLS = [
    # engine
    ToolSpec(docker_engine_info, "engine_info", "Docker: engine version and info", READ),
    ToolSpec(docker_engine_df, "engine_df", "Docker: disk usage", READ),
    # containers (read)
    ToolSpec(docker_containers_list, "containers_list", "Docker: list containers", READ),
    ToolSpec(docker_container_inspect, "container_inspect", "Docker: inspect a container", READ),
    ToolSpec(docker_container_logs, "container_logs", "Docker: container logs", READ),
    ToolSpec(docker_container_stats, "container_stats", "Docker: container resource usage", READ),
    ToolSpec(docker_container_top, "container_top", "Docker: container processes", READ),
    ToolSpec(docker_container_diff, "container_diff", "Docker: container filesystem changes", READ),
    # containers (write)
    ToolSpec(docker_container_run, "container_run", "Docker: run a container", WRITE),
    ToolSpec(docker_container_start, "container_start", "Docker: start a container", WRITE_IDEMPOTENT),
    ToolSpec(docker_container_stop, "container_stop", "Docker: stop a container", STOP),
    ToolSpec(docker_container_restart, "container_restart", "Docker: restart a container", DISRUPT),
    ToolSpec(docker_container_pause, "container_pause", "Docker: pause a container", STOP),
    ToolSpec(docker_container_unpause, "container_unpause", "Docker: unpause a container", WRITE_IDEMPOTENT),
    ToolSpec(docker_container_remove, "container_remove", "Docker: remove a container", DELETE),
    ToolSpec(docker_container_exec, "container_exec", "Docker: run a command in a container", DESTRUCTIVE, ADMIN),
    # images
    ToolSpec(docker_images_list, "images_list", "Docker: list images", READ),
    ToolSpec(docker_image_inspect, "image_inspect", "Docker: inspect an image", READ),
    ToolSpec(docker_image_history, "image_history", "Docker: image layer history", READ),
    ToolSpec(docker_image_build, "image_build", "Docker: build an image", WRITE),
    ToolSpec(docker_image_pull, "image_pull", "Docker: pull an image", open_world(WRITE_IDEMPOTENT)),
    ToolSpec(docker_image_push, "image_push", "Docker: push an image", open_world(OVERWRITE)),
    ToolSpec(docker_image_tag, "image_tag", "Docker: tag an image", WRITE_IDEMPOTENT),
    ToolSpec(docker_image_remove, "image_remove", "Docker: remove an image", DELETE),
    ToolSpec(docker_images_prune, "images_prune", "Docker: prune unused images", DELETE),
    # volumes
    ToolSpec(docker_volumes_list, "volumes_list", "Docker: list volumes", READ),
    ToolSpec(docker_volume_inspect, "volume_inspect", "Docker: inspect a volume", READ),
    ToolSpec(docker_volume_create, "volume_create", "Docker: create a volume", WRITE),
    ToolSpec(docker_volume_remove, "volume_remove", "Docker: remove a volume", DELETE),
    # networks
    ToolSpec(docker_networks_list, "networks_list", "Docker: list networks", READ),
    ToolSpec(docker_network_inspect, "network_inspect", "Docker: inspect a network", READ),
    ToolSpec(docker_network_create, "network_create", "Docker: create a network", WRITE),
    ToolSpec(docker_network_remove, "network_remove", "Docker: remove a network", DELETE),
    # provenance
    ToolSpec(docker_managed_list, "managed_list", "Docker: list what this server created", READ),
    ToolSpec(docker_managed_cleanup, "managed_cleanup", "Docker: remove what this server created", DELETE),
]

TOOLSETS: dict[str, tuple[str, ...]] = {
    "engine": ("engine_info", "engine_df"),
    "containers": (
        "containers_list",
        "container_inspect",
        "container_logs",
        "container_stats",
        "container_top",
        "container_diff",
        "container_run",
        "container_start",
        "container_stop",
        "container_restart",
        "container_pause",
        "container_unpause",
        "container_remove",
        "container_exec",
    ),
    "images": (
        "images_list",
        "image_inspect",
        "image_history",
        "image_build",
        "image_pull",
        "image_push",
        "image_tag",
        "image_remove",
        "images_prune",
    ),
    "volumes": ("volumes_list", "volume_inspect", "volume_create", "volume_remove"),
    "networks": ("networks_list", "network_inspect", "network_create", "network_remove"),
    "managed": ("managed_list", "managed_cleanup"),
}
"""Named groups of the tools above, selectable with `--toolsets docker.<name>`."""
DEFAULT_TOOLSETS = ("engine", "containers")

CATALOG = ToolCatalog(TOOLS, TOOLSETS, DEFAULT_TOOLSETS)
