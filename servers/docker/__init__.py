"""Docker module (prefix `docker_`): engine, containers, images, volumes, networks and builds."""

from servers._common.module import ModuleInfo, client_resources
from servers.docker.settings import DockerSettings, configured

MODULE = ModuleInfo(
    key="docker",
    prefix="docker_",
    title="Docker",
    summary=(
        "inspect the Docker engine, containers (logs, stats, processes, filesystem changes), images, volumes "
        "and networks; with writes allowed, run and manage containers, build/pull/push images and clean up "
        "what this server created"
    ),
    settings=DockerSettings,
    resources=client_resources(__name__),
    catalog_module=f"{__name__}.tools",
    configured=configured,
    client_env=("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "DockerSettings", "build_server"]
