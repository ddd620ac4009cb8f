"""The channel-neutral core through the in-process simulator (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from handlers.core import resolve_label
from handlers.messages import Inbound
from storage.repositories import outbox as outbox_repo


def texts(out):
    return [o["text"] for o in out if "text" in o]


async def test_greeting_shows_main_menu(sim):
    out = await sim.say("u1", "xin chào")
    assert out[-1]["buttons"] == ["Hỏi đáp", "Báo tin", "Số khẩn cấp"]
    assert out[-1]["to"] == "u1" and out[-1]["chat"] == "u1"


async def test_first_message_of_new_user_greets(sim):
    out = await sim.say("new", "asdfgh qwerty")
    assert "Xin chào" in out[-1]["text"]
    assert out[-1]["buttons"] == ["Hỏi đáp", "Báo tin", "Số khẩn cấp"]


async def test_sos_lists_numbers(sim):
    out = await sim.say("u1", "/sos")
    for number in ("111", "113", "115"):
        assert number in out[-1]["text"]


async def test_press_by_label_number_and_folded_label(sim):
    await sim.say("u1", "/start")
    out = await sim.press("u1", "so khan cap")
    assert "113" in out[-1]["text"]
    await sim.say("u1", "/start")
    out = await sim.press("u1", 3)
    assert "115" in out[-1]["text"]


async def test_fallback_always_shows_111(sim):
    await sim.say("u1", "/start")
    out = await sim.say("u1", "zzqx vbnm")
    assert "111" in out[-1]["text"]


async def test_unknown_command_gets_clear_answer(sim):
    await sim.say("u1", "/start")
    out = await sim.say("u1", "/khonglenhnay")
    assert "/khonglenhnay" in out[-1]["text"]


async def test_sticker_empty_and_edited_get_clear_answers(sim):
    await sim.say("u1", "/start")
    sticker = await sim.send({"from": "u1", "kind": "sticker"})
    assert "chữ" in sticker[-1]["text"]
    empty = await sim.say("u1", "   ")
    assert empty[-1]["text"]
    edited = await sim.send({"from": "u1", "kind": "edited"})
    assert edited[-1]["text"]


async def test_huge_and_binary_text_never_crash(sim):
    await sim.say("u1", "/start")
    out = await sim.say("u1", "a" * 50_000)
    assert out and "text" in out[-1]
    out = await sim.say("u1", "\x00\x01\ufffd\U0001f600" * 100)
    assert out and "text" in out[-1]


async def test_group_chatter_is_ignored_but_commands_answered(sim):
    assert await sim.say("u1", "mọi người ơi chiều nay họp nhé", chat="g1") == []
    out = await sim.say("u1", "/sos", chat="g1")
    assert out[-1]["chat"] == "g1" and "111" in out[-1]["text"]


async def test_repeated_update_is_ignored(sim):
    msg = Inbound(channel="sim", chat_id="u9", user_id="u9", text="/sos", update_id=uuid.uuid4().hex)
    assert await sim.app.core.handle(msg) is True
    assert await sim.app.core.handle(msg) is False
    await sim.app.dispatcher.drain()
    sent = sim.simulator.recorder.take()
    assert len(sent) == 1


async def test_handler_error_gives_safe_reply(sim, monkeypatch):
    from handlers import menu

    async def boom(msg, ctx):
        raise RuntimeError("secret user text must not be logged")

    monkeypatch.setitem(sim.app.router.commands, "/help", boom)
    out = await sim.say("u1", "/help")
    assert "111" in out[-1]["text"]
    assert menu.router  # the module is intact


async def test_bad_sim_lines(sim):
    assert "error" in (await sim.simulator.line("not json"))[0]
    assert "error" in (await sim.send({"from": "u1", "txt": "hi"}))[0]
    assert "error" in (await sim.send({"advance": "soon"}))[0]
    assert "error" in (await sim.send({"from": "u1", "press": "Không có nút này"}))[0]


async def test_outbox_rows_marked_sent(sim):
    await sim.say("u1", "/sos")
    async with sim.app.uow() as uow:
        assert await outbox_repo.pending_count(uow.session) == 0


def test_resolve_label_rules():
    menu = [["Hỏi đáp", "menu:ask"], ["Báo tin", "report:start"], ["Số khẩn cấp", "menu:sos"]]
    assert resolve_label(menu, "Báo tin") == "report:start"
    assert resolve_label(menu, "bao TIN") == "report:start"
    assert resolve_label(menu, "3") == "menu:sos"
    assert resolve_label(menu, "4") is None
    assert resolve_label(menu, "2", numbered=False) is None


def _msg(user: str, text: str) -> Inbound:
    return Inbound(channel="sim", chat_id=user, user_id=user, text=text, update_id=uuid.uuid4().hex)


async def test_messages_arriving_together_share_a_transaction(sim, monkeypatch):
    import asyncio

    from handlers.core import Core

    batches: list[int] = []
    original = Core._handle_batch

    async def spy(self, msgs):
        batches.append(len(msgs))
        return await original(self, msgs)

    monkeypatch.setattr(Core, "_handle_batch", spy)
    users = [f"g{i}" for i in range(6)]
    results = await asyncio.gather(*(sim.app.core.handle(_msg(u, "/sos")) for u in users))
    assert results == [True] * 6
    assert batches and max(batches) > 1  # at least one transaction held several messages
    await sim.app.dispatcher.drain()
    assert sorted(o.chat_id for o in sim.simulator.recorder.take()) == sorted(users)


async def test_a_failing_message_does_not_sink_its_batch(sim, monkeypatch):
    import asyncio

    async def boom(msg, ctx):
        raise RuntimeError("one bad handler")

    monkeypatch.setitem(sim.app.router.commands, "/help", boom)
    msgs = [_msg("h1", "/sos"), _msg("h2", "/help"), _msg("h3", "/sos")]
    results = await asyncio.gather(*(sim.app.core.handle(m) for m in msgs))
    assert results == [True, True, True]
    await sim.app.dispatcher.drain()
    sent = {o.chat_id: o.text for o in sim.simulator.recorder.take()}
    assert set(sent) == {"h1", "h2", "h3"}
    assert "113" in sent["h1"] and "113" in sent["h3"]  # the others were answered normally
    assert "111" in sent["h2"] and sent["h2"] != sent["h1"]  # the safe error answer
    # A redelivery of any of them is recognised: each was recorded exactly once.
    again = await asyncio.gather(*(sim.app.core.handle(m) for m in msgs))
    assert again == [False, False, False]
