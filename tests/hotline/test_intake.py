"""Report intake through the in-process simulator."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models.hotline import Case, CaseEvent, CaseTimer
from tests.hotline.conftest import CODE_RE, HotlineSim, texts_to


async def _count(sim: HotlineSim, model) -> int:
    async with sim.app.uow() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(model)))


async def test_full_report_reaches_group_and_officers(hsim: HotlineSim) -> None:
    await hsim.register("sup", role="supervisor")
    await hsim.register("off1")
    await hsim.make_group("sup", "grp")
    code, seen = await hsim.report("rep")
    group = [o for o in seen if o["chat"] == "grp"]
    assert len(group) == 1
    assert code in group[0]["text"]
    assert group[0]["buttons"] == ["Nhận xử lý", "Xem chi tiết", "Chuyển người khác"]
    assert "Bạo lực" in group[0]["text"] and "Thôn 2" in group[0]["text"]
    assert "6–10 tuổi" in group[0]["text"]
    # The narrative never goes to the group.
    assert "vết bầm" not in group[0]["text"]
    assert any(code in t for t in texts_to(seen, "off1"))
    assert any(code in t for t in texts_to(seen, "sup"))
    done = [o["text"] for o in seen if o["chat"] == "rep" and "Mã tin" in o["text"]][0]
    assert "111" in done and f"/theodoi {code}" in done
    # Officers hear first: their messages come before the reporter's acknowledgement.
    order = [o["chat"] for o in seen[-4:]]
    assert order[-1] == "rep"
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case).where(Case.code == code))
        assert case.category == "violence" and case.urgent is False
        assert case.when_code == "today" and case.relation == "neighbour"
        events = (await uow.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
        assert [e.action for e in events] == ["created"]
        limits = {t.limit_name for t in (await uow.session.scalars(select(CaseTimer))).all()}
        assert limits == {"claim", "plan"}


async def test_double_tap_on_confirm_creates_one_case(hsim: HotlineSim) -> None:
    code, _ = await hsim.report("rep")
    async with hsim.app.uow() as uow:
        token = await uow.session.scalar(select(Case.draft_token))
    again = await hsim.button("rep", f"report:confirm:{token}")  # the summary's button again
    assert len(again) == 1
    assert code in again[0]["text"] and "đã được gửi rồi" in again[0]["text"]
    assert await _count(hsim, Case) == 1


async def test_confirm_of_someone_elses_draft_reveals_nothing(hsim: HotlineSim) -> None:
    code, _ = await hsim.report("rep")
    async with hsim.app.uow() as uow:
        token = (await uow.session.scalar(select(Case.draft_token)))
    out = await hsim.button("other", f"report:confirm:{token}")
    assert len(out) == 1 and code not in out[0]["text"]
    assert await _count(hsim, Case) == 1


async def test_cancel_at_any_step_sends_nothing(hsim: HotlineSim) -> None:
    await hsim.register("off1")
    await hsim.text("rep", "/baotin")
    await hsim.text("rep", "Có đứa bé bị bỏ đói")
    await hsim.press("rep", "Bỏ rơi, bỏ mặc")
    out = await hsim.text("rep", "/huy")
    assert "Đã dừng" in out[0]["text"]
    out = await hsim.text("rep", "/huy")
    assert "Không có việc gì" in out[0]["text"]
    assert await _count(hsim, Case) == 0
    # The cancel button works too.
    await hsim.text("rep", "/baotin")
    out = await hsim.press("rep", "Hủy")
    assert "Đã hủy tin báo" in out[0]["text"]
    assert await _count(hsim, Case) == 0


async def test_skip_on_every_step_but_the_first(hsim: HotlineSim) -> None:
    out = await hsim.text("rep", "/baotin")
    assert "Bỏ qua" not in out[-1]["buttons"]
    out = await hsim.text("rep", "Em bị bạn cùng lớp bắt nạt")
    steps = 0
    while "Bỏ qua" in out[-1]["buttons"]:
        out = await hsim.press("rep", "Bỏ qua")
        steps += 1
        assert steps < 12
    assert out[-1]["text"].startswith("Bạn kiểm tra lại tin báo")
    assert steps >= 7  # category, danger, age, commune, village, when, relation, contact
    out = await hsim.press("rep", "Gửi tin báo")
    assert CODE_RE.search(out[-1]["text"])
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert case.category == "other" and case.anonymous
        # Unknown commune: the provincial default queue.
        from storage.models.hotline import Commune

        commune = await uow.session.get(Commune, case.commune_id)
        assert commune.slug == "lang-son-tinh"


async def test_sticker_and_photo_get_a_clear_prompt_and_keep_the_step(hsim: HotlineSim) -> None:
    await hsim.text("rep", "/baotin")
    out = await hsim.send(**{"from": "rep", "kind": "sticker"})
    assert "chỉ đọc được chữ" in out[0]["text"]
    assert out[-1]["text"].startswith("Chuyện gì đã xảy ra")
    await hsim.text("rep", "Bé bị đánh")
    out = await hsim.send(**{"from": "rep", "kind": "photo"})
    assert "chỉ đọc được chữ" in out[0]["text"]
    assert out[-1]["text"].startswith("Chuyện này gần nhất")


async def test_long_text_is_kept_whole_and_the_reporter_told(hsim: HotlineSim) -> None:
    long = "Cháu bé nhà bên bị bắt làm việc nặng từ sáng tới tối. " * 120
    assert len(long) > 4000
    await hsim.register("off1")
    await hsim.text("rep", "/baotin")
    out = await hsim.text("rep", long)
    assert "rất dài" in out[0]["text"]
    out = await hsim.press("rep", "Lao động trẻ em")
    while "Bỏ qua" in out[-1]["buttons"]:
        out = await hsim.press("rep", "Bỏ qua")
    out = await hsim.press("rep", "Gửi tin báo")
    code = CODE_RE.search(out[-1]["text"]).group(0)
    out = await hsim.text("off1", f"/ca {code}")
    # The default queue has no officer here: the case is not in off1's commune.
    assert "Không tìm thấy" in out[0]["text"]
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        import json

        details = json.loads(hsim.app.services.extras["cipher"].decrypt(case.details_enc, context="case"))
        assert details["narrative"] == long.strip()


async def test_danger_yes_shows_numbers_at_once_and_shrinks_the_steps(hsim: HotlineSim) -> None:
    await hsim.register("off1")
    await hsim.text("rep", "/baotin")
    await hsim.text("rep", "Bé nhà bên hay bị mắng chửi")
    await hsim.press("rep", "Bạo lực")
    out = await hsim.press("rep", "Có, trẻ đang nguy hiểm")
    assert "113" in out[0]["text"] and "111" in out[0]["text"]
    assert out[-1]["text"].startswith("Chuyện xảy ra ở xã")
    out = await hsim.text("rep", "quan son")  # no diacritics: fuzzy match
    assert "Xã Quan Sơn" in out[-1]["text"]
    out = await hsim.press("rep", "Thôn 3")
    assert out[-1]["text"].startswith("Bạn kiểm tra lại tin báo")  # straight to confirm
    out = await hsim.press("rep", "Gửi tin báo")
    alert = [o for o in out if o["chat"] == "off1"][0]
    assert "TIN KHẨN" in alert["text"]
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert case.urgent
        limits = {t.limit_name for t in (await uow.session.scalars(select(CaseTimer))).all()}
        assert limits == {"claim", "emergency", "plan"}


async def test_urgent_button_goes_straight_to_where(hsim: HotlineSim) -> None:
    await hsim.text("rep", "/start quan-son")
    out = await hsim.button("rep", "report:urgent")
    assert "113" in out[0]["text"]
    assert "0200 000 0001" in out[0]["text"]  # the commune's own (example) line
    # The commune is known from the deep link: the village is asked next.
    assert out[-1]["text"].startswith("Ở thôn, bản, khu nào của Xã Quan Sơn")


async def test_emergency_typed_during_intake_marks_urgent(hsim: HotlineSim) -> None:
    await hsim.text("rep", "/baotin")
    out = await hsim.text("rep", "cứu với, nó đang đánh con bé chảy máu")
    assert any("113" in o["text"] for o in out)
    assert out[-1]["text"].startswith("Chuyện xảy ra ở xã")
    await hsim.text("rep", "Châu Sơn")
    out = await hsim.press("rep", "Bỏ qua")
    assert "KHẨN" in out[-1]["text"]


async def test_invalid_phone_is_asked_again(hsim: HotlineSim) -> None:
    await hsim.text("rep", "/baotin")
    out = await hsim.text("rep", "Con bé bị ép lấy chồng")
    out = await hsim.press("rep", "Tảo hôn")
    for _ in range(6):
        out = await hsim.press("rep", "Bỏ qua")
    assert "giấu tên" in out[-1]["text"]
    out = await hsim.text("rep", "12345")
    assert "chưa đúng" in out[0]["text"]
    out = await hsim.text("rep", "0987 654 321")
    assert out[-1]["text"].startswith("Bạn kiểm tra lại")
    assert "0987654321" in out[-1]["text"]


async def test_stale_report_button_after_finish(hsim: HotlineSim) -> None:
    await hsim.report("rep")
    out = await hsim.button("rep", "report:age:under6")
    assert "đã xong hoặc đã hủy" in out[0]["text"]


async def test_deep_link_sets_the_commune_and_hotline(hsim: HotlineSim) -> None:
    await hsim.text("rep", "/start chau-son")
    out = await hsim.text("rep", "/sos")
    assert "Xã Châu Sơn: 0200 000 0002" in out[0]["text"]
    # A fuzzy name works too, and an unknown one maps to the provincial queue.
    await hsim.text("rep2", "/start Chau Son")
    out = await hsim.text("rep2", "/sos")
    assert "0200 000 0002" in out[0]["text"]
    await hsim.text("rep3", "/start khong-co-xa-nay")
    out = await hsim.text("rep3", "/sos")
    assert "Tổng đài tiếp nhận tỉnh Lạng Sơn: 0200 000 0000" in out[0]["text"]


async def test_report_intent_and_menu_button_start_intake(hsim: HotlineSim) -> None:
    await hsim.text("rep", "xin chào")
    out = await hsim.press("rep", "Báo tin")
    assert out[-1]["text"].startswith("Chuyện gì đã xảy ra")


async def test_report_in_a_group_is_refused(hsim: HotlineSim) -> None:
    out = await hsim.text("rep", "/baotin", chat="g1")
    assert "nhắn riêng" in out[0]["text"]


async def test_report_intent_starts_intake(hsim: HotlineSim) -> None:
    out = await hsim.text("rep", "tôi muốn báo tin")
    assert out[-1]["text"].startswith("Chuyện gì đã xảy ra")
    assert "Bạo lực" in out[-1]["buttons"] and "Bỏ qua" not in out[-1]["buttons"]
