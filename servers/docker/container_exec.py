"""`docker_container_exec`: run a command in a container, read its output until it ends or a deadline passes.

The exec is started attached through the low-level API and its raw socket is read in one worker thread,
with a socket timeout set to the time left before the deadline. A command that runs (or stays silent)
past the deadline is not waited for: reading stops, the command is killed (see `exec_stop`), and the
output so far is returned with `exit_code` unset and a note at the end of `stderr`. When the caller
cancels the call (or its HTTP request goes away), the socket is shut down at once, which frees the
worker thread, and the command is killed the same way.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from servers._common import newest_lines, redact_output
from servers._common.tools import ADMIN, DESTRUCTIVE, tool
from servers.docker.common import ContainerRef, state_of
from servers.docker.exec_stop import stop_exec

_HEADER = struct.Struct(">BxxxL")  # stream type (1 stdout, 2 stderr), payload size
_STDERR_STREAMS = (2, 3)  # 3: the engine's own error stream
_MARGIN = 8  # bytes kept beyond the cap, so a character cut at the start can be dropped whole


@dataclass
class ExecOutput:
    """What was read from an exec's socket: the newest `keep` bytes of each stream."""

    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    dropped: bool = False
    timed_out: bool = False

    def add(self, stream: int, data: bytes, keep: int) -> None:
        buf = self.stderr if stream in _STDERR_STREAMS else self.stdout
        buf += data
        if len(buf) > keep:
            del buf[: len(buf) - keep]
            self.dropped = True


def read_exec_socket(sock: Any, seconds: float, keep: int) -> ExecOutput:
    """Read the multiplexed frames of an attached, TTY-less exec until EOF or until `seconds` have passed.

    Blocking: run it in a worker thread. The socket (and its HTTP response) are closed on return.
    """
    raw = getattr(sock, "_sock", sock)  # SocketIO wraps the socket; a timed-out SocketIO refuses to read again
    recv = getattr(raw, "recv", None) or sock.read
    end = time.monotonic() + seconds
    out = ExecOutput()
    pending = bytearray()
    try:
        while True:
            left = end - time.monotonic()
            if left <= 0:
                out.timed_out = True
                break
            with contextlib.suppress(AttributeError, OSError):
                raw.settimeout(left)
            try:
                chunk = recv(65_536)
            except TimeoutError:
                out.timed_out = True
                break
            if not chunk:
                break
            pending += chunk
            while len(pending) >= _HEADER.size:
                stream, size = _HEADER.unpack_from(pending)
                if len(pending) < _HEADER.size + size:
                    break
                out.add(stream, bytes(pending[_HEADER.size : _HEADER.size + size]), keep)
                del pending[: _HEADER.size + size]
    finally:
        _close(sock, raw)
    return out


class SocketAbort:
    """Shuts down a socket another thread is blocked on; callable before the socket exists (then at attach)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self.aborted = False

    def attach(self, sock: Any) -> Any:
        with self._lock:
            self._sock = sock
            if self.aborted:
                _shutdown(sock)
        return sock

    def __call__(self) -> None:
        with self._lock:
            self.aborted = True
            if self._sock is not None:
                _shutdown(self._sock)


def _shutdown(sock: Any) -> None:
    raw = getattr(sock, "_sock", sock)
    with contextlib.suppress(Exception):
        raw.shutdown(socket.SHUT_RDWR)


def _close(sock: Any, raw: Any) -> None:
    for obj in (raw, sock, getattr(sock, "_response", None)):
        with contextlib.suppress(Exception):
            if obj is not None:
                obj.close()


def _text(data: bytearray, cap: int, dropped: bool) -> tuple[str, bool]:
    """Decoded output cut to `cap` bytes: the tail is kept, in whole lines (see `newest_lines`)."""
    text, cut = newest_lines(bytes(data).decode(errors="replace"), cap)
    return redact_output(text), cut or dropped


class ExecResult(BaseModel):
    container: str
    exit_code: int | None
    stdout: str = Field(description="Standard output (secrets masked)")
    stderr: str = Field(description="Standard error (secrets masked)")
    truncated: bool = Field(description="True when output was cut to the byte cap (the tail is kept)")


@tool("Docker: run a command in a container", DESTRUCTIVE, level=ADMIN)
async def docker_container_exec(
    ctx: Context[Any, Any],
    container: ContainerRef,
    command: Annotated[list[str], Field(min_length=1, description="Command and arguments (exec form, no shell)")],
    user: str | None = None,  # default: the container's
    working_dir: str | None = None,
    env: dict[str, str] | None = None,
) -> ExecResult:
    """Run a command inside a running container and return its exit code, stdout and stderr (bounded).

    Admin-level: it runs arbitrary commands. No TTY, no stdin, never privileged. A command still running
    after BAM_DOCKER_EXEC_TIMEOUT_S is killed; the output read so far returns with exit_code null and a
    note in stderr.
    """
    d = state_of(ctx)
    api = await d.api()
    ex = await d.call(
        "create the exec",
        api.exec_create,
        container,
        command,
        stdout=True,
        stderr=True,
        user=user or "",
        workdir=working_dir,
        environment=env,
    )
    cap = d.settings.max_log_bytes
    seconds, setting = d.settings.exec_deadline()

    abort = SocketAbort()

    def run() -> ExecOutput:
        return read_exec_socket(abort.attach(api.exec_start(ex["Id"], socket=True)), seconds, cap + _MARGIN)

    try:
        got = await d.call_abortable("run the command", run, abort)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True), anyio.move_on_after(10):
            await stop_exec(d, api, ex["Id"], container)
        raise
    res = await d.call("read the exit code", api.exec_inspect, ex["Id"])
    for _ in range(20):  # the streams can close a moment before the engine records the exit code
        if got.timed_out or not res.get("Running"):
            break
        await anyio.sleep(0.05)
        res = await d.call("read the exit code", api.exec_inspect, ex["Id"])
    note = ""
    if got.timed_out:
        outcome = await stop_exec(d, api, ex["Id"], container) if res.get("Running") else "it has ended since"
        note = f"[timed out: stopped reading after {seconds:g}s ({setting}); {outcome}]"
    so, t1 = _text(got.stdout, cap, got.dropped)
    se, t2 = _text(got.stderr, cap - len(note.encode()) - 1 if note else cap, got.dropped)
    if note:
        se = f"{se}\n{note}" if se and not se.endswith("\n") else se + note
    return ExecResult(
        container=container,
        exit_code=None if res.get("Running") else res.get("ExitCode"),
        stdout=so,
        stderr=se,
        truncated=t1 or t2,
    )
