"""Officers: invite codes, the officers' group, claiming and the ND 56 steps, and
the reporter's follow-up through to closing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from storage.models.hotline import Case, CaseEvent, Commune, InviteCode, Officer
from tests.hotline.conftest import HotlineSim


async def test_invite_code_is_single_use_and_expires(hsim: HotlineSim) -> None:
    code = await hsim.invite("quan-son", "officer")
    out = await hsim.text("a", f"/dangky {code.lower()}")
    assert "Đã đăng ký bạn là cán bộ bảo vệ trẻ em của Xã Quan Sơn" in out[0]["text"]
    out = await hsim.text("b", f"/dangky {code}")
    assert "không hợp lệ" in out[0]["text"]
    late = await hsim.invite("quan-son", "officer")
    hsim.clock.advance(timedelta(days=7, minutes=1))
    out = await hsim.text("c", f"/dangky {late}")
    assert "hết hạn" in out[0]["text"]
    out = await hsim.text("d", "/dangky ZZZZZZZZ")
    assert "không hợp lệ" in out[0]["text"]
    async with hsim.app.uow() as uow:
        officers = (await uow.session.scalars(select(Officer))).all()
        assert [o.user_key for o in officers] == ["a"]
        invite = await uow.session.get(InviteCode, code)
        assert invite.used_at is not None and invite.used_for == "officer"


async def test_invite_cli_rejects_unknown_commune_and_role(hsim: HotlineSim) -> None:
    out = await hsim.cli("officer", "invite", "--commune", "nowhere")
    assert "unknown commune" in out
    out = await hsim.cli("officer", "invite", "--commune", "quan-son", "--role", "boss")
    assert "--role" in out


async def test_dangky_in_a_group_is_refused(hsim: HotlineSim) -> None:
    code = await hsim.invite()
    out = await hsim.text("a", f"/dangky {code}", chat="g")
    assert "nhắn riêng" in out[0]["text"]


async def test_group_needs_a_supervisor_and_a_code_of_that_commune(hsim: HotlineSim) -> None:
    await hsim.register("off", role="officer")
    await hsim.register("sup", role="supervisor")
    code = await hsim.invite("quan-son")
    out = await hsim.text("off", f"/nhom {code}", chat="g1")
    assert "Chỉ lãnh đạo" in out[0]["text"]
    other = await hsim.invite("chau-son")
    out = await hsim.text("sup", f"/nhom {other}", chat="g1")
    assert "không hợp lệ" in out[0]["text"]
    out = await hsim.text("sup", f"/nhom {code}", chat="g1")
    assert "Xã Quan Sơn" in out[0]["text"]
    out = await hsim.text("sup", f"/nhom {code}", chat="g2")  # used up
    assert "không hợp lệ" in out[0]["text"]
    out = await hsim.text("sup", "/nhom", chat="sup")
    assert "trong nhóm" in out[0]["text"]
    async with hsim.app.uow() as uow:
        commune = await uow.session.scalar(select(Commune).where(Commune.slug == "quan-son"))
        assert commune.group_chat_id == "g1"


async def _setup(hsim: HotlineSim) -> None:
    await hsim.register("sup", role="supervisor")
    await hsim.register("off1")
    await hsim.register("off2")
    await hsim.make_group("sup", "grp")


async def test_claim_from_the_group_sends_details_privately(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep", phone="0912345678")
    out = await hsim.press("off1", "Nhận xử lý", chat="grp")
    private = [o for o in out if o["chat"] == "off1"]
    group = [o for o in out if o["chat"] == "grp"]
    assert len(private) == 1 and "vết bầm" in private[0]["text"] and "0912345678" in private[0]["text"]
    assert "➡ Bắt đầu xác minh (Mẫu 02)" in private[0]["buttons"]
    assert len(group) == 1 and "đã có người nhận xử lý" in group[0]["text"]
    assert "vết bầm" not in group[0]["text"] and "0912345678" not in group[0]["text"]
    # A second claim by someone else is refused.
    out = await hsim.button("off2", f"case:claim:{code}", chat="grp")
    assert "cán bộ khác" in out[0]["text"]
    # "Xem chi tiết" from the group: details go privately, never to the group.
    out = await hsim.button("off2", f"case:view:{code}", chat="grp")
    assert [o["chat"] for o in out] == ["off2", "grp"]
    assert "vết bầm" in out[0]["text"] and "vết bầm" not in out[1]["text"]
    async with hsim.app.uow() as uow:
        actions = [e.action for e in (await uow.session.scalars(
            select(CaseEvent).order_by(CaseEvent.id))).all()]
    assert actions == ["created", "claimed", "viewed", "viewed"]


async def test_steps_follow_nd56_and_only_the_claimer_changes_them(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.button("off2", f"case:step:{code}:verification")
    assert "cán bộ khác phụ trách" in out[0]["text"]
    out = await hsim.button("off1", f"case:step:{code}:plan")  # cannot jump ahead
    assert "không áp dụng" in out[0]["text"]
    path = ["verification", "emergency", "assessment", "plan", "implementation", "review"]
    for step in path:
        out = await hsim.button("off1", f"case:step:{code}:{step}")
        assert any("chuyển sang bước" in o["text"] for o in out), out
    out = await hsim.button("off1", f"case:ref:{code}")
    assert "Công an" in out[0]["buttons"]
    out = await hsim.button("off1", f"case:ref:{code}:police")
    assert "Công an" in out[0]["text"]
    out = await hsim.button("off1", f"case:close:{code}")
    assert out[0]["buttons"][0] == "Đồng ý đóng ca"
    out = await hsim.button("off1", f"case:closeok:{code}")
    assert any("đã đóng" in o["text"] for o in out)
    assert any(o["chat"] == "grp" and "đã đóng" in o["text"] for o in out)
    out = await hsim.button("off1", f"case:step:{code}:review")
    assert "đã đóng" in out[0]["text"]
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert case.step == "closed" and case.closed_at is not None
        assert case.emergency_done_at is not None and case.plan_done_at is not None
        events = (await uow.session.scalars(select(CaseEvent).order_by(CaseEvent.id))).all()
        steps = [e.detail for e in events if e.action == "step"]
        assert steps == ["claimed>verification", "verification>emergency", "emergency>assessment",
                         "assessment>plan", "plan>implementation", "implementation>review"]
        assert any(e.action == "referral" and e.detail == "police" for e in events)
        assert all(e.officer_id is not None for e in events if e.actor == "officer")


async def test_a_supervisor_can_change_a_case_claimed_by_another(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.button("sup", f"case:step:{code}:verification")
    assert any("chuyển sang bước" in o["text"] for o in out)


async def test_pass_returns_the_case_to_the_queue(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.button("off1", f"case:pass:{code}")
    assert any(o["chat"] == "grp" and "cán bộ khác nhận" in o["text"] for o in out)
    out = await hsim.button("off2", f"case:claim:{code}", chat="grp")
    assert any("đã có người nhận" in o["text"] for o in out)


async def test_acceptance_flow_in_process(hsim: HotlineSim) -> None:
    """report -> group gets "Nhận xử lý" -> claim -> /theodoi being handled -> close -> closed."""
    await _setup(hsim)
    code, seen = await hsim.report("rep")
    assert any(o["chat"] == "grp" and "Nhận xử lý" in o["buttons"] for o in seen)
    out = await hsim.text("rep", f"/theodoi {code}")
    assert "đã tiếp nhận" in out[0]["text"]
    await hsim.press("off1", "Nhận xử lý", chat="grp")
    out = await hsim.text("rep", f"/theodoi {code.lower()}")
    assert "đang xử lý" in out[0]["text"]
    await hsim.button("off1", f"case:closeok:{code}")
    out = await hsim.text("rep", f"/theodoi {code}")
    assert "đã đóng" in out[0]["text"]


async def test_followup_is_only_for_the_reporter_and_never_shows_notes(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    await hsim.text("off1", f"/ghichu {code} Mẹ của trẻ đã xác nhận sự việc")
    out = await hsim.text("stranger", f"/theodoi {code}")
    assert "Không tìm thấy" in out[0]["text"] and code not in out[0]["text"]
    out = await hsim.text("rep", f"/theodoi {code}")
    assert "xác nhận" not in out[0]["text"]
    out = await hsim.text("rep", "/theodoi")
    assert out[0]["buttons"] == [code]
    out = await hsim.text("stranger", "/theodoi")
    assert "Gõ /theodoi kèm mã tin" in out[0]["text"]


async def test_reporter_adds_information_and_answers_an_officer(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.button("rep", f"track:add:{code}")
    assert "bổ sung" in out[0]["text"]
    out = await hsim.text("rep", "Nhà cháu ở cạnh cây đa đầu thôn")
    assert any(o["chat"] == "off1" and "bổ sung thông tin" in o["text"] for o in out)
    assert all("cây đa" not in o["text"] for o in out)
    out = await hsim.text("off1", f"/nhan {code} Cháu học trường nào?")
    to_rep = [o for o in out if o["chat"] == "rep"]
    assert to_rep and "Cháu học trường nào?" in to_rep[0]["text"]
    assert to_rep[0]["buttons"] == ["Trả lời"]
    out = await hsim.press("rep", "Trả lời")
    out = await hsim.text("rep", "Trường tiểu học của xã")
    assert any(o["chat"] == "off1" and "trả lời" in o["text"] for o in out)
    out = await hsim.text("off1", f"/ca {code}")
    card = out[0]["text"]
    assert "cây đa" in card and "Trường tiểu học của xã" in card and "Cháu học trường nào?" in card
    # The officer never sees who the reporter is.
    assert "rep" not in card.split("Nội dung")[0].replace("report", "")
    # Someone else cannot answer on the reporter's behalf.
    out = await hsim.button("stranger", f"track:reply:{code}")
    assert "Không tìm thấy" in out[0]["text"]


async def test_officer_commands_need_registration(hsim: HotlineSim) -> None:
    for command in ("/ca", "/ghichu BV-7K3Q9X x", "/nhan BV-7K3Q9X x", "/thongke"):
        out = await hsim.text("nobody", command)
        assert "dành cho cán bộ" in out[0]["text"], command
    out = await hsim.text("nobody", "/ca", chat="g")
    assert out == []


async def test_thongke_is_for_supervisors(hsim: HotlineSim) -> None:
    await _setup(hsim)
    await hsim.report("rep")
    out = await hsim.text("off1", "/thongke")
    assert "dành cho lãnh đạo" in out[0]["text"]
    out = await hsim.text("sup", "/thongke")
    assert "tháng 03/2026" in out[0]["text"] and "Tổng số tin báo: 1" in out[0]["text"]


async def test_stat_fields_from_officer_buttons(hsim: HotlineSim) -> None:
    await _setup(hsim)
    code, _ = await hsim.report("rep")
    await hsim.button("off1", f"case:claim:{code}", chat="grp")
    out = await hsim.button("off1", f"case:stat:{code}")
    assert out[0]["buttons"] == ["Nhóm tuổi của trẻ", "Giới tính của trẻ", "Nơi xảy ra", "Người gây hại"]
    out = await hsim.button("off1", f"case:stat:{code}:harmer")
    assert "Cha dượng, mẹ kế" in out[0]["buttons"]
    await hsim.button("off1", f"case:set:{code}:harmer:step_parent")
    await hsim.button("off1", f"case:set:{code}:sex:female")
    await hsim.button("off1", f"case:set:{code}:place:home")
    out = await hsim.button("off1", f"case:set:{code}:sex:robot")
    assert "không áp dụng" in out[0]["text"]
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert (case.harmer_relation, case.child_sex, case.place_kind) == ("step_parent", "female", "home")
        assert case.child_age_group == "6-10"  # from intake
