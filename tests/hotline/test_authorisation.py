"""Authorisation in the service layer: an officer of commune A cannot list, view,
note or change a case of commune B; a provincial officer sees their province only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from handlers.hotline import cases as svc
from handlers.hotline.communes import load_communes
from storage.models.hotline import Case, CaseEvent
from tests.hotline.conftest import HotlineSim


@pytest.fixture
async def two_communes(hsim: HotlineSim) -> tuple[HotlineSim, str]:
    """A case in Châu Sơn; officers in Quan Sơn (A) and Châu Sơn (B)."""
    async with hsim.app.uow() as uow:
        await load_communes(uow.session, {"communes": [
            {"slug": "xa-cao-bang", "name": "Xã Thử Nghiệm", "province": "Cao Bằng"}]},
            now=hsim.clock.now())
    await hsim.register("a_off", commune="quan-son")
    await hsim.register("a_sup", commune="quan-son", role="supervisor")
    await hsim.register("b_off", commune="chau-son")
    await hsim.register("prov", commune="tp-lang-son", role="province")
    await hsim.register("other_prov", commune="xa-cao-bang", role="province")
    code, _ = await hsim.report("rep", commune="Châu Sơn")
    return hsim, code


async def _events(hsim: HotlineSim) -> list[str]:
    async with hsim.app.uow() as uow:
        return [e.action for e in (await uow.session.scalars(select(CaseEvent).order_by(CaseEvent.id))).all()]


@pytest.mark.parametrize("who", ["a_off", "a_sup", "other_prov"])
async def test_outsiders_cannot_list_view_note_or_change(two_communes, who: str) -> None:
    hsim, code = two_communes
    out = await hsim.text(who, "/ca")
    assert code not in " ".join(o["text"] for o in out)
    out = await hsim.text(who, f"/ca {code}")
    assert "Không tìm thấy" in out[0]["text"] and "vết bầm" not in out[0]["text"]
    out = await hsim.button(who, f"case:view:{code}")
    assert "Không tìm thấy" in out[0]["text"]
    out = await hsim.text(who, f"/ghichu {code} ghi chú lạ")
    assert "Không tìm thấy" in out[0]["text"]
    out = await hsim.text(who, f"/nhan {code} xin chào")
    assert "Không tìm thấy" in out[0]["text"] and all(o["chat"] != "rep" for o in out)
    for data in (f"case:claim:{code}", f"case:step:{code}:verification", f"case:closeok:{code}",
                 f"case:close:{code}", f"case:pass:{code}", f"case:ref:{code}:police",
                 f"case:sep:{code}:start", f"case:set:{code}:sex:female", f"case:stat:{code}"):
        out = await hsim.button(who, data)
        assert "Không tìm thấy" in out[0]["text"], data
    async with hsim.app.uow() as uow:
        case = await uow.session.scalar(select(Case))
        assert case.claimed_by is None and case.step == "received" and case.child_sex is None
    assert await _events(hsim) == ["created"]


async def test_the_communes_own_officer_and_the_province_can(two_communes) -> None:
    hsim, code = two_communes
    out = await hsim.text("b_off", "/ca")
    assert code in out[0]["text"]
    out = await hsim.text("prov", "/ca")
    assert code in out[0]["text"]
    out = await hsim.text("prov", f"/ca {code}")
    assert "vết bầm" in out[0]["text"]
    out = await hsim.button("b_off", f"case:claim:{code}")
    assert "vết bầm" in out[0]["text"]
    out = await hsim.text("b_off", f"/ghichu {code} đã đến nhà")
    assert "Đã lưu ghi chú" in out[0]["text"]
    # The province may steer a case it can see.
    out = await hsim.button("prov", f"case:step:{code}:verification")
    assert any("chuyển sang bước" in o["text"] for o in out)


async def test_service_layer_refuses_directly(two_communes) -> None:
    """The same checks hold without the chat handlers."""
    hsim, code = two_communes
    cipher = hsim.app.services.extras["cipher"]
    now = hsim.clock.now()
    async with hsim.app.uow() as uow:
        s = uow.session
        actor = await svc.actor_for(s, channel="sim", user_key="a_off")
        assert await svc.list_open(s, actor) == []
        with pytest.raises(svc.NotFound):
            await svc.view(s, actor, code, cipher=cipher, now=now)
        with pytest.raises(svc.NotFound):
            await svc.add_note(s, actor, code, "x", cipher=cipher, now=now)
        with pytest.raises(svc.NotFound):
            await svc.claim(s, actor, code, now=now)
        with pytest.raises(svc.NotFound):
            await svc.close(s, actor, code, now=now)
        prov = await svc.actor_for(s, channel="sim", user_key="prov")
        assert [c.code for c in await svc.list_open(s, prov)] == [code]
        other = await svc.actor_for(s, channel="sim", user_key="other_prov")
        assert await svc.list_open(s, other) == []
