"""A simulated year on a loaded plan, through the in-process simulator: every
reminder exactly once, on the right local day at 08:00, never in the quiet hours;
a restart in the middle sends nothing twice and misses nothing; reminders that fell
due while the bot was down collapse into one, sent at the next allowed time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.sim import parse_duration
from handlers.plans.reminders import ReminderConfig, escalation_steps, owner_steps
from storage.models.plans import Occurrence, ReminderSent, Task
from tests.conftest import SimHarness, make_sim
from tests.plans.plans_sim import TZ, Sent, plan_messages, setup_small, start

CFG = ReminderConfig()
LOAD_AT = datetime(2026, 3, 2, 8, 0, tzinfo=TZ)  # a Monday
END = datetime(2027, 1, 10, 12, 0, tzinfo=TZ)
OWNER_OF = {  # task text -> who owns it in the small plan
    "Báo cáo tình hình trẻ em hằng quý": "nurse",
    "Nộp kế hoạch truyền thông": "nurse",
    "Kiểm tra an ninh khu vui chơi của trẻ em": "cop",
    "Báo cáo 6 tháng": "boss",
    "Tết Trung thu": "boss",
}


async def occurrences(h: SimHarness) -> list[tuple[int, str, date]]:
    async with h.app.uow() as uow:
        rows = (await uow.session.execute(
            select(Occurrence.id, Task.text, Occurrence.due_date)
            .join(Task, Task.id == Occurrence.task_id).order_by(Occurrence.id)
        )).all()
    return [(i, text, due) for i, text, due in rows]


async def expected_reminders(h: SimHarness) -> dict[tuple[int, str, str], date]:
    """(occurrence id, chat, step) -> local day, when nobody marks anything done."""
    out: dict[tuple[int, str, str], date] = {}
    for occ_id, text, due in await occurrences(h):
        for step, day in owner_steps(due, CFG):
            if day >= LOAD_AT.date():
                out[(occ_id, OWNER_OF[text], step)] = day
        for step, day in escalation_steps(due, CFG):
            out[(occ_id, "boss", step)] = day
    return out


def reminders_only(sent: list[Sent]) -> list[Sent]:
    return [s for s in sent if s.occ is not None]


async def advance_until(h: SimHarness, end: datetime, step: str = "P9D") -> list[dict]:
    """Advance in jumps of `step`, the last one cut so the clock stops exactly at `end`."""
    outputs: list[dict] = []
    jump = parse_duration(step)
    while (left := end.astimezone(UTC) - h.clock.now()) > timedelta(0):
        seconds = int(min(left, jump).total_seconds())
        outputs += await h.send({"advance": f"PT{seconds}S"})
    return outputs


async def ledger_rows(h: SimHarness) -> list[ReminderSent]:
    async with h.app.uow() as uow:
        return list((await uow.session.scalars(select(ReminderSent))).all())


def check_quiet_hours(sent: list[Sent]) -> None:
    for s in sent:
        assert 8 <= s.local_created.hour < 21, (s.key, s.local_created)
        assert s.sent is not None, s.key
        assert 8 <= s.sent.astimezone(TZ).hour < 21, (s.key, s.sent)


async def test_a_year_with_a_restart_sends_every_reminder_once_at_0800(
    db_url: str, tmp_path: Path
) -> None:
    h = await start(db_url, LOAD_AT.astimezone(UTC))
    try:
        await setup_small(h, tmp_path)
        expected = await expected_reminders(h)
        assert len(expected) == 9 * 8  # 8 occurrences x (8 owner steps + 1 escalation)
        during_setup = len(await plan_messages(h))  # the first Monday's digest
        delivered = await advance_until(h, datetime(2026, 6, 20, 10, 0, tzinfo=TZ))
    finally:
        await h.app.close()
    # Restart: a new app on the same database and clock; the year goes on.
    h = await make_sim(db_url, start=datetime(2026, 6, 20, 10, 0, tzinfo=TZ).astimezone(UTC))
    try:
        delivered += await advance_until(h, END)
        sent = await plan_messages(h)
        got = reminders_only(sent)
        keys = [(s.occ, s.chat, s.step) for s in got]
        assert len(keys) == len(set(keys)), "a reminder was queued twice"
        assert set(keys) == set(expected)
        for s in got:
            day = expected[(s.occ, s.chat, s.step)]
            assert s.local_created == datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ), s.key
        check_quiet_hours(sent)
        # What the officers received is exactly what was queued (nothing lost, nothing doubled).
        assert len(delivered) == len(sent) - during_setup
        ledger = await ledger_rows(h)
        assert all(r.status == "sent" for r in ledger)
        assert len([r for r in ledger if r.step != "digest"]) == len(expected)
        # Weekly digests: Mondays at 08:00, to the supervisor only, once per Monday.
        digests = [s for s in sent if s.occ is None]
        assert digests and all(s.chat == "boss" for s in digests)
        days = [s.local_created for s in digests]
        assert len(days) == len(set(days))
        assert all(d.weekday() == 0 and (d.hour, d.minute) == (8, 0) for d in days)
        assert days[0].date() == LOAD_AT.date()
        # Nothing is due any more once the last occurrence escalated.
        assert await h.app.jobs.jobs[-1].next_due() is None or \
            await h.app.jobs.jobs[-1].next_due() > END.astimezone(UTC)
    finally:
        await h.app.close()


async def test_trung_thu_event_reminds_on_the_right_days(db_url: str, tmp_path: Path) -> None:
    h = await start(db_url, LOAD_AT.astimezone(UTC))
    try:
        await setup_small(h, tmp_path)
        await advance_until(h, datetime(2026, 9, 26, 12, 0, tzinfo=TZ), step="P30D")
        got = [s for s in reminders_only(await plan_messages(h)) if "Tết Trung thu" in s.text]
        assert [s.local_created for s in got] == [
            datetime(2026, 9, d, 8, 0, tzinfo=TZ) for d in (11, 18, 22, 24, 25, 26)
        ]
        assert all(s.chat == "boss" for s in got)
        assert "25/09/2026" in got[0].text and "còn 14 ngày" in got[0].text
        assert "Hôm nay là hạn" in got[4].text
    finally:
        await h.app.close()


async def test_downtime_collapses_late_reminders_into_one(db_url: str, tmp_path: Path) -> None:
    h = await start(db_url, LOAD_AT.astimezone(UTC))
    try:
        await setup_small(h, tmp_path)
        await advance_until(h, datetime(2026, 5, 8, 12, 0, tzinfo=TZ))
        before = {s.key for s in await plan_messages(h)}
    finally:
        await h.app.close()
    # Down from 8/5 noon until 19/5 at 23:00 (quiet hours): nothing goes out until 08:00.
    back = datetime(2026, 5, 19, 23, 0, tzinfo=TZ)
    h = await make_sim(db_url, start=back.astimezone(UTC))
    try:
        await h.send({"advance": "PT8H"})  # until 07:00 on 20/5
        assert {s.key for s in await plan_messages(h)} == before
        await h.send({"advance": "PT2H"})  # past 08:00
        occs = {text: occ_id for occ_id, text, _ in await occurrences(h)}
        new = [s for s in await plan_messages(h) if s.key not in before]
        catch_up = {(s.occ, s.chat, s.step) for s in reminders_only(new)}
        cop, report = occs["Kiểm tra an ninh khu vui chơi của trẻ em"], occs["Báo cáo 6 tháng"]
        # The policeman's 20/5 inspection: -7, -3, -1 were missed; only today's "0" goes.
        # The 10/5 report (the supervisor's): -1 .. +3 missed -> one "+3", and the escalation.
        assert catch_up == {(cop, "cop", "0"), (report, "boss", "+3"), (report, "boss", "esc")}
        assert all(s.local_created == datetime(2026, 5, 20, 8, 0, tzinfo=TZ) for s in new
                   if s.occ is not None)
        late = next(s for s in new if s.occ == report and s.step == "+3")
        assert "quá hạn 10 ngày" in late.text  # worded from the real date, not the step
        ledger = await ledger_rows(h)
        skipped = {(r.occurrence_id, r.step) for r in ledger if r.status == "skipped"}
        assert {(cop, "-7"), (cop, "-3"), (cop, "-1")} <= skipped
        assert {(report, "-1"), (report, "0"), (report, "+1"), (report, "+2")} <= skipped
        # And the rest of the year runs normally: skipped steps never come back.
        await advance_until(h, datetime(2026, 6, 1, 12, 0, tzinfo=TZ))
        keys = [(s.occ, s.chat, s.step) for s in reminders_only(await plan_messages(h))]
        assert len(keys) == len(set(keys))
        assert (cop, "cop", "-3") not in keys and (cop, "cop", "+1") in keys
        check_quiet_hours(await plan_messages(h))
    finally:
        await h.app.close()


async def test_two_workers_at_the_same_instant_send_once(db_url: str, tmp_path: Path) -> None:
    import asyncio

    from handlers.plans import PlanReminderJob

    h = await start(db_url, LOAD_AT.astimezone(UTC))
    try:
        await setup_small(h, tmp_path)
        first_job = h.app.jobs.jobs[-1]
        other = PlanReminderJob(h.app.uow, h.clock, TZ, CFG)
        at = datetime(2026, 3, 17, 8, 0, tzinfo=TZ).astimezone(UTC)  # -14 of the 31/3 report
        h.clock.set(at)
        before = len(await plan_messages(h))
        counts = await asyncio.gather(first_job.run_due(at), other.run_due(at),
                                      first_job.run_due(at), other.run_due(at))
        queued = await plan_messages(h)
        fourteen = [s for s in reminders_only(queued) if s.step == "-14"]
        assert len(fourteen) == 1 and fourteen[0].chat == "nurse"
        assert sum(counts) == len(queued) - before
        assert await other.next_due() > at
    finally:
        await h.app.close()


async def test_a_reminder_retried_into_the_night_waits_for_the_morning(db_url: str) -> None:
    from storage.repositories import outbox as outbox_repo

    night = datetime(2026, 5, 19, 22, 30, tzinfo=TZ)
    h = await make_sim(db_url, start=night.astimezone(UTC))
    try:
        now = h.clock.now()
        async with h.app.uow() as uow:  # e.g. queued at 20:00, the platform down since
            await outbox_repo.enqueue(uow.session, channel="sim", chat_id="cop", text="nhắc việc",
                                      kind="plan", now=now)
            await outbox_repo.enqueue(uow.session, channel="sim", chat_id="cop", text="sau đó",
                                      kind="reply", now=now)
            await outbox_repo.enqueue(uow.session, channel="sim", chat_id="u2", text="trả lời",
                                      kind="reply", now=now)
        await h.app.dispatcher.drain()
        sent = h.simulator.recorder.take()
        # Other chats are served; the reminder and what follows it in its chat wait, in order.
        assert [(o.chat_id, o.text) for o in sent] == [("u2", "trả lời")]
        assert await h.app.dispatcher.next_due() == datetime(2026, 5, 20, 8, 0, tzinfo=TZ)
        out = await h.send({"advance": "PT10H"})  # 08:30: both go, in order
        assert [(o["chat"], o["text"]) for o in out] == [("cop", "nhắc việc"), ("cop", "sau đó")]
        async with h.app.uow() as uow:
            assert await outbox_repo.pending_count(uow.session) == 0
    finally:
        await h.app.close()
