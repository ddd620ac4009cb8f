"""Storage on SQLite and PostgreSQL: migrations both ways, time zones, the update
ledger, and the outbox's claim/lease/retry semantics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from handlers.clock import SimClock
from handlers.delivery import Dispatcher
from handlers.messages import Button, DeliveryError, Outbound, SendResult
from storage.db import Prepared, create_engine, create_session_factory
from storage.migrate import downgrade_base, upgrade_async
from storage.models import OutboxMessage, User
from storage.repositories import core as core_repo
from storage.repositories import outbox as outbox_repo
from storage.uow import UnitOfWork

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
async def factory(db_url):
    await upgrade_async(db_url)
    engine = create_engine(db_url)
    sf = create_session_factory(engine)
    yield lambda: UnitOfWork(sf)
    await engine.dispose()


async def _tables(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_upgrade_and_downgrade(db_url):
    await upgrade_async(db_url)
    tables = await _tables(db_url)
    assert {"users", "conversations", "processed_updates", "outbox", "chat_menus"} <= tables
    await upgrade_async(db_url)  # idempotent
    await downgrade_base(db_url)
    assert (await _tables(db_url)) - {"alembic_version"} == set()
    await upgrade_async(db_url)
    assert "outbox" in await _tables(db_url)


async def test_datetimes_come_back_aware_utc(factory):
    local = datetime(2026, 3, 2, 8, 0, tzinfo=UTC) + timedelta(hours=0)
    async with factory() as uow:
        user, new = await core_repo.get_or_create_user(uow.session, channel="t", user_key="1", now=local)
        assert new
    async with factory() as uow:
        user = await core_repo.get_user(uow.session, channel="t", user_key="1")
        assert user is not None and user.first_seen_at == local
        assert user.first_seen_at.tzinfo is not None


async def test_update_ledger_rejects_repeats(factory):
    async with factory() as uow:
        assert await core_repo.record_update(uow.session, channel="t", update_key="9", now=T0)
    async with factory() as uow:
        assert not await core_repo.record_update(uow.session, channel="t", update_key="9", now=T0)
        assert await core_repo.record_update(uow.session, channel="z", update_key="9", now=T0)


async def test_start_message_records_loads_and_creates(factory):
    def start(session, update_key, chat_id="c1", want_menu=True):
        return core_repo.start_message(
            session, channel="t", chat_id=chat_id, user_key="u1", update_key=update_key,
            now=T0, want_menu=want_menu,
        )

    async with factory() as uow:  # a new user: user and conversation created together
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="c1", text="menu",
                                  buttons=[Button("Một", "one")], now=T0)
        first = await uow.session.run_sync(start, "k1")
        assert first is not None and first.is_new and first.conv.id is not None
        assert first.user.id is not None and first.menu == [["Một", "one"]]
    async with factory() as uow:
        assert await uow.session.run_sync(start, "k1") is None  # a redelivery
        again = await uow.session.run_sync(start, "k2")
        assert again is not None and not again.is_new and again.conv.id == first.conv.id
        assert again.menu == [["Một", "one"]]
        other = await uow.session.run_sync(start, "k3", "c2")  # a new chat, no menu yet
        assert other is not None and not other.is_new and other.conv.id != first.conv.id
        assert other.menu == []


async def test_records_written_back(factory):
    def start(session):
        return core_repo.start_message(
            session, channel="t", chat_id="c9", user_key="u9", update_key=None, now=T0
        )

    async with factory() as uow:
        first = await uow.session.run_sync(start)
        assert first is not None and not first.user.changes()
        first.user.commune_slug = "xa-a"
        first.conv.state, first.conv.data = "ask", {"n": 1}
        assert first.user.changes() == {"commune_slug": "xa-a"}
        await uow.session.run_sync(core_repo.save_user, first.user)
        await uow.session.run_sync(core_repo.save_conversation, first.conv)
        assert not first.user.changes()
    async with factory() as uow:
        again = await uow.session.run_sync(start)
        assert again is not None and again.user.commune_slug == "xa-a"
        assert (again.conv.state, again.conv.data) == ("ask", {"n": 1})
        assert again.user.first_seen_at == T0 and again.user.first_seen_at.tzinfo is not None
        stored = await uow.session.scalar(select(User).where(User.user_key == "u9"))
        assert stored is not None and stored.commune_slug == "xa-a" and not stored.blocked


async def test_prepared_statements_behave_as_sqlalchemys(factory):
    insert_user = Prepared(
        insert(User.__table__), keys=["channel", "user_key", "locale", "blocked", "first_seen_at",
                                      "last_seen_at"], new_id=True,
    )
    by_key = Prepared(select(User.__table__.c.id, User.__table__.c.first_seen_at, User.__table__.c.blocked)
                      .where(User.__table__.c.user_key == bindparam("key")))
    values = {"channel": "t", "user_key": "p1", "locale": "vi", "blocked": False,
              "first_seen_at": T0, "last_seen_at": T0}

    def run(session):
        conn = session.connection()
        new_id = insert_user.execute(conn, values).lastrowid
        assert by_key.execute(conn, {"key": "p1"}).first() == (new_id, T0, False)
        assert by_key.execute(conn, {"key": "none"}).first() is None
        with pytest.raises(IntegrityError):  # SQLAlchemy's error, whatever the driver
            insert_user.execute(conn, values)

    async with factory() as uow:
        await uow.session.run_sync(run)


async def test_outbox_dedupe_key(factory):
    async with factory() as uow:
        first = await outbox_repo.enqueue(uow.session, channel="t", chat_id="1", text="a",
                                          dedupe_key="k1", now=T0)
        again = await outbox_repo.enqueue(uow.session, channel="t", chat_id="1", text="a",
                                          dedupe_key="k1", now=T0)
    assert first and not again


async def test_claims_are_leased_and_taken_over_after_expiry(factory):
    async with factory() as uow:
        for i in range(3):
            await outbox_repo.enqueue(uow.session, channel="t", chat_id=str(i), text=f"m{i}", now=T0)
    async with factory() as uow:
        a = await outbox_repo.claim_due(uow.session, now=T0, owner="A", lease=timedelta(seconds=60))
    async with factory() as uow:
        b = await outbox_repo.claim_due(uow.session, now=T0, owner="B", lease=timedelta(seconds=60))
    assert len(a) == 3 and b == []
    later = T0 + timedelta(seconds=61)  # worker A died: its lease expires
    async with factory() as uow:
        b = await outbox_repo.claim_due(uow.session, now=later, owner="B", lease=timedelta(seconds=60))
    assert len(b) == 3
    async with factory() as uow:  # A's late result no longer counts
        assert not await outbox_repo.mark_sent(uow.session, a[0].id, owner="A", now=later, platform_id=None)
        assert await outbox_repo.mark_sent(uow.session, b[0].id, owner="B", now=later, platform_id="x")


async def test_priority_order(factory):
    async with factory() as uow:
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="p", text="campaign", priority=9, now=T0)
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="o", text="urgent", priority=0, now=T0)
    async with factory() as uow:
        rows = await outbox_repo.claim_due(uow.session, now=T0, owner="A", lease=timedelta(seconds=9), limit=1)
    assert rows[0].text == "urgent"


class FlakySender:
    def __init__(self, failures: list[DeliveryError | None]) -> None:
        self.failures = failures
        self.delivered: list[Outbound] = []

    async def send(self, out: Outbound) -> SendResult:
        if self.failures:
            err = self.failures.pop(0)
            if err is not None:
                raise err
        self.delivered.append(out)
        return SendResult("1")


async def test_dispatcher_retries_then_delivers_once(factory):
    clock = SimClock(T0)
    sender = FlakySender([DeliveryError("timeout"), DeliveryError("429", retry_after=5)])
    disp = Dispatcher(factory, {"t": sender}, clock)
    async with factory() as uow:
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="1", text="hello", now=T0)
    await disp.drain()
    assert sender.delivered == []
    for _ in range(10):
        clock.advance(timedelta(seconds=30))
        await disp.drain()
    assert [o.text for o in sender.delivered] == ["hello"]
    async with factory() as uow:
        row = await uow.session.scalar(select(OutboxMessage))
        assert row.status == "sent" and row.attempts == 3


async def test_blocked_user_is_marked_and_message_dropped(factory):
    clock = SimClock(T0)
    sender = FlakySender([DeliveryError("blocked", permanent=True, blocked=True)])
    async with factory() as uow:
        await core_repo.get_or_create_user(uow.session, channel="t", user_key="7", now=T0)
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="7", user_key="7", text="x", now=T0)
    await Dispatcher(factory, {"t": sender}, clock).drain()
    async with factory() as uow:
        assert (await uow.session.scalar(select(User))).blocked is True
        assert (await uow.session.scalar(select(OutboxMessage))).status == "dead"


async def test_two_dispatchers_send_each_message_once(factory):
    clock = SimClock(T0)
    async with factory() as uow:
        for i in range(60):
            await outbox_repo.enqueue(uow.session, channel="t", chat_id=str(i % 7), text=f"m{i}", now=T0)

    class SlowSender(FlakySender):
        async def send(self, out: Outbound) -> SendResult:
            await asyncio.sleep(0.001)
            return await super().send(out)

    shared = SlowSender([])
    one = Dispatcher(factory, {"t": shared}, clock, owner="one", batch=5)
    two = Dispatcher(factory, {"t": shared}, clock, owner="two", batch=5)
    await asyncio.gather(one.drain(), two.drain())
    texts = [o.text for o in shared.delivered]
    assert sorted(texts) == sorted(f"m{i}" for i in range(60))
    assert len(texts) == len(set(texts))


async def test_a_chat_waits_for_its_earlier_message(factory):
    async with factory() as uow:
        for text in ("first", "second"):
            await outbox_repo.enqueue(uow.session, channel="t", chat_id="c", text=text, now=T0)
        await outbox_repo.enqueue(uow.session, channel="t", chat_id="other", text="x", now=T0)
    async with factory() as uow:  # worker A takes the whole chat in one batch
        a = await outbox_repo.claim_due(uow.session, now=T0, owner="A", lease=timedelta(seconds=60), limit=1)
    assert [r.text for r in a] == ["first"]
    async with factory() as uow:  # worker B must not take "second" while "first" is in flight
        b = await outbox_repo.claim_due(uow.session, now=T0, owner="B", lease=timedelta(seconds=60))
    assert [r.text for r in b] == ["x"]
    async with factory() as uow:  # "first" fails and waits for a retry: "second" still waits
        await outbox_repo.mark_retry(uow.session, a[0].id, owner="A", at=T0 + timedelta(seconds=30), error="e")
    async with factory() as uow:
        assert await outbox_repo.claim_due(uow.session, now=T0, owner="B", lease=timedelta(seconds=60)) == []
    later = T0 + timedelta(seconds=31)
    async with factory() as uow:
        c = await outbox_repo.claim_due(uow.session, now=later, owner="B", lease=timedelta(seconds=60))
    assert [r.text for r in c] == ["first", "second"]
