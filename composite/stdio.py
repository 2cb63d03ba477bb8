"""A lean stdio transport: asyncio pipes on stdin/stdout instead of a worker thread per read, write and flush.

The SDK's `mcp.server.stdio.stdio_server` wraps the standard streams in `anyio.wrap_file`, so every line read
and every write and flush hops to a worker thread (~0.4 ms and most of the CPU of a no-op call). Here the
same file descriptors are served by the event loop (`connect_read_pipe` / `connect_write_pipe`) with the same
contract as the SDK's transport:

- newline-delimited JSON-RPC, UTF-8 (invalid bytes replaced), one message per line;
- a line that is not a valid message is answered here with a JSON-RPC error (-32700 parse error, -32600
  invalid request; the SDK's session would drop it silently, leaving the client waiting), and one longer
  than `MAX_MESSAGE_BYTES` (4 MiB, the SDK's HTTP body limit) is discarded unread with -32600: bad input
  never costs more memory than one message, and the server keeps serving;
- responses written with orjson (`encode`): the SDK's transport serialises each result through pydantic once
  more;
- no tasks or memory streams of its own between the pipes and the server: the server's receive parses the
  next line (`LineReader`), its send writes the line (`LineWriter`), one hop less each way per message;
- EOF on stdin closes the read stream, so the server finishes its work and exits; SIGTERM/SIGINT stop the
  reading, let the requests read be answered (`Intake`, `composite/shutdown.py`), then end it the same way;
- while serving, fd 0 reads /dev/null and fd 1 points at stderr, so stray output of handlers and child
  processes never corrupts the wire; both are restored on exit.

It is used on POSIX when stdin and stdout are pipes or sockets; otherwise (Windows, a terminal, a regular
file) the SDK's transport is used unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Self

import anyio
import mcp_types as types
import orjson
import pydantic_core
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE
from mcp.shared.message import SessionMessage

from composite.shutdown import InFlightCalls, drain
from servers._common.sdk import lowlevel

log = logging.getLogger("backend_architect_mcp.stdio")

MAX_MESSAGE_BYTES = DEFAULT_MAX_REQUEST_BODY_SIZE
"""Bytes one message line may take (4 MiB, as the SDK's HTTP transports): a longer one is discarded."""


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


TOO_LARGE = b"\0too large"
"""`read_line`'s answer for a line longer than MAX_MESSAGE_BYTES (never a valid line: NUL is not JSON)."""


async def read_line(reader: asyncio.StreamReader) -> bytes | None:
    """The next line (a last one without newline counts); TOO_LARGE for an oversized one; None at EOF."""
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # EOF
    except asyncio.LimitOverrunError as exc:
        await _discard_line(reader, exc.consumed)
        return TOO_LARGE


async def _discard_line(reader: asyncio.StreamReader, scanned: int) -> None:
    """Drop the rest of an oversized line, up to and including its newline (or EOF), a buffer at a time."""
    while True:
        if scanned:
            await reader.readexactly(scanned)
        try:
            await reader.readuntil(b"\n")
            return
        except asyncio.IncompleteReadError:
            return
        except asyncio.LimitOverrunError as exc:
            scanned = exc.consumed


def _error(code: int, message: str, request_id: Any = None) -> types.JSONRPCError:
    return types.JSONRPCError(jsonrpc="2.0", id=request_id, error=types.ErrorData(code=code, message=message))


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Rejected:
    """A line that is not a valid message, and the error that answers it."""

    error: types.JSONRPCError


def parse_line(line: bytes) -> types.JSONRPCMessage | Rejected:
    """One line as a JSON-RPC message (a client's error response included), or why it is rejected
    (JSON-RPC 2.0 section 5.1)."""
    if line == TOO_LARGE:
        return Rejected(
            _error(types.INVALID_REQUEST, f"Invalid request: message larger than {MAX_MESSAGE_BYTES} bytes")
        )
    return parse_message(line.decode("utf-8", errors="replace"))


def parse_message(text: str) -> types.JSONRPCMessage | Rejected:
    """`parse_line` of a decoded line."""
    try:
        raw = pydantic_core.from_json(text)
    except ValueError as exc:
        return Rejected(_error(types.PARSE_ERROR, f"Parse error: {str(exc)[:200]}"))
    if isinstance(raw, dict) and "method" in raw and "id" in raw and not _valid_id(raw["id"]):
        # A request with a bad id: the SDK would take it for a notification (extra keys are allowed).
        return Rejected(_error(types.INVALID_REQUEST, "Invalid request: id must be a string or an integer"))
    try:
        message: types.JSONRPCMessage = types.jsonrpc_message_adapter.validate_python(raw, by_name=False)
    except pydantic_core.ValidationError as exc:
        rid = raw.get("id") if isinstance(raw, dict) else None
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "message"
        reason = f"Invalid request: {where}: {first['msg']}"[:300]
        return Rejected(_error(types.INVALID_REQUEST, reason, rid if _valid_id(rid) else None))
    return message


def invalid_body(body: bytes) -> types.JSONRPCError | None:
    """Why the SDK's HTTP transports would refuse the message `body` (their check: the same adapter, bytes
    in, so invalid UTF-8 too), as the error this transport answers such a line with; None if they take it."""
    try:
        types.jsonrpc_message_adapter.validate_json(body, by_name=False)
    except pydantic_core.ValidationError:
        parsed = parse_message(body.decode("utf-8", errors="replace"))
        if isinstance(parsed, Rejected):
            return parsed.error
        return _error(types.PARSE_ERROR, "Parse error: the body is not valid UTF-8")
    return None


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


class Intake:
    """The requests read and not yet answered, and the stop of a graceful shutdown: `stop_reading()` leaves
    stdin unread while the server runs on; `release()` then ends the input as EOF does."""

    def __init__(self) -> None:
        self.end_input: Callable[[], None] = lambda: None
        """Stops the pipe's reading and wakes a pending read as EOF does (`pipe_stdio` sets it)."""
        self.stopping = False
        self.released = anyio.Event()
        self.pending: set[types.RequestId] = set()

    def taken(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCRequest):
            self.pending.add(message.id)
        elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
            self.pending.discard((message.params or {}).get("requestId"))  # the SDK answers nothing then

    def answered(self, message: types.JSONRPCMessage) -> None:
        if isinstance(message, types.JSONRPCResponse | types.JSONRPCError) and message.id is not None:
            self.pending.discard(message.id)

    def unanswered(self) -> int:
        return len(self.pending)

    def stop_reading(self) -> None:
        """Read nothing more: a line read after this is dropped, and a pending read wakes as at EOF."""
        self.stopping = True
        self.end_input()

    async def ended(self) -> None:
        """The input is over: at once at EOF, after `release()` when a graceful shutdown stopped the reading."""
        if self.stopping:
            await self.released.wait()

    def release(self) -> None:
        self.released.set()


class _PipeEnd:
    """What the SDK does with a stream besides sending or receiving: use it as a context and close it."""

    _closed = False

    async def aclose(self) -> None:
        self._closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class LineWriter(_PipeEnd):
    """The write stream: `send` writes the message's line to the pipe itself (no memory stream, no task).

    Concurrent senders are fine: each line goes to the transport's buffer in one `write`, and `drain` waits
    only while the client is not reading. A gone client is `BrokenResourceError`, as on a memory stream.
    """

    def __init__(self, writer: asyncio.StreamWriter, intake: Intake) -> None:
        self._writer = writer
        self._intake = intake

    async def send(self, item: SessionMessage, /) -> None:
        if self._closed:
            raise anyio.ClosedResourceError
        try:
            self._writer.write(encode(item.message))
            await self._writer.drain()
        except ConnectionError as exc:
            self._closed = True
            self._intake.pending.clear()  # nothing more can be answered: a shutdown need not wait for it
            raise anyio.BrokenResourceError from exc
        self._intake.answered(item.message)


class LineReader(_PipeEnd):
    """The read stream: `receive` reads and parses the next line itself (no reader task, no memory stream).

    A line that is not a message is answered through `replies` and skipped; EOF ends the stream (after the
    intake's release when a graceful shutdown stopped the reading).
    """

    def __init__(self, reader: asyncio.StreamReader, replies: LineWriter, intake: Intake) -> None:
        self._reader = reader
        self._replies = replies
        self._intake = intake

    async def receive(self) -> SessionMessage:
        while not self._closed:
            line = await read_line(self._reader)
            if line is None or self._intake.stopping:
                await self._intake.ended()
                raise anyio.EndOfStream
            if not line.strip():
                continue  # blank lines (and what is left of a discarded one) are not messages
            parsed = parse_line(line)
            if not isinstance(parsed, Rejected):
                self._intake.taken(parsed)
                return SessionMessage(parsed)
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await self._replies.send(SessionMessage(parsed.error))
        raise anyio.ClosedResourceError

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


@asynccontextmanager
async def pipe_stdio(
    stdin_fd: int | None = None, stdout_fd: int | None = None, intake: Intake | None = None
) -> AsyncIterator[tuple[LineReader, LineWriter]]:
    """(read_stream, write_stream) for `Server.run`, served by asyncio pipes; the SDK's stdio_server interface.

    With no descriptors given, the process's stdin/stdout are claimed (and restored on exit). `intake`
    follows the requests and stops the reading for a graceful shutdown.
    """
    loop = asyncio.get_running_loop()
    claim = _Claim() if stdin_fd is None and stdout_fd is None else None
    in_fd = claim.wire_in if claim else stdin_fd
    out_fd = claim.wire_out if claim else stdout_fd
    assert in_fd is not None and out_fd is not None
    reader = asyncio.StreamReader(limit=MAX_MESSAGE_BYTES, loop=loop)
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(in_fd, "rb", buffering=0, closefd=False)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        lambda: asyncio.streams.FlowControlMixin(loop=loop), os.fdopen(out_fd, "wb", buffering=0, closefd=False)
    )
    intake = intake or Intake()

    def end_input() -> None:
        read_transport.pause_reading()  # nothing more is fed after the EOF
        if not reader.at_eof():
            reader.feed_eof()

    intake.end_input = end_input
    writer = LineWriter(asyncio.StreamWriter(write_transport, write_protocol, None, loop), intake)
    try:
        yield LineReader(reader, writer, intake), writer
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


async def serve_stdio(server: MCPServer[Any], inflight: InFlightCalls | None = None, grace_s: float = 20) -> None:
    """Serve `server` over stdio: asyncio pipes where supported, else the SDK's transport.

    On the pipes, SIGTERM/SIGINT shut down gracefully (`composite/shutdown.py`): `inflight` is the server's
    middleware that cancels the tool calls still running after `grace_s`."""
    if not lean_stdio_supported():
        log.debug("stdin/stdout are not pipes: using the SDK's stdio transport")
        await server.run_stdio_async()
        return
    low = lowlevel(server)
    intake = Intake()
    async with pipe_stdio(intake=intake) as (read_stream, write_stream), anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, intake, inflight or InFlightCalls(), grace_s)
        await low.run(read_stream, write_stream, low.create_initialization_options())
        tg.cancel_scope.cancel()


async def _stop_on_signal(intake: Intake, inflight: InFlightCalls, grace_s: float) -> None:
    """On SIGTERM/SIGINT: stop reading, drain (a second signal ends the grace), then end the input."""
    forced = anyio.Event()
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for sig in signals:
            log.info("%s received: stopping", signal.Signals(sig).name)
            break
        intake.stop_reading()
        async with anyio.create_task_group() as tg:

            async def second_signal() -> None:
                async for _ in signals:
                    forced.set()

            tg.start_soon(second_signal)
            await drain(inflight, grace_s, intake.unanswered, forced.is_set)
            tg.cancel_scope.cancel()
    intake.release()


def run_stdio(server: MCPServer[Any], inflight: InFlightCalls | None = None, grace_s: float = 20) -> None:
    """Blocking entry point of `serve --transport stdio` and `python -m servers.<module>`."""
    anyio.run(serve_stdio, server, inflight, grace_s)
