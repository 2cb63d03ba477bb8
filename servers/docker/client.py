"""The Docker engine connection: a docker SDK client behind a `Backend`, plus error translation.

The SDK is synchronous; every call goes through `Docker.call`, which runs it in a worker thread bounded
by the module's limiter and turns SDK exceptions into tool errors carrying the engine's status code.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, tool_error
from servers.docker.settings import DockerSettings

if TYPE_CHECKING:
    import docker

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("backend_architect_mcp.docker")


@dataclass
class Docker(BackendState[DockerSettings, "docker.DockerClient"]):
    """What the docker module's tools get from the lifespan."""

    settings: DockerSettings
    backend: Backend[docker.DockerClient]
    _engine_paths: tuple[str, ...] | None = field(default=None, repr=False)

    async def api(self) -> docker.APIClient:
        """The low-level API client (connects on demand)."""
        client = await self.backend.get()
        return client.api

    async def call(self, action: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run one blocking SDK call in a worker thread; SDK errors become tool errors."""
        try:
            return await self.backend.run_sync(fn, *args, **kwargs)
        except Exception as exc:
            raise self.translate(exc, action) from exc

    async def engine_paths(self) -> tuple[str, ...]:
        """The engine's own host paths (its data root, read once from `info`): never bind-mountable."""
        if self._engine_paths is None:
            api = await self.api()
            info = await self.call("read the engine's data root", api.info)
            root = info.get("DockerRootDir")
            self._engine_paths = (root,) if isinstance(root, str) and root.startswith("/") else ()
        return self._engine_paths

    def translate(self, exc: BaseException, action: str) -> ToolError:
        return translate(exc, action, self.backend)


@asynccontextmanager
async def resources(settings: DockerSettings | None = None) -> AsyncIterator[Docker]:
    """Own the docker client for the lifetime of the server; never fail when the engine is down."""
    s = settings or DockerSettings()
    backend: Backend[docker.DockerClient]

    def _connect() -> docker.DockerClient:
        import docker

        # version="auto" asks the engine for its API version: a down engine fails here, not later.
        client = docker.DockerClient(
            base_url=s.host(),
            version="auto",
            timeout=int(s.timeout_s),
            tls=_tls_config(),
            use_ssh_client=s.host().startswith("ssh://"),  # the ssh CLI; paramiko is not a dependency
        )
        return client

    async def connect() -> docker.DockerClient:
        return await backend.run_sync(_connect)

    async def probe(client: docker.DockerClient) -> Any:
        return await backend.run_sync(client.ping)

    async def close(client: docker.DockerClient) -> None:
        await backend.run_sync(client.close)

    backend = Backend(
        module="docker",
        title="Docker engine",
        target=s.target(),
        env_hint="DOCKER_HOST",
        connect=connect,
        probe=probe,
        close=close,
    )
    try:
        yield Docker(s, backend)
    finally:
        await backend.aclose()


def _tls_config() -> Any:
    """TLS from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, as `docker.from_env` does; None when unset."""
    import os

    from docker.utils import kwargs_from_env

    if not (os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH")):
        return None
    return kwargs_from_env().get("tls")


_HINTS = {
    404: "check the name or id with the matching list tool (docker_containers_list, docker_images_list, ...)",
    409: "the object is in a conflicting state (running, in use, or the name is taken); stop/remove it first "
    "or choose another name",
    304: "nothing to do: the object is already in that state",
    401: "the registry refused the credentials; log in with `docker login` on the server host",
    403: "the engine or registry forbids this operation",
    500: "the engine reported an internal error; the message says why",
}


def translate(exc: BaseException, action: str, backend: Backend[Any] | None = None) -> ToolError:
    """docker SDK errors as tool errors carrying the HTTP status, the engine's message and a hint."""
    if isinstance(exc, ToolError):
        return exc
    import docker.errors
    import requests.exceptions

    if isinstance(exc, docker.errors.APIError):
        status = exc.status_code or 0
        message = exc.explanation or str(exc)
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        kind = type(exc).__name__
        hint = _HINTS.get(status)
        if isinstance(exc, docker.errors.ImageNotFound) or "No such image" in str(message):
            hint = "the image is not present on the engine: pull it with docker_image_pull or build it"
        elif "pull access denied" in str(message) or "manifest unknown" in str(message):
            hint = "the image/tag does not exist in that registry, or it needs credentials"
        return tool_error(action, str(message), code=f"{status} {kind}" if status else kind, hint=hint)
    if isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in str(exc):
        return tool_error(
            action,
            f"the engine did not answer in time ({exc})",
            code="timeout",
            hint="the operation may still be running; raise BAM_DOCKER_TIMEOUT_S or check its state",
        )
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        if backend is not None:
            return backend.unavailable(exc)
        return tool_error(action, f"{type(exc).__name__}: {exc}", hint="is the Docker engine running?")
    if isinstance(exc, docker.errors.DockerException):
        return tool_error(action, str(exc), code=type(exc).__name__)
    log.warning("unexpected error during %s: %s", action, type(exc).__name__)
    return tool_error(action, f"{type(exc).__name__}: {exc}")
