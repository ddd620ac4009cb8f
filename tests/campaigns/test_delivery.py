"""Campaign delivery: the right subscribers, once each, on schedule, across a crash."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from handlers.campaigns import CampaignJob
from handlers.messages import Reply
from storage.models import OutboxMessage, User
from storage.models.campaigns import Campaign, CampaignDelivery
from storage.repositories import campaigns as campaigns_repo
from storage.repositories import outbox as outbox_repo
from tests.campaigns.conftest import START, add_communes, campaign_texts, count, per_user
from tests.conftest import make_sim

ENTRIES = "drowning-prevention-supervision,drowning-prevention-barriers"


async def _subscribe(sim, user: str, commune: str | None) -> None:
    out = await sim.say(user, f"/nhantin {commune}" if commune else "/nhantin")
    if commune is None and "Bỏ qua" in (out[-1]["buttons"] if out else []):
        out = await sim.press(user, "Bỏ qua")
    assert "Đã đăng ký" in out[-1]["text"], out


async def _cli(sim, *args: str) -> str:
    out = await sim.send({"cli": list(args)})
    return out[0]["cli_output"]


def _job(sim) -> CampaignJob:
    return next(j for j in sim.app.jobs.jobs if isinstance(j, CampaignJob))


async def test_a_campaign_reaches_each_subscriber_of_its_communes_once(db_url):
    sim = await make_sim(db_url, start=START)
    try:
        await add_communes(sim.app)
        for i in range(4):
            await _subscribe(sim, f"a{i}", "ia-grai")
        await _subscribe(sim, "b0", "ia-hrung")
        await _subscribe(sim, "n0", None)
        await _subscribe(sim, "quit", "ia-grai")
        await sim.say("quit", "/huynhantin")

        created = await _cli(sim, "campaign", "create", "he-2027", "--entries", ENTRIES,
                             "--communes", "ia-grai", "--title", "Phòng đuối nước")
        assert "2 tin" in created
        scheduled = await _cli(sim, "campaign", "schedule", "he-2027",
                               "--start", "2027-04-28T20:00+07:00", "--every", "P7D")
        assert "2027-04-28T20:00" in scheduled

        nothing = await sim.send({"advance": "PT10H"})  # 18:00 local: not yet
        assert campaign_texts(nothing) == []
        first = await sim.send({"advance": "PT3H"})
        got = per_user(first)
        assert set(got) == {(f"a{i}", "📢 Phòng đuối nước · Tin 1/2") for i in range(4)}
        assert all(n == 1 for n in got.values())
        message = campaign_texts(first)[0]["text"]
        assert "Trông trẻ nhỏ để phòng đuối nước" in message and "/huynhantin" in message

        status = await _cli(sim, "campaign", "status", "he-2027")
        assert "running" in status and "sent 4" in status

        week = await sim.send({"advance": "P7D"})
        assert set(per_user(week)) == {(f"a{i}", "📢 Phòng đuối nước · Tin 2/2") for i in range(4)}
        later = await sim.send({"advance": "P30D"})
        assert campaign_texts(later) == []
        status = await _cli(sim, "campaign", "status", "he-2027")
        assert "trạng thái / status: done" in status
        assert await count(sim.app, CampaignDelivery) == 8
    finally:
        await sim.app.close()


async def test_campaign_for_all_communes_and_blocked_users_skipped(db_url):
    sim = await make_sim(db_url, start=START)
    try:
        await add_communes(sim.app)
        await _subscribe(sim, "x1", "ia-grai")
        await _subscribe(sim, "x2", "ia-hrung")
        await _subscribe(sim, "x3", None)
        await _subscribe(sim, "gone", "ia-grai")
        async with sim.app.uow() as uow:  # the dispatcher marks users who blocked the bot
            await uow.session.execute(update(User).where(User.user_key == "gone").values(blocked=True))
        await _cli(sim, "campaign", "create", "all-1", "--entries", ENTRIES, "--communes", "all")
        await _cli(sim, "campaign", "schedule", "all-1", "--start", "2027-04-28T09:00+07:00")
        out = await sim.send({"advance": "PT2H"})
        assert sorted(u for u, _ in per_user(out)) == ["x1", "x2", "x3"]
        assert await count(
            sim.app, OutboxMessage, OutboxMessage.user_key == "gone", OutboxMessage.kind == "campaign"
        ) == 0
    finally:
        await sim.app.close()


async def test_cli_refuses_unknown_entries_and_communes(sim):
    bad_entry = await _cli(sim, "campaign", "create", "x", "--entries", "no-such-entry")
    assert "no-such-entry" in bad_entry
    bad_commune = await _cli(sim, "campaign", "create", "y", "--entries", ENTRIES,
                             "--communes", "atlantis")
    assert "atlantis" in bad_commune
    assert await count(sim.app, Campaign) == 0


@pytest.mark.parametrize("name", ["duoi-nuoc-mua-he", "an-toan-co-the-thang-6"])
async def test_shipped_campaigns_load_and_schedule_themselves(sim, name):
    out = await _cli(sim, "campaign", "create", "--from-file",
                     f"handlers/campaigns_data/{name}.yaml")
    assert f"created campaign {name}" in out and "schedule: from" in out
    async with sim.app.uow() as uow:
        campaign = await campaigns_repo.campaign_by_name(uow.session, name=name)
    assert campaign is not None and campaign.status == "scheduled"
    local = campaign.next_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.month, local.day, local.hour) == ((5, 5, 20) if name.startswith("duoi") else (6, 1, 20))
    assert local > sim.clock.now()
    kb = sim.app.services.extras["kb"]
    assert all(entry in kb.by_id for entry in campaign.entries)


class _Crash(Exception):
    pass


async def test_a_crash_mid_campaign_resumes_without_duplicates(db_url, monkeypatch):
    users = [f"s{i:02d}" for i in range(23)]
    sim = await make_sim(db_url, start=START)
    received: list[dict] = []
    try:
        for user in users:
            await _subscribe(sim, user, None)
        await _cli(sim, "campaign", "create", "crash", "--entries", ENTRIES)
        await _cli(sim, "campaign", "schedule", "crash", "--start", "2027-04-28T09:00+07:00")
        job = _job(sim)
        job.batch_size = 5
        real = campaigns_repo.queue_batch
        calls = 0

        async def crashing(*args, **kwargs):
            nonlocal calls
            calls += 1
            n = await real(*args, **kwargs)  # rows written, then the process "dies"
            if calls == 3:
                raise _Crash()
            return n

        monkeypatch.setattr(campaigns_repo, "queue_batch", crashing)
        with pytest.raises(_Crash):
            received += await sim.send({"advance": "PT2H"})
        received += sim.simulator._drain_output()
        # Two batches committed; the third rolled back with its outbox rows.
        assert await count(sim.app, CampaignDelivery) == 10
        assert await count(sim.app, OutboxMessage, OutboxMessage.kind == "campaign") == 10
    finally:
        await sim.app.close()
    monkeypatch.setattr(campaigns_repo, "queue_batch", real)

    again = await make_sim(db_url, start=sim.clock.now())
    try:
        _job(again).batch_size = 5
        await again.app.dispatcher.drain()  # whatever was committed but not yet sent
        received += again.simulator._drain_output()
        received += await again.send({"advance": "PT1H"})
        received += await again.send({"advance": "P7D"})
        got = per_user(received)
        first = Counter(u for u, line in got.elements() if line.endswith("Tin 1/2"))
        second = Counter(u for u, line in got.elements() if line.endswith("Tin 2/2"))
        assert first == Counter(users) and second == Counter(users)
        assert await count(again.app, CampaignDelivery) == 46
        async with again.app.uow() as uow:
            statuses = set((await uow.session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.kind == "campaign"))).all())
        assert statuses == {"sent"}
    finally:
        await again.app.close()


async def test_a_stopped_job_continues_from_its_cursor(db_url):
    """Stopped between batches (max_batches), rebuilt on the same database."""
    users = [f"t{i:02d}" for i in range(12)]
    sim = await make_sim(db_url, start=START)
    try:
        for user in users:
            await _subscribe(sim, user, None)
        await _cli(sim, "campaign", "create", "halt", "--entries", ENTRIES)
        await _cli(sim, "campaign", "schedule", "halt", "--start", "2027-04-28T09:00+07:00")
        job = _job(sim)
        job.batch_size, job.max_batches = 4, 1
        sim.clock.set(START.replace(hour=3))
        assert await job.run_due(sim.clock.now()) == 4
        assert await job.run_due(sim.clock.now()) == 4
        async with sim.app.uow() as uow:
            campaign = await campaigns_repo.campaign_by_name(uow.session, name="halt")
        assert campaign.step == 0 and campaign.cursor > 0
    finally:
        await sim.app.close()
    again = await make_sim(db_url, start=sim.clock.now())
    try:
        out = await again.send({"advance": "PT1H"})
        # The 8 queued before the stop were never sent by the first app: sent now, once.
        assert Counter(u for u, _ in per_user(out)) == Counter(users)
    finally:
        await again.app.close()


async def test_an_urgent_alert_goes_before_queued_campaign_messages(db_url):
    sim = await make_sim(db_url, start=START)
    try:
        for i in range(60):
            await _subscribe(sim, f"c{i:02d}", None)
        await _cli(sim, "campaign", "create", "prio", "--entries", ENTRIES)
        await _cli(sim, "campaign", "schedule", "prio", "--start", "2027-04-28T09:00+07:00")
        job = _job(sim)
        sim.clock.set(START.replace(hour=2))
        assert await job.run_due(sim.clock.now()) == 60  # queued, nothing sent yet
        async with sim.app.uow() as uow:  # an officer alert queued just after
            await outbox_repo.enqueue(
                uow.session, channel="sim", chat_id="officer", user_key="officer",
                text=Reply("KHẨN: ca mới").text, kind="alert", priority=0, now=sim.clock.now(),
            )
        await sim.app.dispatcher.drain()
        sent = sim.simulator.recorder.take()
        assert len(sent) == 61
        assert sent[0].chat_id == "officer"
        assert all(o.kind == "campaign" for o in sent[1:])
    finally:
        await sim.app.close()
