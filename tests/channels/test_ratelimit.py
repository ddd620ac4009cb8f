"""The outgoing rate limiter (bot.channels.ratelimit), mostly in virtual time."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

import pytest

from bot.channels.ratelimit import (
    TELEGRAM_LIMITS,
    AdaptiveRateLimiter,
    LimitedSender,
    Limits,
    RateLimiter,
    telegram_is_group,
)
from handlers.messages import DeliveryError, Outbound, SendResult
from tests.fakes.telegram_api import _Limits as FakeLimits


class VirtualTime:
    """A clock and a sleep that jump straight to the next sleeper's wake-up time
    once every task is blocked."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, delay), next(self._seq), fut))
        await fut

    async def run(self, *coros):
        tasks = [asyncio.ensure_future(c) for c in coros]
        while not all(t.done() for t in tasks):
            for _ in range(30):
                await asyncio.sleep(0)
            if all(t.done() for t in tasks):
                break
            if not self._sleepers:
                raise AssertionError("deadlock: tasks blocked with nobody sleeping")
            at = self._sleepers[0][0]
            self.now = max(self.now, at)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, fut = heapq.heappop(self._sleepers)
                if not fut.done():
                    fut.set_result(None)
        return [t.result() for t in tasks]


def make(limits: Limits = TELEGRAM_LIMITS, cls=RateLimiter, **kw):
    vt = VirtualTime()
    return vt, cls(limits, clock=vt.clock, sleep=vt.sleep, **kw)


async def _stamp(vt: VirtualTime, limiter: RateLimiter, chat: str, **kw) -> float:
    await limiter.acquire(chat, **kw)
    return vt.now


def _max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_overall_rate_is_kept_and_used_fully():
    vt, limiter = make()
    times = await vt.run(*(_stamp(vt, limiter, str(i)) for i in range(300)))
    span = max(times) - min(times)
    # 300 sends at 30/s with a burst of 2: 298 paced slots.
    assert span == pytest.approx(298 / 30, abs=0.05)
    assert _max_in_window(times, 1.0) <= 30 + 2  # the rate plus the burst, never more
    assert limiter.granted == 300


async def test_private_chat_gets_one_message_per_second():
    vt, limiter = make()
    times = await vt.run(*(_stamp(vt, limiter, "42") for _ in range(5)))
    gaps = [b - a for a, b in itertools.pairwise(sorted(times))]
    assert all(g >= 1.0 for g in gaps), gaps
    assert max(gaps) < 1.2  # no more caution than the margin


async def test_other_chats_are_not_held_up_by_a_busy_chat():
    vt, limiter = make()
    start = vt.now
    busy = [_stamp(vt, limiter, "7") for _ in range(4)]
    others = [_stamp(vt, limiter, f"u{i}") for i in range(10)]
    times = await vt.run(*busy, *others)
    assert max(times[4:]) - start < 1.0  # the ten others all went within the first second
    assert max(times[:4]) - start >= 3.0


async def test_group_is_kept_under_twenty_per_minute():
    vt, limiter = make()
    times = await vt.run(*(_stamp(vt, limiter, "-100", is_group=True) for _ in range(45)))
    assert _max_in_window(times, 60.0) <= 20
    first = sorted(times)
    assert first[20] - first[0] >= 60.0
    assert first[40] - first[0] < 2 * 60 * 1.06 + 1


async def test_urgent_messages_jump_the_queue():
    vt, limiter = make(Limits(rate=1.0, burst=1, private_interval=None))
    order: list[str] = []

    async def send(chat: str, priority: int, delay: float = 0.0) -> None:
        if delay:
            await vt.sleep(delay)
        await limiter.acquire(chat, priority=priority)
        order.append(chat)

    campaign = [send(f"c{i}", 9) for i in range(10)]
    await vt.run(*campaign, send("alert", 0, delay=2.5))
    # Granted at t=0,1,2 before the alert arrived at 2.5; the alert takes the next slot.
    assert order.index("alert") == 3


async def test_retry_after_pauses_everything_without_a_burst_after():
    vt, limiter = make()
    await vt.run(_stamp(vt, limiter, "1"))
    limiter.penalise(5)
    paused_at = vt.now
    times = await vt.run(*(_stamp(vt, limiter, str(i)) for i in range(2, 12)))
    assert min(times) >= paused_at + 5
    gaps = [b - a for a, b in itertools.pairwise(sorted(times))]
    assert all(g >= 1 / 30 - 1e-9 for g in gaps)


async def test_retry_after_for_one_chat_pauses_only_that_chat():
    vt, limiter = make()
    limiter.penalise(10, chat_id="9")
    start = vt.now
    t_other, t_nine = await vt.run(_stamp(vt, limiter, "8"), _stamp(vt, limiter, "9"))
    assert t_other - start < 0.1
    assert t_nine - start >= 10


async def test_acquire_as_context_penalises_on_rate_limited():
    vt, limiter = make()

    async def attempt() -> None:
        async with limiter.acquire("5"):
            raise DeliveryError("rate limited", retry_after=3)

    with pytest.raises(DeliveryError):
        await vt.run(attempt())
    assert limiter.penalties == 1
    assert limiter.paused_until == pytest.approx(vt.now + 3)


async def test_a_cancelled_waiter_does_not_block_the_others():
    vt, limiter = make(Limits(rate=1.0, burst=1, private_interval=None))
    limiter.penalise(2)

    async def cancel_soon() -> None:
        task = asyncio.ensure_future(limiter.acquire("gone"))
        await vt.sleep(0.5)
        task.cancel()

    times = await vt.run(cancel_soon(), _stamp(vt, limiter, "a"), _stamp(vt, limiter, "b"))
    assert sorted(times[1:])[1] - sorted(times[1:])[0] == pytest.approx(1.0)
    assert limiter.granted == 2


async def test_adaptive_halves_backs_off_and_recovers_slowly():
    vt, limiter = make(
        Limits(rate=8.0, private_interval=None), cls=AdaptiveRateLimiter,
        min_rate=1.0, recover_after=30.0, recover_step=0.25,
    )
    limiter.penalise(None)
    assert limiter.rate == 4.0
    assert limiter.paused_until == pytest.approx(vt.now + 1)  # back-off 1 s
    limiter.penalise(None)
    assert limiter.rate == 2.0
    assert limiter.paused_until == pytest.approx(vt.now + 2)  # then 2 s
    limiter.penalise(7)
    assert limiter.rate == 1.0 and limiter.paused_until == pytest.approx(vt.now + 7)
    limiter.penalise(None)
    assert limiter.rate == 1.0  # the floor
    assert limiter.paused_until == pytest.approx(vt.now + 8)  # 2**3 s > anything earlier
    # Calm for a while: one step up per `recover_after` seconds, never above the start.
    rates = []
    for _ in range(12):
        await vt.run(vt.sleep(40))
        await vt.run(_stamp(vt, limiter, "z"))
        rates.append(limiter.rate)
    assert rates[0] == pytest.approx(1.25)
    assert all(b >= a for a, b in itertools.pairwise(rates))
    assert max(rates) == 8.0
    assert limiter.strikes == 0


async def test_adaptive_rate_paces_sends():
    vt, limiter = make(Limits(rate=4.0, burst=1, private_interval=None), cls=AdaptiveRateLimiter)
    limiter.penalise(None)  # now 2/s after a 1 s pause
    start = vt.now
    times = await vt.run(*(_stamp(vt, limiter, str(i)) for i in range(11)))
    # The pause, then eleven slots at 2/s (no burst straight after a pause).
    assert max(times) - start == pytest.approx(1 + 11 / 2, abs=0.05)


def test_scaled_limits_compress_time():
    fast = TELEGRAM_LIMITS.scaled(10)
    assert fast.rate == 300 and fast.private_interval == pytest.approx(0.1)
    assert fast.group_window == pytest.approx(6.0) and fast.group_max == 20


def test_telegram_group_ids():
    assert telegram_is_group("-1001234") and telegram_is_group("@channel")
    assert not telegram_is_group("123456")


class _Flaky:
    def __init__(self) -> None:
        self.sent: list[Outbound] = []
        self.fail_next = False

    async def send(self, out: Outbound) -> SendResult:
        if self.fail_next:
            self.fail_next = False
            raise DeliveryError("rate limited", retry_after=2)
        self.sent.append(out)
        return SendResult("1")


async def test_limited_sender_passes_through_and_pauses_on_429():
    vt, limiter = make()
    inner = _Flaky()
    sender = LimitedSender(inner, limiter)
    out = Outbound(id=1, channel="telegram", chat_id="11", text="x", kind="campaign")
    assert sender.priority_of(out) == 9
    await vt.run(sender.send(out))
    inner.fail_next = True
    with pytest.raises(DeliveryError):
        await vt.run(sender.send(Outbound(id=2, channel="telegram", chat_id="12", text="y")))
    assert limiter.penalties == 1
    before = vt.now
    t = await vt.run(_stamp(vt, limiter, "13"))
    assert t[0] >= before + 2
    assert [o.id for o in inner.sent] == [1]


async def test_real_time_against_the_fake_apis_limits():
    """Real clock, compressed ×10: every grant passes the fake Telegram API's checker."""
    factor = 10
    limiter = RateLimiter(TELEGRAM_LIMITS.scaled(factor))
    fake = FakeLimits(30 * factor, 1.0 * factor, 20, 2)
    refused = 0

    async def one(chat: str) -> None:
        nonlocal refused
        await limiter.acquire(chat)
        refused += fake.check(int(chat), time.monotonic()) > 0

    chats = [str(100 + i % 120) for i in range(360)]  # three messages to each of 120 chats
    start = time.monotonic()
    await asyncio.gather(*(one(c) for c in chats))
    elapsed = time.monotonic() - start
    assert refused == 0
    assert elapsed >= 358 / 300 * 0.98
    assert elapsed < 3.0
