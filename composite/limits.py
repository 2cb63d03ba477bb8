"""Per-subject call limits: `--rate-limit N` calls per minute and `--max-concurrent-calls N` in flight.

Counters live in this process, or in Redis (`--rate-limit-redis URL`) so that every replica enforces one
limit: a sliding one-minute window per subject (a sorted set of call times) and a set of leases for the
calls in flight, each updated by one atomic Lua script that reads the Redis server's own clock. When
Redis cannot be reached a call is refused (fail closed), never let through uncounted.

Over HTTP the request gate (`composite.gate`) decides before anything runs and answers 429 with
`Retry-After`; over stdio, or when a concurrent call slips past the gate's check, the `CallLimits`
server middleware refuses with a tool error. Nothing of a refused call is executed.
"""

from __future__ import annotations

import collections
import contextvars
import hashlib
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from mcp_types import CallToolResult, TextContent

from composite.identity import caller_identity

log = logging.getLogger("backend_architect_mcp.limits")

WINDOW_S = 60.0
LEASE_S = 900.0
"""A call slot held in Redis expires after this long, so a crashed replica cannot hold slots forever."""
REDIS_TIMEOUT_S = 2.0

ADMITTED: contextvars.ContextVar[bool] = contextvars.ContextVar("bam_rate_admitted", default=False)
"""Set by the HTTP gate for a request whose tools/call it already counted against the rate limit."""


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    retry_after: int
    status: int

    def result(self) -> CallToolResult:
        text = f"[{self.code}] {self.message}; retry in {self.retry_after} s."
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


class Counters(Protocol):
    async def take(self, subject: str, limit: int) -> float | None:
        """Count one call; None when within `limit` per minute, else seconds until one is allowed."""

    async def in_flight(self, subject: str) -> int: ...

    async def acquire(self, subject: str, limit: int) -> str | None:
        """A slot id for one call in flight, or None when `limit` are already running."""

    async def release(self, subject: str, slot: str) -> None: ...


class MemoryCounters:
    """Counters of this process only."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self.calls: dict[str, collections.deque[float]] = {}
        self.running: collections.Counter[str] = collections.Counter()

    async def take(self, subject: str, limit: int) -> float | None:
        now = time.monotonic()
        q = self.calls.setdefault(subject, collections.deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        if len(q) >= limit:
            return q[0] + self.window_s - now
        q.append(now)
        if len(self.calls) > 10_000:  # forget subjects whose window is empty
            self.calls = {k: v for k, v in self.calls.items() if v and v[-1] > now - self.window_s}
        return None

    async def in_flight(self, subject: str) -> int:
        return self.running[subject]

    async def acquire(self, subject: str, limit: int) -> str | None:
        if self.running[subject] >= limit:
            return None
        self.running[subject] += 1
        return subject

    async def release(self, subject: str, slot: str) -> None:
        self.running[subject] -= 1
        if self.running[subject] <= 0:
            del self.running[subject]


_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
RATE_SCRIPT = (
    _NOW_MS
    + """
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""
)
ACQUIRE_SCRIPT = (
    _NOW_MS
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
)
COUNT_SCRIPT = _NOW_MS + "return redis.call('ZCOUNT', KEYS[1], now, '+inf')"


class RedisCounters:
    """Counters shared by every replica through one Redis (standalone or a cluster node's URL)."""

    def __init__(self, url: str, prefix: str, window_s: float = WINDOW_S, lease_s: float = LEASE_S) -> None:
        import redis.asyncio as aioredis

        self.window_ms, self.lease_ms = int(window_s * 1000), int(lease_s * 1000)
        self.client: Any = aioredis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S, decode_responses=True
        )
        self.prefix = prefix
        self._rate = self.client.register_script(RATE_SCRIPT)
        self._acquire = self.client.register_script(ACQUIRE_SCRIPT)
        self._count = self.client.register_script(COUNT_SCRIPT)

    def key(self, kind: str, subject: str) -> str:
        return f"{self.prefix}{kind}:{hashlib.sha256(subject.encode()).hexdigest()[:32]}"

    async def take(self, subject: str, limit: int) -> float | None:
        ms = int(await self._rate(keys=[self.key("rate", subject)], args=[self.window_ms, limit, uuid.uuid4().hex]))
        return None if ms < 0 else ms / 1000

    async def in_flight(self, subject: str) -> int:
        return int(await self._count(keys=[self.key("calls", subject)]))

    async def acquire(self, subject: str, limit: int) -> str | None:
        slot = uuid.uuid4().hex
        ok = await self._acquire(keys=[self.key("calls", subject)], args=[limit, self.lease_ms, slot])
        return slot if int(ok) else None

    async def release(self, subject: str, slot: str) -> None:
        await self.client.zrem(self.key("calls", subject), slot)


def _retry(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class CallLimits:
    """The limits of one server: checks for the HTTP gate, and the server middleware for every transport."""

    def __init__(self, counters: Counters, rate: int, concurrent: int) -> None:
        self.counters, self.rate, self.concurrent = counters, rate, concurrent

    async def _guard(self, what: Any) -> Any:
        try:
            with anyio.fail_after(REDIS_TIMEOUT_S * 2):
                return await what
        except Exception as exc:  # a limiter that cannot count refuses (fail closed)
            log.error("call limiter unavailable: %s", type(exc).__name__)
            return Refusal("limiter_unavailable", "the call limiter's store cannot be reached", 5, 503)

    async def check_rate(self, subject: str, calls: int = 1) -> Refusal | None:
        for _ in range(calls if self.rate else 0):
            wait = await self._guard(self.counters.take(subject, self.rate))
            if isinstance(wait, Refusal):
                return wait
            if wait is not None:
                msg = f"rate limit of {self.rate} tool calls per minute reached for subject {subject[:64]!r}"
                return Refusal("rate_limited", msg, _retry(wait), 429)
        return None

    async def check_concurrency(self, subject: str) -> Refusal | None:
        """Whether another call may start now (the gate's early answer; `__call__` decides for certain)."""
        if not self.concurrent:
            return None
        running = await self._guard(self.counters.in_flight(subject))
        if isinstance(running, Refusal):
            return running
        return self._too_many(subject) if running >= self.concurrent else None

    def _too_many(self, subject: str) -> Refusal:
        msg = f"{self.concurrent} tool calls are already running for subject {subject[:64]!r}"
        return Refusal("too_many_concurrent_calls", msg, 1, 429)

    async def admit(self, subject: str, calls: int) -> Refusal | None:
        """The HTTP gate's decision for a request carrying `calls` tools/call messages."""
        return await self.check_concurrency(subject) or await self.check_rate(subject, calls)

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if getattr(ctx, "method", None) != "tools/call":
            return await call_next(ctx)
        subject, _ = caller_identity()
        if not ADMITTED.get() and (refusal := await self.check_rate(subject)):
            return refusal.result()
        if not self.concurrent:
            return await call_next(ctx)
        slot = await self._guard(self.counters.acquire(subject, self.concurrent))
        if isinstance(slot, Refusal):
            return slot.result()
        if slot is None:
            return self._too_many(subject).result()
        try:
            return await call_next(ctx)
        finally:
            with anyio.CancelScope(shield=True):
                await self._guard(self.counters.release(subject, slot))


def call_limits(rate: int, concurrent: int, redis_url: str | None, prefix: str) -> CallLimits | None:
    """The configured limits, or None when neither is set."""
    if not rate and not concurrent:
        if redis_url:
            raise ValueError("--rate-limit-redis needs --rate-limit or --max-concurrent-calls")
        return None
    counters: Counters = RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
    return CallLimits(counters, rate, concurrent)
