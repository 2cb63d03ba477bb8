"""The Docker engine connection: a docker SDK client behind a `Backend`, plus error translation.

The SDK is synchronous; every call goes through `Docker.call`, which runs it in a worker thread bounded
by the module's limiter and turns SDK exceptions into tool errors carrying the engine's status code.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from servers._common import Backend, BackendState, backend_error, connection_lost, tool_error
from servers._common.lifespan import BackendId, blocking_backend, serving
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

    async def call_abortable(self, action: str, fn: Callable[[], R], abort: Callable[[], None]) -> R:
        """`call` for a call that may block long (a stream, an exec): a cancelled caller runs `abort()`."""
        try:
            return await self.backend.run_abortable(fn, abort)
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
        if _timed_out(exc):
            return timeout_error(action, exc, self.backend.target)
        return backend_error(self.backend, translate, exc, action)


DOCKER = BackendId("docker", "Docker engine", "DOCKER_HOST")


def _connect(s: DockerSettings) -> docker.DockerClient:
    import docker

    # version="auto" asks the engine for its API version: a down engine fails here, not later.
    client = docker.DockerClient(
        base_url=s.host(),
        version="auto",
        timeout=int(s.timeout_s),
        tls=_tls_config(),
        use_ssh_client=s.host().startswith("ssh://"),  # the ssh CLI; paramiko is not a dependency
    )
    record_streams(client.api)
    return client


@asynccontextmanager
async def resources(settings: DockerSettings | None = None) -> AsyncIterator[Docker]:
    """Own the docker client for the lifetime of the server; never fail when the engine is down."""
    s = settings or DockerSettings()
    backend = blocking_backend(
        DOCKER, s.target(), partial(_connect, s), lambda c: c.ping(), lambda c: c.close(), s.max_threads
    )
    async with serving(Docker(s, backend), backend) as state:
        yield state


_streams = threading.local()


def record_streams(api: docker.APIClient) -> None:
    """Remember, per thread, the HTTP response behind each streaming call (build, pull, push).

    The SDK hands back a generator and keeps the response to itself; `last_stream_response()` (called
    in the same worker thread right after the call) gives it back, so a cancelled caller can close it.
    """
    helper = api._stream_helper

    def recording(response: Any, decode: bool = False) -> Any:
        _streams.response = response
        return helper(response, decode)

    api._stream_helper = recording  # type: ignore[method-assign]


def last_stream_response() -> Any:
    """The response of this thread's latest streaming call (see `record_streams`)."""
    response, _streams.response = getattr(_streams, "response", None), None
    return response


def shutdown_response(response: Any) -> None:
    """Shut down the socket under a streaming response: a thread blocked reading it returns at once.

    The engine sees the client go away and cancels the operation (a build stops, its container is removed).
    """
    fp = getattr(getattr(getattr(response, "raw", None), "_fp", None), "fp", None)
    raw = getattr(fp, "raw", None)
    sock = getattr(raw, "_sock", None) or getattr(fp, "channel", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _timed_out(exc: BaseException) -> bool:
    import requests

    return isinstance(exc, requests.exceptions.ReadTimeout) or "Read timed out" in str(exc)


def timeout_error(action: str, exc: BaseException, target: str | None) -> ToolError:
    """The engine did not answer within BAM_DOCKER_TIMEOUT_S (named when known)."""
    return tool_error(
        action,
        f"the engine{f' at {target}' if target else ''} did not answer in time ({exc})",
        code="timeout",
        hint="the operation may still be running; raise BAM_DOCKER_TIMEOUT_S or check its state",
    )


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


def translate(exc: BaseException, action: str) -> ToolError:
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
    if _timed_out(exc):
        return timeout_error(action, exc, None)
    if isinstance(exc, requests.exceptions.ConnectionError | ConnectionError | FileNotFoundError):
        return connection_lost(action, f"{type(exc).__name__}: {exc}", hint="is the Docker engine running?")
    if isinstance(exc, docker.errors.DockerException):
        return tool_error(action, str(exc), code=type(exc).__name__)
    log.warning("unexpected error during %s: %s", action, type(exc).__name__)
    return tool_error(action, f"{type(exc).__name__}: {exc}")
