"""`run_abortable`: a cancelled caller frees the worker thread at once by acting on what it is blocked on
(here a real loopback socket that never answers), and gets its cancellation, not the thread's result."""

from __future__ import annotations

import socket
import time

import anyio
import pytest

from servers._common.backend import run_abortable

pytestmark = pytest.mark.anyio


async def test_cancelled_caller_aborts_the_blocked_thread() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    limiter = anyio.CapacityLimiter(1)
    aborted: list[float] = []

    def blocked() -> bytes:
        return client.recv(1)  # nobody ever sends: blocks until the socket is shut down

    def abort() -> None:
        aborted.append(time.monotonic())
        client.shutdown(socket.SHUT_RDWR)

    try:
        t0 = time.monotonic()
        with anyio.move_on_after(0.5) as scope:
            await run_abortable(blocked, abort, limiter=limiter)
        assert scope.cancelled_caught  # the caller got its cancellation, not the b"" the thread returned
        assert aborted and time.monotonic() - t0 < 2.0
        assert limiter.borrowed_tokens == 0  # the thread is free for the next call
        assert await run_abortable(lambda: 42, abort, limiter=limiter) == 42
        assert len(aborted) == 1  # a call that ends by itself is never aborted
    finally:
        for s in (client, peer, server):
            s.close()


async def test_errors_of_the_thread_pass_through_unwrapped() -> None:
    def fails() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):  # not an ExceptionGroup
        await run_abortable(fails, lambda: None, limiter=anyio.CapacityLimiter(1))
