"""The outbox dispatcher: claims due messages with a lease, hands them to the
channel's sender, and records the outcome right after each send (sends finishing
together are recorded together), so a crash loses nothing and re-sends at most the
messages that were in flight."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from handlers.clock import Clock
from handlers.messages import Button, DeliveryError, Outbound, SendResult
from storage.repositories import core as core_repo
from storage.repositories import outbox as outbox_repo
from storage.uow import UnitOfWork

__all__ = ["Dispatcher", "OutboxJob", "Sender"]

log = logging.getLogger("bvte.delivery")


class Sender(Protocol):
    async def send(self, out: Outbound) -> SendResult: ...


def backoff(attempts: int, *, base: float = 2.0, cap: float = 600.0) -> float:
    """Exponential back-off with a little jitter, in seconds."""
    delay = min(cap, base ** min(attempts, 12))
    return delay * (0.8 + 0.4 * random.random())


def to_outbound(row: Any, decrypt: Callable[[str], str] | None = None) -> Outbound:
    """An outbox row (ORM object or claimed Row) as the neutral outbound message."""
    text = row.text
    if decrypt is not None and text.startswith("enc1:"):
        text = decrypt(text)
    return Outbound(
        id=row.id,
        channel=row.channel,
        chat_id=row.chat_id,
        text=text,
        buttons=tuple(Button(label, data) for label, data in (row.buttons or [])),
        user_key=row.user_key,
        kind=row.kind,
    )


class Dispatcher:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        senders: Mapping[str, Sender],
        clock: Clock,
        *,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 50,
        max_attempts: int = 12,
        decrypt: Callable[[str], str] | None = None,
    ) -> None:
        self.decrypt = decrypt
        self.uow_factory = uow_factory
        self.senders = senders
        self.clock = clock
        self.owner = owner or uuid.uuid4().hex[:12]
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self._lock = asyncio.Lock()
        # kind -> when a message of that kind may go out, given now (quiet hours).
        self.holds: dict[str, Callable[[datetime], datetime]] = {}
        self._sent: list[tuple[int, str | None, asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many were claimed."""
        if not self.senders:
            return 0
        now = self.clock.now()
        async with self.uow_factory() as uow:
            rows = await outbox_repo.claim_due(
                uow.session, now=now, owner=self.owner, lease=self.lease, limit=self.batch,
                channels=list(self.senders),
            )
            claimed = [(to_outbound(r, self.decrypt), r.attempts) for r in rows]
        if not claimed:
            return 0
        # One chat's messages go in order; different chats go concurrently.
        by_chat: dict[tuple[str, str], list[tuple[Outbound, int]]] = defaultdict(list)
        for out, attempts in claimed:
            by_chat[(out.channel, out.chat_id)].append((out, attempts))
        await asyncio.gather(*(self._deliver_chat(items) for items in by_chat.values()))
        return len(claimed)

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver everything due now (used by the simulator, tests and after commits)."""
        total = 0
        async with self._lock:
            for _ in range(max_rounds):
                n = await self.run_once()
                total += n
                if n < self.batch:  # a short batch: nothing more is due now
                    break
        return total

    def hold(self, kind: str, allowed_from: Callable[[datetime], datetime]) -> None:
        """Send messages of `kind` only when `allowed_from(now)` is not later than now:
        a plan reminder retried at night waits for the morning instead of waking
        an officer."""
        self.holds[kind] = allowed_from

    async def _deliver_chat(self, items: list[tuple[Outbound, int]]) -> None:
        for index, (out, attempts) in enumerate(items):
            allowed_from = self.holds.get(out.kind)
            if allowed_from is not None:
                now = self.clock.now()
                later = allowed_from(now)
                if later > now:  # this one and the chat's later ones wait, in order
                    await self._defer([o.id for o, _ in items[index:]], later)
                    return
            retry_at = await self._deliver(out, attempts)
            if retry_at is not None:
                # Keep the chat's order: what follows waits for the failed one.
                await self._defer([o.id for o, _ in items[index + 1:]], retry_at)
                return

    async def _defer(self, ids: list[int], at: datetime) -> None:
        if ids:
            async with self.uow_factory() as uow:
                await outbox_repo.defer(uow.session, ids, owner=self.owner, at=at)

    async def _deliver(self, out: Outbound, attempts: int) -> datetime | None:
        """Send one message; returns when it will be retried (None: sent or dropped)."""
        sender = self.senders[out.channel]
        try:
            result = await sender.send(out)
        except DeliveryError as err:
            return await self._failed(out, attempts, err)
        except Exception as exc:  # an adapter bug or an unmapped transport error: retry later
            log.warning("send failed on %s: %s", out.channel, type(exc).__name__)
            return await self._failed(out, attempts, DeliveryError(type(exc).__name__))
        await self._record_sent(out.id, result.platform_message_id if result else None)
        return None

    async def _record_sent(self, msg_id: int, platform_id: str | None) -> None:
        """Mark one message sent, committed before its chat's next send starts.

        Group commit: sends that finish while a mark is being written are recorded
        together by the next one, in one statement and one transaction, so marks
        keep pace with sends instead of costing a transaction each."""
        done = asyncio.get_running_loop().create_future()
        self._sent.append((msg_id, platform_id, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_sent())
        await done

    async def _write_sent(self) -> None:
        while self._sent:
            batch, self._sent = self._sent, []
            try:
                async with self.uow_factory() as uow:
                    await outbox_repo.mark_sent_many(
                        uow.session, [(msg_id, pid) for msg_id, pid, _ in batch],
                        owner=self.owner, now=self.clock.now(),
                    )
            except Exception as exc:  # each waiting send sees the failure, as before
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _failed(self, out: Outbound, attempts: int, err: DeliveryError) -> datetime | None:
        now: datetime = self.clock.now()
        async with self.uow_factory() as uow:
            if err.permanent or attempts >= self.max_attempts:
                await outbox_repo.mark_dead(uow.session, out.id, owner=self.owner, error=err.reason)
                if err.blocked and out.user_key:
                    await core_repo.mark_blocked(uow.session, channel=out.channel,
                                                 user_key=out.user_key)
                log.warning("message %s to %s dropped: %s", out.id, out.channel, err.reason)
                return None
            delay = err.retry_after if err.retry_after is not None else backoff(attempts)
            at = now + timedelta(seconds=delay)
            await outbox_repo.mark_retry(
                uow.session, out.id, owner=self.owner, at=at, error=err.reason,
            )
            return at

    async def next_due(self) -> datetime | None:
        async with self.uow_factory() as uow:
            return await outbox_repo.next_due_at(uow.session)


class OutboxJob:
    """The dispatcher as a background job for the scheduler and the simulator."""

    name = "outbox"

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def run_due(self, now: datetime) -> int:
        return await self.dispatcher.drain()

    async def next_due(self) -> datetime | None:
        return await self.dispatcher.next_due()
