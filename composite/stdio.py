"""A lean stdio transport: asyncio pipes on stdin/stdout instead of a worker thread per read, write and flush.

The SDK's `mcp.server.stdio.stdio_server` wraps the standard streams in `anyio.wrap_file`, so every line read
and every write and flush hops to a worker thread (~0.4 ms and most of the CPU of a no-op call). Here the
same file descriptors are served by the event loop (`connect_read_pipe` / `connect_write_pipe`) with the same
contract as the SDK's transport:

- newline-delimited JSON-RPC, UTF-8 (invalid bytes replaced), one message per line, no size limit;
- responses written with orjson (`encode`): the SDK's transport serialises each result through pydantic once
  more;
- a line that is not a valid message is passed to the server as an exception (it answers with an error);
- EOF on stdin closes the read stream, so the server finishes its work and exits;
- while serving, fd 0 reads /dev/null and fd 1 points at stderr, so stray output of handlers and child
  processes never corrupts the wire; both are restored on exit.

It is used on POSIX when stdin and stdout are pipes or sockets; otherwise (Windows, a terminal, a regular
file) the SDK's transport is used unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import mcp_types as types
import orjson
from mcp.server.mcpserver import MCPServer
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

log = logging.getLogger("backend_architect_mcp.stdio")

_LINE_LIMIT = 1 << 31
"""Bytes one line may take while it is being read (the SDK's transport has no limit either)."""


def _is_pipe(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def lean_stdio_supported(stdin_fd: int = 0, stdout_fd: int = 1) -> bool:
    """Whether the asyncio-pipe transport can serve these descriptors (POSIX pipes or sockets, no terminal)."""
    return sys.platform != "win32" and _is_pipe(stdin_fd) and _is_pipe(stdout_fd)


class _Claim:
    """Serve the wire from private duplicates of fd 0/1 while fd 0 reads /dev/null and fd 1 writes to stderr."""

    def __init__(self) -> None:
        import fcntl  # POSIX only, like this transport

        self.wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
        self.wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
        self.saved_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
        self.saved_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
        with suppress(OSError):
            sys.stdout.flush()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            os.dup2(null, 0)
        finally:
            os.close(null)
        os.dup2(2, 1)

    def release(self) -> None:
        with suppress(OSError):
            sys.stdout.flush()
        for saved, fd in ((self.saved_in, 0), (self.saved_out, 1)):
            with suppress(OSError):
                os.dup2(saved, fd)
            with suppress(OSError):
                os.close(saved)


def encode(message: types.JSONRPCMessage) -> bytes:
    """One JSON-RPC message as a line. A response's `result` is already its wire dict (the SDK shaped it):
    orjson writes it in one pass; anything orjson refuses (ints over 64 bits, non-string keys, lone
    surrogates) and every other message go through the model, as in the SDK's transport."""
    if type(message) is types.JSONRPCResponse and type(message.result) is dict:
        try:
            line: bytes = orjson.dumps({"jsonrpc": message.jsonrpc, "id": message.id, "result": message.result})
            return line + b"\n"
        except TypeError:
            pass
    text: str = message.model_dump_json(by_alias=True, exclude_unset=True)
    return text.encode() + b"\n"


@asynccontextmanager
async def pipe_stdio(stdin_fd: int | None = None, stdout_fd: int | None = None) -> AsyncIterator[tuple[Any, Any]]:
    """(read_stream, write_stream) for `Server.run`, served by asyncio pipes; the SDK's stdio_server interface.

    With no descriptors given, the process's stdin/stdout are claimed (and restored on exit).
    """
    loop = asyncio.get_running_loop()
    claim = _Claim() if stdin_fd is None and stdout_fd is None else None
    in_fd = claim.wire_in if claim else stdin_fd
    out_fd = claim.wire_out if claim else stdout_fd
    assert in_fd is not None and out_fd is not None
    reader = asyncio.StreamReader(limit=_LINE_LIMIT, loop=loop)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(in_fd, "rb", buffering=0, closefd=False)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(out_fd, "wb", buffering=0, closefd=False)
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)

    read_stream_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_stream_reader = create_context_streams[SessionMessage](0)

    async def stdin_reader() -> None:
        try:
            async with read_stream_writer:
                while True:
                    try:
                        line = await reader.readuntil(b"\n")
                    except asyncio.IncompleteReadError as exc:
                        line = exc.partial  # EOF: a last line without a newline still counts
                        if not line:
                            break
                    try:
                        message = types.jsonrpc_message_adapter.validate_json(
                            line.decode("utf-8", errors="replace"), by_name=False
                        )
                    except Exception as exc:
                        await read_stream_writer.send(exc)
                        continue
                    await read_stream_writer.send(SessionMessage(message))
        except anyio.ClosedResourceError:  # pragma: no cover - the server stopped reading
            await anyio.lowlevel.checkpoint()

    async def stdout_writer() -> None:
        try:
            async with write_stream_reader:
                async for session_message in write_stream_reader:
                    writer.write(encode(session_message.message))
                    await writer.drain()
        except (anyio.ClosedResourceError, ConnectionError):  # pragma: no cover - the client went away
            await anyio.lowlevel.checkpoint()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stdin_reader)
            tg.start_soon(stdout_writer)
            yield read_stream, write_stream
    finally:
        read_transport.close()
        write_transport.close()
        for fd in (in_fd, out_fd):  # the pipe transports made them non-blocking
            with suppress(OSError):
                os.set_blocking(fd, True)
        if claim is not None:
            for fd in (claim.wire_in, claim.wire_out):
                with suppress(OSError):
                    os.close(fd)
            claim.release()


async def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve `server` over stdio: asyncio pipes where supported, else the SDK's transport."""
    if not lean_stdio_supported():
        log.debug("stdin/stdout are not pipes: using the SDK's stdio transport")
        await server.run_stdio_async()
        return
    lowlevel = server._lowlevel_server
    async with pipe_stdio() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def run_stdio(server: MCPServer[Any]) -> None:
    """Blocking entry point of `serve --transport stdio` and `python -m servers.<module>`."""
    anyio.run(serve_stdio, server)
