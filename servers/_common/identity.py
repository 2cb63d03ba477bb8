"""The caller's identity at the backend: who a tool call acts as, set per call by the composite.

Over HTTP with token authentication the composite may map claims of the caller's access token to a
backend principal (a PostgreSQL role to `SET LOCAL ROLE` to, a Kubernetes user and groups to impersonate).
It sets `BackendIdentity` for the duration of one tool call; the module clients read it. Unset (stdio, no
mapping configured): the backend credentials' own principal.

A mapping that is configured but cannot be resolved for a caller (claim missing, role not allowed) is a
denial, never a fallback to the server's own, more powerful, principal.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from servers._common.errors import tool_error


@dataclass(frozen=True)
class Principal:
    """One backend's principal for a call: `name` to act as, or `denied` (why the caller has none)."""

    name: str | None = None
    groups: tuple[str, ...] = ()
    denied: str | None = None


@dataclass(frozen=True)
class BackendIdentity:
    """Per-backend principals of the current call; None where no mapping is configured."""

    postgres: Principal | None = None
    kubernetes: Principal | None = None


_current: contextvars.ContextVar[BackendIdentity | None] = contextvars.ContextVar("bam_backend_identity", default=None)


def current() -> BackendIdentity | None:
    return _current.get()


@contextmanager
def acting_as(identity: BackendIdentity | None) -> Iterator[None]:
    """Run the block (one tool call) as `identity`."""
    token = _current.set(identity)
    try:
        yield
    finally:
        _current.reset(token)


def principal(backend: str) -> Principal | None:
    """The current call's principal at `backend` (`postgres` or `kubernetes`); raises when it is denied."""
    ident = _current.get()
    p: Principal | None = getattr(ident, backend, None) if ident is not None else None
    if p is not None and p.denied:
        raise tool_error(
            f"act as the caller at {backend}",
            p.denied,
            code="insufficient_identity",
            hint="ask for a token that carries the identity claim this server maps to a backend principal",
        )
    return p
