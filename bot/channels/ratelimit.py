"""Outgoing rate limits, one limiter per channel and bot token.

Telegram publishes about 30 messages/s overall, 1/s per private chat and 20/min
per group; python-telegram-bot's own limiter has no per-private-chat limit, so
this one does all three. Zalo publishes no numbers: `AdaptiveRateLimiter` starts
at a configured rate, halves it (and pauses with exponential back-off) on every
429, and creeps back up while no 429 comes.

A send goes through two gates:

1. its chat: one send at a time per chat (a lock), spaced by the private-chat
   interval or kept under the group's per-window count;
2. the bot: a single pump hands out overall slots at `rate` (a token bucket of
   `burst`), lowest `priority` first, so an urgent officer alert waiting next to
   campaign messages goes out before them.

`penalise(retry_after)` pauses the whole bot (or one chat with `chat_id=`). Pure
asyncio; the clock and sleep are injectable so tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Protocol

from handlers.messages import DeliveryError, Outbound, SendResult

__all__ = [
    "TELEGRAM_LIMITS",
    "ZALO_LIMITS",
    "AdaptiveRateLimiter",
    "LimitedSender",
    "Limits",
    "RateLimiter",
    "telegram_is_group",
]

# Float slack: a slot computed as (1 - tokens) / rate may land a hair short.
EPSILON = 1e-9
PRUNE_ABOVE = 2048
PRUNE_EVERY = 512

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """Numbers for one bot. Intervals and windows are in seconds."""

    rate: float  # messages per second over all chats
    burst: int = 2  # overall slots that may be used back to back after a pause
    private_interval: float | None = 1.0  # between two sends to one private chat
    group_max: int | None = 20  # sends per group per `group_window`
    group_window: float = 60.0
    # Stay this share under the per-chat limits: the platform stamps a message when
    # it arrives, not when we let it go, and arrival order jitters.
    margin: float = 0.05

    def scaled(self, factor: float) -> Limits:
        """The same limits with time compressed `factor` times (benchmarks)."""
        return replace(
            self,
            rate=self.rate * factor,
            private_interval=None if self.private_interval is None else self.private_interval / factor,
            group_window=self.group_window / factor,
        )


TELEGRAM_LIMITS = Limits(rate=30.0)
# No published numbers: a cautious start the adaptive limiter adjusts.
ZALO_LIMITS = Limits(rate=10.0, private_interval=0.5, group_max=None)


def telegram_is_group(chat_id: str) -> bool:
    """Telegram groups and channels have negative ids (or @usernames)."""
    return chat_id.startswith("-") or chat_id.startswith("@")


class _Chat:
    __slots__ = ("lock", "ready_at", "sent", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.ready_at = 0.0  # private chats: earliest next send; any chat: penalty
        self.sent: deque[float] = deque()  # groups: send times inside the window
        self.users = 0  # waiters holding or queued on the lock (for clean-up)


class RateLimiter:
    def __init__(
        self,
        limits: Limits,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        name: str = "",
    ) -> None:
        self.limits = limits
        self.name = name
        self.rate = limits.rate
        self._clock = clock
        self._sleep = sleep
        self._chats: dict[str, _Chat] = {}
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._tokens = float(limits.burst)
        self._stamp = clock()
        self._paused_until = 0.0
        self._pump: asyncio.Task[None] | None = None
        self.granted = 0
        self.penalties = 0

    # -- public API ---------------------------------------------------------------
    def acquire(self, chat_id: str, *, is_group: bool = False, priority: int = 5) -> _Acquire:
        """`async with limiter.acquire(chat, is_group=...)` or `await limiter.acquire(...)`:
        returns once a message to `chat_id` may be sent now."""
        return _Acquire(self, chat_id, is_group, priority)

    async def wait(self, chat_id: str, *, is_group: bool = False, priority: int = 5) -> None:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat()
        chat.users += 1
        try:
            async with chat.lock:
                await self._chat_gate(chat, is_group)
                await self._overall_gate(priority)
                now = self._clock()
                if is_group:
                    chat.sent.append(now)
                elif self.limits.private_interval is not None:
                    interval = self.limits.private_interval * (1 + self.limits.margin)
                    chat.ready_at = max(chat.ready_at, now + interval)
                self.granted += 1
        finally:
            chat.users -= 1
            if len(self._chats) > PRUNE_ABOVE and self.granted % PRUNE_EVERY == 0:
                self._prune()

    def _prune(self) -> None:
        """Forget idle chats whose limits no longer bind (memory stays flat over a
        campaign to tens of thousands of chats)."""
        now = self._clock()
        window = self.limits.group_window * (1 + self.limits.margin)
        idle = [
            key for key, chat in self._chats.items()
            if chat.users == 0 and chat.ready_at <= now
            and (not chat.sent or chat.sent[-1] <= now - window)
        ]
        for key in idle:
            del self._chats[key]

    def penalise(self, retry_after: float | None, *, chat_id: str | None = None) -> None:
        """The platform said "too many requests": pause the bot (or one chat)."""
        self.penalties += 1
        until = self._clock() + max(0.0, retry_after or 0.0)
        if chat_id is not None:
            chat = self._chats.setdefault(chat_id, _Chat())
            chat.ready_at = max(chat.ready_at, until)
            return
        self._paused_until = max(self._paused_until, until)
        self._tokens = 0.0  # no burst straight after a pause

    @property
    def paused_until(self) -> float:
        return self._paused_until

    # -- the per-chat gate ------------------------------------------------------------
    async def _chat_gate(self, chat: _Chat, is_group: bool) -> None:
        limits = self.limits
        while True:
            now = self._clock()
            ready = chat.ready_at
            if is_group and limits.group_max is not None:
                window = limits.group_window * (1 + limits.margin)
                while chat.sent and chat.sent[0] <= now - window:
                    chat.sent.popleft()
                if len(chat.sent) >= limits.group_max:
                    ready = max(ready, chat.sent[0] + window)
            if ready <= now:
                return
            await self._sleep(ready - now)

    # -- the overall gate: a priority queue served by one pump ---------------------------
    async def _overall_gate(self, priority: int) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._queue, (priority, next(self._seq), fut))
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._run_pump(), name=f"ratelimit-{self.name}")
        await fut

    def _refill(self, now: float) -> None:
        # Slots accrue only from the end of a pause: no burst right after a 429.
        start = max(self._stamp, self._paused_until)
        if now > start:
            self._tokens = min(float(self.limits.burst), self._tokens + (now - start) * self.rate)
        self._stamp = max(now, start)

    async def _run_pump(self) -> None:
        while self._queue:
            now = self._clock()
            if now < self._paused_until:
                await self._sleep(self._paused_until - now)
                continue
            self._refill(now)
            if self._tokens < 1.0 - EPSILON:
                await self._sleep((1.0 - self._tokens) / self.rate)
                continue
            _, _, fut = heapq.heappop(self._queue)
            if fut.done():  # the waiter was cancelled
                continue
            self._tokens = max(0.0, self._tokens - 1.0)
            self._on_grant(now)
            fut.set_result(None)
            if self._tokens < 1.0 - EPSILON or not self._queue:
                # Let the granted sender run before the next slot is computed.
                await asyncio.sleep(0)

    def _on_grant(self, now: float) -> None:
        """Hook for subclasses (the adaptive limiter recovers here)."""


class AdaptiveRateLimiter(RateLimiter):
    """AIMD for platforms without published limits (Zalo): halve the rate and back
    off exponentially on each 429, add `recover_step` of the rate back after every
    `recover_after` seconds without one, never above `max_rate`."""

    def __init__(
        self,
        limits: Limits,
        *,
        min_rate: float = 0.5,
        max_rate: float | None = None,
        recover_after: float = 30.0,
        recover_step: float = 0.1,
        backoff_base: float = 1.0,
        backoff_cap: float = 120.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        name: str = "",
    ) -> None:
        super().__init__(limits, clock=clock, sleep=sleep, name=name)
        self.min_rate = min_rate
        self.max_rate = max_rate if max_rate is not None else limits.rate
        self.recover_after = recover_after
        self.recover_step = recover_step
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.strikes = 0
        self._calm_since = clock()

    def penalise(self, retry_after: float | None, *, chat_id: str | None = None) -> None:
        now = self._clock()
        self.strikes += 1
        self.rate = max(self.min_rate, self.rate / 2)
        backoff = min(self.backoff_cap, self.backoff_base * 2 ** (self.strikes - 1))
        super().penalise(max(retry_after or 0.0, backoff), chat_id=chat_id)
        self._calm_since = max(now, self._paused_until)

    def _on_grant(self, now: float) -> None:
        if now - self._calm_since < self.recover_after:
            return
        self._calm_since = now
        self.strikes = 0
        if self.rate < self.max_rate:
            self.rate = min(self.max_rate, self.rate * (1 + self.recover_step))


class _Acquire:
    """Both an awaitable and an async context manager around `RateLimiter.wait`."""

    __slots__ = ("_limiter", "_chat_id", "_is_group", "_priority")

    def __init__(self, limiter: RateLimiter, chat_id: str, is_group: bool, priority: int) -> None:
        self._limiter = limiter
        self._chat_id = chat_id
        self._is_group = is_group
        self._priority = priority

    def __await__(self) -> Generator[object, None, None]:
        return self._limiter.wait(
            self._chat_id, is_group=self._is_group, priority=self._priority
        ).__await__()

    async def __aenter__(self) -> None:
        await self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, DeliveryError) and _is_rate_limited(exc):
            self._limiter.penalise(exc.retry_after)


def _is_rate_limited(err: DeliveryError) -> bool:
    return err.reason == "rate limited" or err.retry_after is not None


class _Sender(Protocol):
    async def send(self, out: Outbound) -> SendResult: ...


# Outbox priorities (0 urgent alerts, 3 replies, 9 campaigns) travel as the kind.
KIND_PRIORITY = {"campaign": 9, "reply": 3}


class LimitedSender:
    """Wraps a channel's `send` with a limiter; a rate-limited answer pauses the bot
    and is re-raised so the outbox retries the message after `retry_after`."""

    def __init__(
        self,
        sender: _Sender,
        limiter: RateLimiter,
        *,
        is_group: Callable[[str], bool] = telegram_is_group,
        priority_of: Callable[[Outbound], int] | None = None,
    ) -> None:
        self.sender = sender
        self.limiter = limiter
        self.is_group = is_group
        self.priority_of = priority_of or (lambda out: KIND_PRIORITY.get(out.kind, 0))

    async def send(self, out: Outbound) -> SendResult:
        async with self.limiter.acquire(
            out.chat_id, is_group=self.is_group(out.chat_id), priority=self.priority_of(out)
        ):
            return await self.sender.send(out)
