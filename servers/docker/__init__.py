"""Docker module (prefix `docker_`): engine, containers, images, volumes, networks and builds."""

from servers._common.module import ModuleInfo
from servers.docker.settings import DockerSettings, configured

MODULE = ModuleInfo.of(
    __name__,
    DockerSettings,
    configured,
    prefix="docker_",
    title="Docker",
    summary=(
        "inspect the Docker engine, containers (logs, stats, processes, filesystem changes), images, volumes "
        "and networks; with writes allowed, run and manage containers, build/pull/push images and clean up "
        "what this server created"
    ),
    client_env=("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"),
)
build_server = MODULE.build_server

__all__ = ["MODULE", "DockerSettings", "build_server"]
