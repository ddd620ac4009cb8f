"""Officer commands and buttons: /viec, the task card, Xong (with a note), Hoãn 3/7
ngày, /xong, /tiendo; done stops the reminders, snoozing delays them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models.plans import Occurrence, ReminderSent
from tests.conftest import SimHarness
from tests.plans.plans_sim import TZ, plan_messages, setup_small, start
from tests.plans.test_reminders_year import advance_until, reminders_only

START = datetime(2026, 3, 2, 8, 0, tzinfo=TZ).astimezone(UTC)
# Occurrence ids in the small plan: 1-4 the quarterly report (31/3, 30/6, 30/9, 31/12),
# 5 the communication plan (15/4), 6 the police inspection (20/5), 7 the 6-month
# report (10/5, the supervisor's), 8 Tết Trung thu (25/9).


@pytest.fixture
async def h(db_url: str, tmp_path: Path):
    harness = await start(db_url, START)
    try:
        await setup_small(harness, tmp_path)
        yield harness
    finally:
        await harness.app.close()


async def occurrence(h: SimHarness, occ_id: int) -> Occurrence:
    async with h.app.uow() as uow:
        return await uow.session.get(Occurrence, occ_id)


async def test_viec_lists_my_tasks_with_buttons(h: SimHarness) -> None:
    assert "dành cho cán bộ" in (await h.say("stranger", "/viec"))[0]["text"]
    await advance_until(h, datetime(2026, 3, 20, 9, 0, tzinfo=TZ), step="P30D")
    reply = (await h.say("nurse", "/viec"))[0]
    assert "#1 · 31/03/2026 · còn 11 ngày" in reply["text"]
    assert "#5 · 15/04/2026 · còn 26 ngày" in reply["text"]
    assert "#6" not in reply["text"]  # the police's task
    assert reply["buttons"] == ["Việc #1", "Việc #5"]
    card = (await h.press("nurse", "Việc #5"))[0]
    assert card["text"].startswith("Việc #5 — Trạm Y tế xã") and "Hạn: 15/04/2026" in card["text"]
    assert card["buttons"] == ["Xong", "Hoãn 3 ngày", "Hoãn 7 ngày"]
    cop = (await h.say("cop", "/viec"))[0]["text"]
    assert "không có việc nào" in cop  # 20/5 is more than 30 days away
    assert "/viec" in (await h.say("nurse", "/viec", chat="group1"))[0]["text"]


async def test_done_with_a_note_stops_the_reminders(h: SimHarness) -> None:
    await advance_until(h, datetime(2026, 3, 24, 9, 0, tzinfo=TZ), step="P30D")
    reminder = [s for s in reminders_only(await plan_messages(h)) if s.occ == 1]
    assert [s.step for s in reminder] == ["-14", "-7"]
    # "Xong" pressed right on today's reminder (the last message with buttons).
    done = (await h.press("nurse", "Xong"))[0]
    assert "hoàn thành" in done["text"] and done["buttons"] == ["Không cần ghi chú"]
    saved = (await h.say("nurse", "Đã gửi báo cáo quý I cho UBND xã"))[0]
    assert saved["text"] == "Đã lưu ghi chú cho việc #1."
    occ = await occurrence(h, 1)
    assert occ.state == "done" and occ.note == "Đã gửi báo cáo quý I cho UBND xã"
    await advance_until(h, datetime(2026, 4, 10, 12, 0, tzinfo=TZ))
    after = [s for s in reminders_only(await plan_messages(h)) if s.occ == 1]
    assert [s.step for s in after] == ["-14", "-7"]  # no -3 .. +3, no escalation
    again = (await h.say("nurse", "/xong 1"))[0]["text"]
    assert "đã được đánh dấu hoàn thành" in again


async def test_xong_command_and_permissions(h: SimHarness) -> None:
    assert "Cách dùng" in (await h.say("nurse", "/xong"))[0]["text"]
    assert "không phụ trách" in (await h.say("cop", "/xong 5"))[0]["text"]
    assert "Không tìm thấy" in (await h.say("nurse", "/xong 999"))[0]["text"]
    reply = (await h.say("nurse", "/xong 5 Đã nộp kế hoạch"))[0]["text"]
    assert "kèm ghi chú" in reply
    occ = await occurrence(h, 5)
    assert occ.state == "done" and occ.note == "Đã nộp kế hoạch"
    # The supervisor may close any task of the commune.
    assert "hoàn thành" in (await h.say("boss", "/xong 6"))[0]["text"]
    await advance_until(h, datetime(2026, 6, 1, 12, 0, tzinfo=TZ), step="P30D")
    closed = [s for s in reminders_only(await plan_messages(h)) if s.occ in (5, 6)]
    assert closed == []


async def test_snooze_delays_then_resumes_once(h: SimHarness) -> None:
    await advance_until(h, datetime(2026, 4, 8, 9, 0, tzinfo=TZ), step="P30D")
    await h.say("nurse", "/viec")
    await h.press("nurse", "Việc #5")
    reply = (await h.press("nurse", "Hoãn 7 ngày"))[0]["text"]
    assert "nhắc lại từ ngày 15/04/2026" in reply
    await advance_until(h, datetime(2026, 4, 14, 20, 0, tzinfo=TZ))
    steps = [s.step for s in reminders_only(await plan_messages(h)) if s.occ == 5]
    assert steps == ["-14", "-7"]  # -3 (12/4) and -1 (14/4) held back
    await advance_until(h, datetime(2026, 4, 20, 12, 0, tzinfo=TZ))
    got = [s for s in reminders_only(await plan_messages(h)) if s.occ == 5]
    assert [s.step for s in got] == ["-14", "-7", "0", "+1", "+2", "+3", "esc"]
    resumed = got[2]
    assert resumed.local_created == datetime(2026, 4, 15, 8, 0, tzinfo=TZ)
    assert "Hôm nay là hạn" in resumed.text
    async with h.app.uow() as uow:
        skipped = (await uow.session.scalars(
            select(ReminderSent.step).where(ReminderSent.occurrence_id == 5,
                                            ReminderSent.status == "skipped")
        )).all()
    assert sorted(skipped) == ["-1", "-3"]
    # Snoozing a finished task is refused politely (the +3 reminder's buttons are still there).
    assert "kèm ghi chú" in (await h.say("nurse", "/xong 5 Đã nộp muộn"))[0]["text"]
    assert "không cần hoãn" in (await h.press("nurse", "Hoãn 3 ngày"))[0]["text"]
    assert (await occurrence(h, 5)).snoozed_until is None


async def test_tiendo_is_for_supervisors(h: SimHarness) -> None:
    assert "dành cho lãnh đạo" in (await h.say("nurse", "/tiendo"))[0]["text"]
    await h.say("nurse", "/xong 5")
    await advance_until(h, datetime(2026, 4, 2, 9, 0, tzinfo=TZ), step="P30D")
    text = (await h.say("boss", "/tiendo"))[0]["text"]
    assert "Tiến độ kế hoạch — Xã Châu Sơn (đến ngày 02/04/2026)" in text
    assert "• Trạm Y tế xã: 1 xong · 3 đang mở · 1 quá hạn" in text
    assert "• Công an xã: 0 xong · 1 đang mở · 0 quá hạn" in text
    assert "• Lãnh đạo UBND xã: 0 xong · 2 đang mở · 0 quá hạn" in text
    assert "Tổng cộng: 1 xong · 6 đang mở · 1 quá hạn." in text
