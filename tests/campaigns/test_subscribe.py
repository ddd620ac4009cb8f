"""/nhantin and /huynhantin through the simulator."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import User
from storage.models.campaigns import Subscription
from tests.campaigns.conftest import add_communes
from tests.conftest import make_sim


async def _subscription(sim, user: str) -> Subscription | None:
    async with sim.app.uow() as uow:
        return await uow.session.scalar(select(Subscription).where(Subscription.user_key == user))


async def test_subscribe_and_unsubscribe_without_communes(sim):
    out = await sim.say("p1", "/nhantin")
    assert "Đã đăng ký nhận tin" in out[-1]["text"]
    sub = await _subscription(sim, "p1")
    assert sub is not None and sub.active and sub.commune_slug is None and sub.chat_id == "p1"
    again = await sim.say("p1", "/nhantin")
    assert "đang nhận tin rồi" in again[-1]["text"]
    stop = await sim.say("p1", "/huynhantin")
    assert "Đã dừng gửi tin" in stop[-1]["text"]
    sub = await _subscription(sim, "p1")
    assert sub is not None and not sub.active
    twice = await sim.say("p1", "/huynhantin")
    assert "chưa đăng ký" in twice[-1]["text"]
    back = await sim.say("p1", "/nhantin")
    assert "Đã đăng ký nhận tin" in back[-1]["text"]
    assert (await _subscription(sim, "p1")).active


async def test_the_commune_is_asked_and_stored(db_url):
    sim = await make_sim(db_url)
    try:
        await add_communes(sim.app)
        asked = await sim.say("p2", "/nhantin")
        assert "xã, phường nào" in asked[-1]["text"]
        assert asked[-1]["buttons"] == ["Bỏ qua"]
        wrong = await sim.say("p2", "Hà Nội xa lắm")
        assert "Chưa tìm thấy" in wrong[-1]["text"]
        assert await _subscription(sim, "p2") is None
        done = await sim.say("p2", "ia grai")
        assert "Đã đăng ký" in done[-1]["text"] and "Xã Ia Grai" in done[-1]["text"]
        sub = await _subscription(sim, "p2")
        assert sub is not None and sub.commune_slug == "ia-grai"
        async with sim.app.uow() as uow:
            user = await uow.session.scalar(select(User).where(User.user_key == "p2"))
        assert user.commune_slug == "ia-grai"
        # Known commune: the next subscriber-to-be is not asked again after stopping.
        await sim.say("p2", "/huynhantin")
        back = await sim.say("p2", "/nhantin")
        assert "Xã Ia Grai" in back[-1]["text"]
        # Typed with the command, in one go.
        direct = await sim.say("p3", "/nhantin Ia Hrung")
        assert "Xã Ia Hrung" in direct[-1]["text"]
        assert (await _subscription(sim, "p3")).commune_slug == "ia-hrung"
        # Skipping subscribes without a commune.
        await sim.say("p4", "/nhantin")
        skipped = await sim.press("p4", "Bỏ qua")
        assert "Đã đăng ký" in skipped[-1]["text"]
        sub = await _subscription(sim, "p4")
        assert sub is not None and sub.active and sub.commune_slug is None
    finally:
        await sim.app.close()


async def test_unsubscribe_while_asked_clears_the_question(db_url):
    sim = await make_sim(db_url)
    try:
        await add_communes(sim.app)
        await sim.say("p5", "/nhantin")
        out = await sim.say("p5", "/huynhantin")
        assert "chưa đăng ký" in out[-1]["text"]
        # No longer in the commune step: ordinary text gets an ordinary answer.
        later = await sim.say("p5", "ia grai")
        assert "Đã đăng ký" not in later[-1]["text"]
        assert await _subscription(sim, "p5") is None
    finally:
        await sim.app.close()


async def test_groups_are_told_to_write_privately(sim):
    out = await sim.send({"from": "p6", "chat": "g1", "text": "/nhantin"})
    assert "nhắn riêng" in out[-1]["text"]
    assert await _subscription(sim, "p6") is None
